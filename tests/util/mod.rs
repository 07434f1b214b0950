//! Helpers shared by the workspace-level end-to-end tests.

#![allow(dead_code)]

use std::sync::mpsc;
use std::time::Duration;

pub const LIMIT: Duration = Duration::from_secs(120);

/// Runs `f` as the first task of a fresh runtime; fails with a task dump
/// instead of hanging past `LIMIT`.
pub fn with_runtime<T: Send + 'static>(
    workers: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let rt = netpark::Runtime::builder()
            .workers(workers)
            .name("e2e")
            .build()
            .expect("runtime starts");
        let _ = tx.send(rt.block_on(f));
    });
    match rx.recv_timeout(LIMIT) {
        Ok(v) => {
            let _ = t.join();
            v
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match t.join() {
            Err(p) => std::panic::resume_unwind(p),
            Ok(()) => unreachable!(),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("test hung; live tasks:\n{}", netpark::dump())
        }
    }
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
