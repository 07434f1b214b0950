//! Running a blocking call without blocking the worker.
//!
//! Go hands its P to another thread when a goroutine enters a blocking
//! syscall or cgo call, so the other goroutines keep running. netpark does not
//! move workers between threads; instead a task that must make a call with no
//! non-blocking form (`getaddrinfo`, a slow `stat`) runs it on a helper thread
//! with [`run_blocking`] and parks until it returns, as tokio's
//! `spawn_blocking(...).await` does.
//!
//! # The helper pool
//!
//! Helper threads are shared by the whole process and kept (tokio's blocking
//! pool): a thread that finishes a call waits up to [`KEEP_ALIVE`] for the
//! next one, then exits. A call goes to an idle thread if there is one; when
//! every thread is busy a new one starts, up to [`MAX_THREADS`], beyond which
//! calls wait their turn in the queue.
//!
//! ```text
//!   pool state (under `Pool::state`)   who changes it
//!   ────────────────────────────────   ─────────────────────────────────────
//!   queue += job                       run_blocking; starts a thread when the
//!                                        queue outgrows the idle threads
//!   queue -= job                       a helper thread, which then runs it
//!   idle += 1                          a helper thread, before it wakes the
//!                                        caller of the job it finished, so
//!                                        that caller's next call finds it
//!   idle -= 1                          the same thread, when it takes a job
//!                                        or leaves
//!   threads -= 1                       a helper thread that found no job in
//!                                        KEEP_ALIVE
//! ```
//!
//! A thread looks at the queue under the lock before every wait, so a
//! notification sent while it was not yet waiting is never needed.

use std::collections::VecDeque;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

use super::context;
use super::park::{self, Unparker, WaitReason};

/// How long an idle helper thread waits for a call before it exits (tokio's 10 s).
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);

/// Most helper threads alive at once (tokio's 512); further calls queue.
pub const MAX_THREADS: usize = 512;

/// One call: the closure (which stores its result where its caller looks)
/// and the caller to wake when it has run.
struct Job {
    /// Identifies the job, so a caller can take back a job no thread will run.
    id: u64,
    /// The call; run once, by the helper that pops the job.
    run: Box<dyn FnOnce() + Send>,
    /// The caller, woken by that helper after `run` returns (never under the lock).
    done: Unparker,
}

/// The process-wide helper pool.
struct Pool {
    /// The queue and the thread counts; short critical sections, never held
    /// while a job runs or a caller is woken.
    state: Mutex<PoolState>,
    /// Idle helper threads wait here for a job.
    work: Condvar,
}

struct PoolState {
    /// Calls no thread has taken yet; pushed by `run_blocking`, popped by helpers.
    queue: VecDeque<Job>,
    /// Helper threads alive; raised by `run_blocking` when it starts one,
    /// lowered by a thread that leaves.
    threads: usize,
    /// Helper threads between jobs (waiting, or about to); each thread counts
    /// itself in and out.
    idle: usize,
    /// The next `Job::id`.
    next_id: u64,
}

static POOL: Pool = Pool {
    state: Mutex::new(PoolState {
        queue: VecDeque::new(),
        threads: 0,
        idle: 0,
        next_id: 0,
    }),
    work: Condvar::new(),
};

/// Runs `f` on a helper thread and parks the calling task until it returns;
/// on a plain thread (no task to park) it just calls `f`.
///
/// Helper threads are pooled (see the module docs), so a call costs a queue
/// push and two wake-ups once the pool is warm, and the first call a thread
/// start (tens of µs). It is still meant for calls that block, not for short
/// ones.
///
/// A panic in `f` is re-raised in the caller.
///
/// # Errors
///
/// `Interrupted` ("task cancelled") if the task is cancelled while it waits
/// (the call itself runs on to the end on its thread, and its value is
/// dropped), or the OS error when the pool has no thread and none can be
/// started (`f` is then not run).
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
    submit(
        Box::new(move || {
            let v = panic::catch_unwind(AssertUnwindSafe(f));
            *out.lock() = Some(v);
        }),
        park::current_unparker(),
    )?;
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

/// Queues a job, and starts a helper thread when the queue holds more jobs
/// than there are idle threads to take them.
fn submit(run: Box<dyn FnOnce() + Send>, done: Unparker) -> io::Result<()> {
    let mut st = POOL.state.lock();
    let id = st.next_id;
    st.next_id += 1;
    st.queue.push_back(Job { id, run, done });
    if st.queue.len() <= st.idle || st.threads >= MAX_THREADS {
        drop(st);
        POOL.work.notify_one();
        return Ok(());
    }
    st.threads += 1;
    drop(st);
    let started = thread::Builder::new()
        .name("netpark-blocking".into())
        .spawn(helper);
    if let Err(e) = started {
        let mut st = POOL.state.lock();
        st.threads -= 1;
        if st.threads == 0 {
            // Nobody will ever run it: take it back, so `f` does not run
            // after the caller was told it failed.
            st.queue.retain(|j| j.id != id);
            return Err(e);
        }
        // A thread alive will take it once it is free.
    }
    Ok(())
}

/// A helper thread: runs queued jobs until none comes for [`KEEP_ALIVE`].
fn helper() {
    let mut st = POOL.state.lock();
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            (job.run)();
            POOL.state.lock().idle += 1;
            job.done.unpark();
            st = POOL.state.lock();
            st.idle -= 1;
            continue;
        }
        st.idle += 1;
        let timed_out = POOL.work.wait_for(&mut st, KEEP_ALIVE).timed_out();
        st.idle -= 1;
        if timed_out && st.queue.is_empty() {
            st.threads -= 1;
            return;
        }
    }
}
