//! Helpers shared by the runtime's integration tests.

#![allow(dead_code)]

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::mpsc;
use std::time::Duration;

use netpark_runtime::Runtime;

/// Runs `f` on a fresh runtime with `workers` workers, failing the test (with
/// a task dump) instead of hanging if it takes longer than `limit`.
pub fn with_runtime<T: Send + 'static>(
    workers: usize,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    within(limit, move || {
        let rt = Runtime::builder()
            .workers(workers)
            .name("test")
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

/// A non-blocking, close-on-exec pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new fds into the array.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both fds are new and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Asserts `actual` lies in `[min, min + slack]`: timing tests assert a margin.
pub fn assert_elapsed(actual: Duration, min: Duration, slack: Duration) {
    assert!(actual >= min, "took {actual:?}, expected at least {min:?}");
    assert!(
        actual <= min + slack,
        "took {actual:?}, expected at most {:?}",
        min + slack
    );
}

pub const LIMIT: Duration = Duration::from_secs(60);
