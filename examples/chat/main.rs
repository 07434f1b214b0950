//! A chat server (Go's classic): every line a client sends goes to every
//! other client. A hub task owns the clients and talks to them only
//! through channels (`hub.rs`).
//!
//! `cargo run --release --example chat -- --addr 127.0.0.1:7000`, then
//! `nc 127.0.0.1 7000` in two or more terminals.

#[path = "../common/mod.rs"]
mod common;
mod hub;

const USAGE: &str = "chat: a line from one client goes to every other

usage: chat [--addr HOST:PORT] [--outbox LINES] [--quiet]

  --addr HOST:PORT   address to listen on (default 127.0.0.1:7000)
  --outbox LINES     lines queued for a client before it counts as too slow
                     and is dropped (default 256)
  --quiet            no join/leave lines";

fn main() {
    let flags = common::Flags::parse(USAGE);
    let addr = flags.str("addr", "127.0.0.1:7000");
    let outbox: usize = flags.get("outbox", 256);
    let quiet = flags.has("quiet");
    netpark::run(move || {
        let ln = match netpark::net::listen("tcp", &addr) {
            Ok(ln) => ln,
            Err(e) => {
                eprintln!("chat: {e}");
                std::process::exit(1);
            }
        };
        println!("chat: listening on {}", ln.addr());
        hub::serve(&ln, outbox.max(1), quiet);
    });
}
