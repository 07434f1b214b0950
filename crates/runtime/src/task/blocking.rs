//! Running a blocking call without blocking the worker.
//!
//! Go hands its P to another thread when a goroutine enters a blocking
//! syscall or cgo call, so the other goroutines keep running. netpark does not
//! move workers between threads; instead a task that must make a call with no
//! non-blocking form (`getaddrinfo`, a slow `stat`) runs it on a helper thread
//! with [`run_blocking`] and parks until it returns, as tokio's
//! `spawn_blocking(...).await` does.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;

use parking_lot::Mutex;

use super::context;
use super::park::{self, WaitReason};

/// Runs `f` on a helper thread and parks the calling task until it returns;
/// on a plain thread (no task to park) it just calls `f`.
///
/// Each call starts a thread (tens of µs), so this is for calls that may
/// block for much longer than that, not for short ones.
///
/// A panic in `f` is re-raised in the caller.
///
/// # Errors
///
/// `Interrupted` ("task cancelled") if the task is cancelled while it waits
/// (the call itself runs on to the end on its thread, and its value is
/// dropped), or the OS error when no thread can be started.
pub fn run_blocking<F, T>(f: F) -> io::Result<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    if context::with_current(|t| t.is_none()) {
        return Ok(f());
    }
    let slot: Arc<Mutex<Option<thread::Result<T>>>> = Arc::new(Mutex::new(None));
    let out = slot.clone();
    let me = park::current_unparker();
    thread::Builder::new()
        .name("netpark-blocking".into())
        .spawn(move || {
            let v = panic::catch_unwind(AssertUnwindSafe(f));
            *out.lock() = Some(v);
            me.unpark();
        })?;
    loop {
        // Bind first: the lock guard must not live into `resume_unwind`.
        let done = slot.lock().take();
        match done {
            Some(Ok(v)) => return Ok(v),
            Some(Err(p)) => panic::resume_unwind(p),
            None => park::park(WaitReason::Blocking, None)?,
        }
    }
}
