//! `park` / `unpark`: the only way anything in netpark waits (Go's `gopark` /
//! `goready`), for tasks and for plain threads alike.
//!
//! Any wait queue (an fd's waiter slot, a join, a lock, a timer) stores an
//! [`Unparker`] for the waiter, drops its lock, and calls [`park`]; whoever
//! satisfies the wait takes the `Unparker` out under its lock, drops the lock,
//! and calls [`Unparker::unpark`]. A wake-up is a hint, not a promise: every
//! caller of `park` re-checks its own condition in a loop, so spurious wake-ups
//! (a timer, a deadline change, a cancel) are harmless.
//!
//! # The park token of a task
//!
//! ```text
//!   state      who moves it                                   to
//!   ─────────  ─────────────────────────────────────────────  ─────────────────────
//!   EMPTY      unpark (any thread): CAS                        NOTIFIED
//!   EMPTY      park (the task itself): CAS, then switches away PARKED
//!   NOTIFIED   park (the task itself): swap                    EMPTY (returns at once)
//!   NOTIFIED   unpark: CAS to the same value                   NOTIFIED (nothing to do)
//!   PARKED     unpark: CAS                                     EMPTY, and schedules the
//!                                                                task: the run
//!                                                                permission passes
//! ```
//!
//! A resumed task finds EMPTY (or NOTIFIED, from a wake after the one that
//! scheduled it) and leaves the token alone.
//!
//! **Every move is a read-modify-write, never a plain store** (a plain load
//! may only pick which move to try; the move re-reads). A wake is a write of
//! the waker's (the ball moved) followed by its move on the token; the woken
//! task moves the token and then reads the waker's write. If either side
//! moved with a plain store, or skipped its move after a plain load, the
//! CPU's store buffer could let each side read the other's old value (the
//! store-buffering pattern): the task consumes the token with a store still sitting in its
//! buffer and reads the old ball, while the waker sees the old NOTIFIED and
//! does nothing; the task parks again and nobody wakes it. A read-modify-write
//! on both sides puts the two in one order on the token, and the later one
//! reads what the earlier one published. (An earlier version consumed with a
//! load and a store and lost a wake in about one run in three of 200,000 hops
//! across workers: `no_wake_is_lost_between_tasks_on_different_workers`.)
//!
//! The interleavings, each covered by a test in `tests/park_unpark.rs`:
//!
//! 1. **Wake before park.** `unpark` runs before the task reaches `park`: the
//!    token is NOTIFIED, `park` consumes it and returns without a switch.
//! 2. **Wake during the switch.** `unpark` on another thread sees PARKED while
//!    the task is still switching away: it queues the task in its owner's
//!    inbox, which the owner reads only from its scheduler loop, after the
//!    switch has finished. The wake is not lost and the task is never resumed
//!    on its own stack.
//! 3. **Wake after the park.** `unpark` moves PARKED→EMPTY and is the one
//!    (and only one) that schedules the task; a later unpark before the task
//!    runs sets NOTIFIED, which the task's next `park` consumes.
//!
//! Go needs a second phase here (`netpollblockcommit`, run by the scheduler
//! after the switch) because a `goready` from another thread may run the
//! goroutine on another P at once. netpark does not: only the owner worker
//! resumes a started task, and only from its loop, so the task may publish
//! PARKED itself, with one CAS, before it switches.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::Instant;

use super::context::{self, Switch};
use super::{Task, EMPTY, NOTIFIED, PARKED};
use crate::{error, scheduler, stats};

/// What a parked task is waiting for, shown by `netpark::dump()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitReason {
    /// Readable fd.
    Read(RawFd),
    /// Writable fd.
    Write(RawFd),
    /// A timer.
    Sleep(Instant),
    /// Another task to finish (its id).
    Join(u64),
    /// A task-aware lock or channel.
    Sync,
    /// A blocking call running on a helper thread (`run_blocking`).
    Blocking,
    /// Anything else.
    Other,
}

impl std::fmt::Display for WaitReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WaitReason::Read(fd) => write!(f, "read fd {fd}"),
            WaitReason::Write(fd) => write!(f, "write fd {fd}"),
            WaitReason::Sleep(until) => write!(
                f,
                "sleep until +{:?}",
                until.saturating_duration_since(Instant::now())
            ),
            WaitReason::Join(id) => write!(f, "join task {id}"),
            WaitReason::Sync => f.write_str("lock or channel"),
            WaitReason::Blocking => f.write_str("blocking call on a helper thread"),
            WaitReason::Other => f.write_str("unpark"),
        }
    }
}

/// A handle that wakes one parked task or thread.
#[derive(Debug, Clone)]
pub struct Unparker(Inner);

#[derive(Debug, Clone)]
enum Inner {
    Task(Arc<Task>),
    Thread(Thread),
}

impl Unparker {
    /// Wakes the waiter, or makes its next `park` return at once.
    pub fn unpark(&self) {
        match &self.0 {
            Inner::Task(t) => unpark_task(t),
            Inner::Thread(t) => t.unpark(),
        }
    }

    /// Whether both handles wake the same waiter.
    pub fn same(&self, other: &Unparker) -> bool {
        self.id() == other.id()
    }

    /// Who this handle wakes.
    pub fn id(&self) -> WaiterId {
        match &self.0 {
            Inner::Task(t) => WaiterId::Task(Arc::as_ptr(t) as usize),
            Inner::Thread(t) => WaiterId::Thread(t.id()),
        }
    }
}

