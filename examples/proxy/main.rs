//! A TCP proxy: each direction is one `netpark::io::copy`, spliced socket
//! to socket, so the bytes never enter user space.
//!
//! `cargo run --release --example proxy -- --listen 127.0.0.1:9000 --upstream 127.0.0.1:8000 [--workers N] [--idle-timeout SECS] [--quiet]`

#[path = "../common/mod.rs"]
mod common;
mod relay;

use std::sync::Arc;
use std::time::Duration;

const USAGE: &str = "proxy: relay TCP connections to an upstream, zero-copy

usage: proxy --listen HOST:PORT --upstream HOST:PORT [--workers N] [--idle-timeout SECS] [--quiet]

  --listen HOST:PORT     address to accept on
  --upstream HOST:PORT   where each connection is relayed
  --workers N            runtime worker threads (default: one per core)
  --idle-timeout SECS    close a connection idle both ways this long (default: never)
  --quiet                no per-connection lines";

fn main() {
    let flags = common::Flags::parse(USAGE);
    if !flags.has("listen") || !flags.has("upstream") {
        eprintln!("proxy: --listen and --upstream are required\n\n{USAGE}");
        std::process::exit(2);
    }
    let listen = flags.str("listen", "");
    let idle: f64 = flags.get("idle-timeout", 0.0);
    let cfg = Arc::new(relay::Config {
        upstream: flags.str("upstream", ""),
        idle: (idle > 0.0).then(|| Duration::from_secs_f64(idle)),
        dial_timeout: Duration::from_secs(10),
    });
    let workers: usize = flags.get(
        "workers",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    if !flags.has("quiet") {
        common::log_to_stderr(log::LevelFilter::Info);
    }
    let rt = netpark::Runtime::builder()
        .workers(workers.max(1))
        .name("proxy")
        .build()
        .unwrap_or_else(|e| {
            eprintln!("proxy: cannot start runtime: {e}");
            std::process::exit(1);
        });
    let result = rt.block_on(move || {
        let ln = netpark::net::listen_tcp("tcp", &listen)?;
        println!(
            "proxy: {} -> {} ({workers} worker(s))",
            ln.local_addr()?,
            cfg.upstream
        );
        relay::serve(ln, cfg)
    });
    if let Err(e) = result {
        eprintln!("proxy: {e}");
        std::process::exit(1);
    }
}
