//! The echo client, and a load generator.
//!
//! Message mode (default): each connection sends `hello world! <random>`
//! messages and checks every echo, printing `out`/`in` lines like Go's example.
//! Load mode (`--secs T`): N connections in ping-pong for T seconds; prints
//! requests/s, p50/p99 latency and, with `--server-pid`, the server's CPU time
//! per request.

mod common;

use std::time::{Duration, Instant};

const USAGE: &str = "echo_client: talk to an echo server

usage: echo_client [--addr HOST:PORT] [--conns N] [--count N] [--size S] [--quiet]
       echo_client --secs T [--addr HOST:PORT] [--conns N] [--size S] [--server-pid PID] [--workers N]

  --addr HOST:PORT    server address (default 127.0.0.1:8000)
  --conns N           connections (default 1; load mode 100)
  --count N           messages per connection in message mode (default 5)
  --size S            message size in bytes (message mode: pad to S; load mode default 64)
  --quiet             no per-message lines
  --secs T            load mode: run for T seconds
  --server-pid PID    load mode: report the server's CPU time per request
  --workers N         client runtime worker threads (default 1)";

fn main() {
    let flags = common::Flags::parse(USAGE);
    let addr = flags.str("addr", "127.0.0.1:8000");
    let workers: usize = flags.get("workers", 1);
    let rt = netpark::Runtime::builder()
        .workers(workers)
        .name("client")
        .build()
        .unwrap_or_else(|e| {
            eprintln!("echo_client: cannot start runtime: {e}");
            std::process::exit(1);
        });
    let code = rt.block_on(move || {
        if flags.has("secs") {
            load(&flags, &addr)
        } else {
            messages(&flags, &addr)
        }
    });
    std::process::exit(code);
}

fn messages(flags: &common::Flags, addr: &str) -> i32 {
    let conns: usize = flags.get("conns", 1);
    let count: usize = flags.get("count", 5);
    let size: usize = flags.get("size", 0);
    let start = Instant::now();
    match common::run_messages(addr, conns, count, size, !flags.has("quiet")) {
        Ok(t) => {
            println!(
                "done: {} messages, {} bytes echoed over {conns} connection(s) in {:?}",
                t.messages.load(std::sync::atomic::Ordering::Relaxed),
                t.bytes.load(std::sync::atomic::Ordering::Relaxed),
                start.elapsed()
            );
            0
        }
        Err(e) => {
            eprintln!("echo_client: {e}");
            1
        }
    }
}

fn load(flags: &common::Flags, addr: &str) -> i32 {
    let conns: usize = flags.get("conns", 100);
    let secs: f64 = flags.get("secs", 5.0);
    let size: usize = flags.get("size", 64);
    let pid: Option<u32> = flags.has("server-pid").then(|| flags.get("server-pid", 0));
    let cpu0 = pid.map(|p| common::cpu_time(p).unwrap_or_default());
    let r = match common::run_load(addr, conns, secs, size) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("echo_client: {e}");
            return 1;
        }
    };
    let rps = r.requests as f64 / r.elapsed.as_secs_f64();
    let mut line = format!(
        "load: conns={conns} size={size} requests={} secs={:.2} rps={rps:.0} p50_us={} p99_us={}",
        r.requests,
        r.elapsed.as_secs_f64(),
        r.p50.as_micros(),
        r.p99.as_micros()
    );
    if let (Some(p), Some(c0)) = (pid, cpu0) {
        let used = common::cpu_time(p).unwrap_or_default().since(c0);
        let per = |d: Duration| d.as_nanos() as f64 / 1000.0 / r.requests.max(1) as f64;
        line.push_str(&format!(
            " server_cpu_us_per_req={:.3} server_user_us_per_req={:.3} server_sys_us_per_req={:.3}",
            per(used.total()),
            per(used.user),
            per(used.system)
        ));
    }
    println!("{line}");
    0
}
