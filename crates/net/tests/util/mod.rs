//! Helpers shared by the net crate's integration tests.

#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::Duration;

use netpark_net::TcpListener;
use netpark_runtime::Runtime;

pub const LIMIT: Duration = Duration::from_secs(60);

/// Runs `f` as the first task of a fresh runtime; fails with a task dump
/// instead of hanging past `LIMIT`.
pub fn with_runtime<T: Send + 'static>(
    workers: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    within(LIMIT, move || {
        let rt = Runtime::builder()
            .workers(workers)
            .name("nettest")
            .build()
            .expect("runtime starts");
        rt.block_on(f)
    })
}

/// Runs `f` on a helper thread; panics with a task dump if it overruns `limit`.
pub fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => {
            let _ = t.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!("sender dropped without sending"),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!(
                "test hung for {limit:?}; live tasks:\n{}",
                netpark_runtime::dump()
            )
        }
    }
}

/// A listener on an ephemeral loopback port.
pub fn local_listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Asserts that an error has the kind and message Go would give.
pub fn assert_err(e: &io::Error, kind: io::ErrorKind, text: &str) {
    assert_eq!(e.kind(), kind, "kind of {e}");
    assert!(e.to_string().contains(text), "expected {text:?} in {e:?}");
}

/// Asserts the fd is non-blocking and close-on-exec.
pub fn assert_nonblocking_cloexec(fd: std::os::fd::RawFd) {
    // SAFETY: F_GETFL/F_GETFD on a live fd.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    let fdfl = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(fl & libc::O_NONBLOCK != 0, "fd {fd} is blocking");
    assert!(fdfl & libc::FD_CLOEXEC != 0, "fd {fd} lacks FD_CLOEXEC");
}

/// Number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}
