//! The echo pair in one process: a server task and a client, over loopback.
//!
//! `cargo run --release --example echo` (flags: `--addr HOST:PORT --conns N
//! --count N --size S --quiet`).

mod common;

use std::sync::atomic::Ordering;
use std::time::Instant;

const USAGE: &str = "echo: run the echo server and client in one process

usage: echo [--addr HOST:PORT] [--conns N] [--count N] [--size S] [--quiet]

  --addr HOST:PORT  where the server listens (default 127.0.0.1:0, any free port)
  --conns N   client connections (default 2)
  --count N   messages per connection (default 3)
  --size S    pad each message to S bytes (default: no padding)
  --quiet     no per-message lines";

fn main() {
    let flags = common::Flags::parse(USAGE);
    let conns: usize = flags.get("conns", 2);
    let count: usize = flags.get("count", 3);
    let size: usize = flags.get("size", 0);
    let print = !flags.has("quiet");
    let listen_addr = flags.str("addr", "127.0.0.1:0");
    // The runtime's warnings reach stderr.
    common::log_to_stderr(log::LevelFilter::Warn);
    let code = netpark::run(move || {
        let ln = match netpark::net::listen_tcp("tcp", &listen_addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("echo: {e}");
                return 1;
            }
        };
        let addr = ln.local_addr().unwrap().to_string();
        println!("server listening on {addr}");
        let ln = std::sync::Arc::new(ln);
        let server_ln = ln.clone();
        let server = netpark::task::Builder::new()
            .name("echo-server")
            .spawn(move || common::serve(server_ln, print, false))
            .expect("spawn server");
        let start = Instant::now();
        let result = common::run_messages(&addr, conns, count, size, print);
        let _ = ln.close();
        let _ = server.join();
        match result {
            Ok(t) => {
                println!(
                    "done: {} messages, {} bytes echoed over {conns} connection(s) in {:?}",
                    t.messages.load(Ordering::Relaxed),
                    t.bytes.load(Ordering::Relaxed),
                    start.elapsed()
                );
                0
            }
            Err(e) => {
                eprintln!("echo: {e}");
                1
            }
        }
    });
    std::process::exit(code);
}
