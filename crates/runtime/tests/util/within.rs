//! `within`: the one guard every test suite's helpers use against a hang.
//! Kept here and included with `#[path]` by the net crate's and the
//! workspace's `tests/util`, so the three suites share one copy.

use std::sync::mpsc;
use std::time::Duration;

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
