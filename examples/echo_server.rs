//! The echo server: Listen, Accept, one task per connection, 4 KiB buffer.
//!
//! `cargo run --release --example echo_server -- --addr 127.0.0.1:8000 --workers 1`

mod common;

const USAGE: &str = "echo_server: echo every byte back, one task per connection

usage: echo_server [--addr HOST:PORT] [--workers N] [--shared-epoll] [--shared-buffer] [--verbose]

  --addr HOST:PORT   address to listen on (default 127.0.0.1:8000; :0 picks a port)
  --workers N        runtime worker threads (default: one per core)
  --shared-epoll     register every socket in worker 0's epoll (the other reactor shape)
  --shared-buffer    wait in wait_readable() holding no buffer, read into one
                     borrowed from the worker (an idle connection costs less)
  --verbose          print in/out lines per message";

fn main() {
    let flags = common::Flags::parse(USAGE);
    let addr = flags.str("addr", "127.0.0.1:8000");
    let workers: usize = flags.get(
        "workers",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    );
    let verbose = flags.has("verbose");
    let shared = flags.has("shared-buffer");
    // The runtime's warnings (a task holding its worker, accept failing
    // for want of fds) reach stderr.
    common::log_to_stderr(log::LevelFilter::Warn);
    let rt = netpark::Runtime::builder()
        .workers(workers)
        .name("echo")
        .build()
        .unwrap_or_else(|e| {
            eprintln!("echo_server: cannot start runtime: {e}");
            std::process::exit(1);
        });
    rt.block_on(move || {
        let ln = match netpark::net::listen_tcp("tcp", &addr) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("echo_server: {e}");
                std::process::exit(1);
            }
        };
        println!(
            "echo_server listening on {} (pid {}, {workers} worker(s))",
            ln.local_addr().unwrap(),
            std::process::id()
        );
        common::serve(std::sync::Arc::new(ln), verbose, shared);
    });
}
