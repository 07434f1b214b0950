//! Helpers shared by the workspace-level end-to-end tests.

#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

pub const LIMIT: Duration = Duration::from_secs(120);

#[path = "../../crates/runtime/tests/util/within.rs"]
mod within;
pub use within::within;

/// Runs `f` as the first task of a fresh runtime; fails with a task dump
/// instead of hanging past `LIMIT`.
pub fn with_runtime<T: Send + 'static>(
    workers: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    within(LIMIT, move || {
        netpark::Runtime::builder()
            .workers(workers)
            .name("e2e")
            .build()
            .expect("runtime starts")
            .block_on(f)
    })
}

/// Raises the soft fd limit to the hard limit (a 1,000-connection test needs
/// about 2,000 fds in one process).
pub fn raise_fd_limit() {
    // SAFETY: getrlimit/setrlimit with a valid struct.
    unsafe {
        let mut l: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < l.rlim_max {
            l.rlim_cur = l.rlim_max.min(65536);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

/// Starts `server` on a runtime of its own (one worker) on a background
/// thread, listening on an ephemeral loopback port; returns the address.
/// The server lives until the test process ends.
pub fn serve_http(server: netpark::http::Server) -> std::net::SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rt = netpark::Runtime::builder()
            .workers(1)
            .name("http-test")
            .build()
            .expect("runtime starts");
        rt.block_on(move || {
            let ln = netpark::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            tx.send(ln.local_addr().unwrap()).unwrap();
            let _ = server.serve(ln);
        });
    });
    rx.recv().expect("server started")
}

/// Runs curl with `args` (`-s` and a 20 s limit added); its stdout.
pub fn curl(args: &[&str]) -> Vec<u8> {
    let out = std::process::Command::new("curl")
        .args(["-s", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl runs (the Debian package curl; .ci/run installs it)");
    out.stdout
}

/// A response as curl printed it with `-i`: status, header text, body.
pub fn curl_i(args: &[&str]) -> (u16, String, Vec<u8>) {
    let mut a = vec!["-i"];
    a.extend_from_slice(args);
    let out = curl(&a);
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header in curl's output");
    let head = String::from_utf8_lossy(&out[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status line");
    (status, head, out[split + 4..].to_vec())
}

/// Sends raw bytes on a new connection and reads until the server closes
/// it or `limit` passes: what came back.
pub fn raw_exchange(addr: std::net::SocketAddr, request: &[u8], limit: Duration) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(request).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

/// Deterministic pseudo-random bytes (xorshift), so a copy that drops,
/// repeats or reorders any byte is caught.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}
