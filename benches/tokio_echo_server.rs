//! The tokio peer of `examples/echo_server.rs`, for benchmarks only: same shape
//! (current_thread runtime, one task per connection, 4 KiB buffer, TCP_NODELAY).
//!
//! Started by `benches/echo_compare.sh` as
//! `tokio_echo_server --addr 127.0.0.1:8000`; with no `--addr` (as `cargo
//! test --benches` runs it) it exits at once.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    let mut addr = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--addr" => addr = Some(args.next().expect("--addr needs a value")),
            "--bench" => {}
            other => {
                eprintln!("tokio_echo_server: unknown argument {other}");
                std::process::exit(2);
            }
        }
    }
    // Without an address (as `cargo test --benches` runs it) it exits at
    // once, as the other peer binaries do, instead of serving forever.
    let Some(addr) = addr else {
        return;
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let ln = tokio::net::TcpListener::bind(&addr).await.unwrap();
        println!(
            "tokio_echo_server listening on {} (pid {})",
            ln.local_addr().unwrap(),
            std::process::id()
        );
        loop {
            let (mut c, _) = ln.accept().await.unwrap();
            c.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                loop {
                    let n = match c.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    if c.write_all(&buf[..n]).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}