/// Who an [`Unparker`] wakes, as a plain value. A wait queue that has handed
/// its `Unparker` to the queue finds its own entry again by this, instead of
/// keeping a second `Unparker` (a reference-count increment and decrement on
/// every wait).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaiterId {
    /// A task, by the address of its header (live while it waits).
    Task(usize),
    /// A plain thread.
    Thread(thread::ThreadId),
}

/// The `Unparker` of the caller: its task, or its thread outside a task.
pub fn current_unparker() -> Unparker {
    match context::current_task() {
        Some(t) => Unparker(Inner::Task(t)),
        None => Unparker(Inner::Thread(thread::current())),
    }
}

/// The [`WaiterId`] of the caller, without touching a reference count.
pub fn current_waiter_id() -> WaiterId {
    match context::current_ptr() {
        p if p.is_null() => WaiterId::Thread(thread::current().id()),
        p => WaiterId::Task(p as usize),
    }
}

/// Wakes `task` (Go's `goready`): the unpark half of the protocol above.
pub(crate) fn unpark_task(task: &Arc<Task>) {
    let mut seen = task.park.load(Ordering::Relaxed);
    loop {
        // NOTIFIED is written again rather than left alone: see "Every move
        // is a read-modify-write" above.
        let next = if seen == PARKED { EMPTY } else { NOTIFIED };
        match task
            .park
            .compare_exchange_weak(seen, next, Ordering::AcqRel, Ordering::Relaxed)
        {
            Ok(_) => break,
            Err(now) => seen = now,
        }
    }
    if seen == PARKED {
        stats::count(|c| c.wakes.add(1));
        trace!("wake task {}", task.id);
        scheduler::schedule(task);
    }
}

/// Suspends the caller until it is unparked or `deadline` passes (Go's `gopark`).
///
/// Inside a task the task switches away and its worker runs others; outside a
/// task the thread parks. The return does not say why it woke: callers loop on
/// their own condition.
///
/// # Errors
///
/// [`error::cancelled`] (`Interrupted`) when the task has been cancelled, before
/// or during the wait. A task that keeps waiting after many cancellation errors
/// (a loop that retries on `Interrupted`, as `read_exact` does) is unwound with
/// a panic instead, so cancellation can never spin forever.
///
/// [`error::shut_down`] at once for a wait made by a destructor while the
/// runtime unwinds the task at shutdown: nothing would ever wake it (the
/// worker itself is running the destructor).
pub fn park(reason: WaitReason, deadline: Option<Instant>) -> io::Result<()> {
    context::with_current(|task| match task {
        Some(task) => park_task(task, reason, deadline),
        None if scheduler::forced_unwind() => Err(error::shut_down()),
        None => {
            park_thread(deadline);
            Ok(())
        }
    })
}

fn park_thread(deadline: Option<Instant>) {
    match deadline {
        None => thread::park(),
        Some(d) => {
            let now = Instant::now();
            if d > now {
                thread::park_timeout(d - now);
            }
        }
    }
}

fn park_task(task: &Task, reason: WaitReason, deadline: Option<Instant>) -> io::Result<()> {
    task.check_cancelled()?;
    if task.park.load(Ordering::Relaxed) == NOTIFIED {
        // Interleaving 1: the wake came first. Consume it with a swap (only
        // the task leaves NOTIFIED, so it returns NOTIFIED), never a store.
        task.park.swap(EMPTY, Ordering::Acquire);
        return task.check_cancelled();
    }
    if deadline.is_some_and(|d| d <= Instant::now()) {
        return Ok(());
    }
    task.set_wait(reason);
    let timer = deadline.map(|d| scheduler::add_timer(d, task));
    task.state.store(super::PARKED_STATE, Ordering::Relaxed);
    if task
        .park
        .compare_exchange(EMPTY, PARKED, Ordering::AcqRel, Ordering::Acquire)
        .is_ok()
    {
        stats::count(|c| c.parks.add(1));
        trace!("park task {} on {reason}", task.id);
        // Resumed by the worker, which marks us RUNNING. The unpark that
        // scheduled us left the token EMPTY, or a later one NOTIFIED for our
        // next park: nothing to consume here.
        context::suspend(Switch::Park);
    } else {
        // A wake arrived between the load above and the CAS.
        task.state.store(super::RUNNING, Ordering::Relaxed);
        task.park.swap(EMPTY, Ordering::Acquire);
    }
    if let Some(key) = timer {
        scheduler::remove_timer(key);
    }
    task.clear_wait();
    task.check_cancelled()
}

/// Lets other tasks run; the caller goes to the back of its worker's queue.
/// Outside a task it yields the thread.
pub fn yield_now() {
    if context::with_current(|t| t.is_some()) {
        context::suspend(Switch::Yield);
    } else {
        thread::yield_now();
    }
}

/// Returns `Err` when the current task has been cancelled (always `Ok` outside a task).
pub fn check_cancelled() -> io::Result<()> {
    context::with_current(|t| t.map_or(Ok(()), Task::check_cancelled))
}

impl Task {
    /// Err(cancelled) once cancelled; unwinds after too many (see [`park`]).
    pub(crate) fn check_cancelled(&self) -> io::Result<()> {
        if !self.cancelled.load(Ordering::Acquire) {
            return Ok(());
        }
        const MAX_CANCEL_ERRORS: u32 = 1000;
        if self.cancel_errors.fetch_add(1, Ordering::Relaxed) >= MAX_CANCEL_ERRORS {
            panic!(
                "netpark: task {} kept waiting after {MAX_CANCEL_ERRORS} \"task cancelled\" errors; unwinding it",
                self.id
            );
        }
        Err(error::cancelled())
    }
}
