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
//! A started task never leaves its owner worker, so its token is kept on
//! that one thread: it is moved only by the task itself (`park`) and by
//! `wake_local`, which runs on the owner's thread (a task of the same
//! worker, the worker's reactor or timers, or the worker applying a message
//! from its inbox). Every move is a plain load and store.
//!
//! ```text
//!   state      who moves it (always on the owner's thread)     to
//!   ─────────  ─────────────────────────────────────────────  ─────────────────────
//!   EMPTY      wake_local                                      NOTIFIED
//!   EMPTY      park (the task itself), then switches away     PARKED
//!   NOTIFIED   park (the task itself)                          EMPTY (returns at once)
//!   NOTIFIED   wake_local                                      NOTIFIED (nothing to do)
//!   PARKED     wake_local                                      EMPTY, and queues the
//!                                                                task: the run
//!                                                                permission passes
//! ```
//!
//! A resumed task finds EMPTY (or NOTIFIED, from a wake after the one that
//! queued it) and leaves the token alone.
//!
//! A plain park may run its worker's one queued task before it switches
//! out (the direct switch, `Local::direct_switch` in scheduler/worker.rs),
//! between its PARKED store and the switch. A wake of the parker made by
//! that task is the PARKED → EMPTY move above and queues it; back from that
//! task, the parker finds its own entry the only one, takes it (the run
//! permission comes back to it) and runs on, as if resumed.
//!
//! **A wake from any other thread never touches the token.** It sends the
//! task's key and id to the owner's inbox (`Message::Wake`), and the owner
//! applies `wake_local` when it reads the message, if the task with that key
//! in its table still has that id (a task that finished meanwhile needs no
//! wake; the message holds no reference to it). The owner reads its inbox only
//! from its scheduler loop, between two tasks, so the task is not running
//! then: it has parked (the wake queues it) or it is queued (the wake
//! leaves NOTIFIED for its next park). The channel orders the waker's writes
//! (the ball it moved) before the owner's read, and the owner's thread runs
//! the task after that, so the woken task sees them.
//!
//! `wake_pending` keeps at most one such message per task in flight, so a
//! thread that unparks a busy task in a loop cannot fill the inbox. A waker
//! sends only when its swap turns the flag from false to true; the owner
//! swaps it back to false before it applies the wake. Both are
//! read-modify-writes on one flag: a waker whose swap found true is ordered
//! before the owner's swap back, which therefore sees what it wrote.
//!
//! The interleavings, each covered by a test in `tests/park_unpark.rs`:
//!
//! 1. **Wake before park.** A wake made on the owner's thread before the
//!    task reaches `park` leaves NOTIFIED; `park` consumes it and returns
//!    without a switch. A wake from another thread reaches the token only
//!    between tasks: if the task is queued then, it leaves NOTIFIED the same
//!    way; if the task was running, the message waits until the task has
//!    parked and then queues it (interleaving 3), one switch later.
//! 2. **Wake during the switch.** A wake from another thread while the task
//!    is still switching away is a message the owner reads only from its
//!    loop, after the switch has finished: the wake is not lost and the task
//!    is never resumed on its own stack.
//! 3. **Wake after the park.** The wake finds PARKED and is the one (and only
//!    one) that queues the task; a later wake before the task runs sets
//!    NOTIFIED, which the task's next `park` consumes.
//!
//! Go needs compare-and-swaps here (`netpollblock`, `casgstatus`) and a
//! second phase (`netpollblockcommit`, run by the scheduler after the
//! switch), because a `goready` from another thread may run the goroutine on
//! another P at once. netpark does not: only the owner worker resumes a
//! started task, and only from its loop, so the owner's thread alone can
//! keep the token. A wake between two tasks of one worker, the common case
//! (a reactor event, a lock, a ping-pong), costs no atomic read-modify-write.
//!
//! A wake for a task that has not started is dropped: only
//! [`JoinHandle::cancel`](super::JoinHandle::cancel) can reach one, and the
//! task sees the cancel flag at its first wait (the flag store and the
//! owner load in `cancel` pair with the owner store and the flag load of
//! the starting worker, all SeqCst).

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, Thread};
use std::time::Instant;

use super::context::{self, Switch};
use super::{Task, EMPTY, NOTIFIED, PARKED};
use crate::{error, scheduler};

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
    /// A task-aware lock or channel not named below.
    Sync,
    /// A blocking call running on a helper thread (`run_blocking`).
    Blocking,
    /// A channel send (Go's `waitReasonChanSend`).
    ChanSend,
    /// A channel receive (Go's `waitReasonChanReceive`).
    ChanRecv,
    /// `WaitGroup::wait` (Go's `waitReasonSyncWaitGroupWait`).
    WaitGroup,
    /// `Once::call_once` while another caller runs it.
    Once,
    /// A `Select` with no case ready (Go's `waitReasonSelect`).
    Select,
    /// `Mutex::lock` (Go's `waitReasonSyncMutexLock`).
    MutexLock,
    /// `RwLock::read` (Go's `waitReasonSyncRWMutexRLock`).
    RwLockRead,
    /// `RwLock::write` (Go's `waitReasonSyncRWMutexLock`).
    RwLockWrite,
    /// `Condvar::wait` (Go's `waitReasonSyncCondWait`).
    CondWait,
    /// `Notify::notified`.
    Notified,
    /// A read of an `io::pipe` with nothing written (Go's pipe waits in a
    /// channel receive).
    PipeRead,
    /// A write of an `io::pipe` until a reader takes the bytes.
    PipeWrite,
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
            WaitReason::ChanSend => f.write_str("chan send"),
            WaitReason::ChanRecv => f.write_str("chan receive"),
            WaitReason::WaitGroup => f.write_str("sync.WaitGroup.Wait"),
            WaitReason::Once => f.write_str("sync.Once.Do"),
            WaitReason::Select => f.write_str("select"),
            WaitReason::MutexLock => f.write_str("sync.Mutex.Lock"),
            WaitReason::RwLockRead => f.write_str("sync.RWMutex.RLock"),
            WaitReason::RwLockWrite => f.write_str("sync.RWMutex.Lock"),
            WaitReason::CondWait => f.write_str("sync.Cond.Wait"),
            WaitReason::Notified => f.write_str("Notify.notified"),
            WaitReason::PipeRead => f.write_str("io.Pipe read"),
            WaitReason::PipeWrite => f.write_str("io.Pipe write"),
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
    /// A handle that wakes `task`.
    pub(crate) fn for_task(task: Arc<Task>) -> Unparker {
        Unparker(Inner::Task(task))
    }

    /// Wakes the waiter, or makes its next `park` return at once.
    pub fn unpark(&self) {
        match &self.0 {
            Inner::Task(t) => unpark_task(t),
            Inner::Thread(t) => t.unpark(),
        }
    }

    /// [`unpark`](Self::unpark) from the reactor: a task queued on this
    /// thread also gets its first loads started ([`prefetch_resume`]).
    pub(crate) fn unpark_ready(&self) {
        match &self.0 {
            Inner::Task(t) => unpark_task_with(t, true),
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

/// Wakes `task` (Go's `goready`): on its owner's thread at once
/// ([`wake_local`]), from any other thread through the owner's inbox.
pub(crate) fn unpark_task(task: &Task) {
    unpark_task_with(task, false);
}

/// [`unpark_task`], and when the wake queued the task on this thread, starts
/// the loads its resume will need ([`prefetch_resume`]); the reactor's wake.
#[inline(always)]
fn unpark_task_with(task: &Task, prefetch: bool) {
    // A waker that finds a message already in flight has nothing to send.
    if !scheduler::wake_here(task, prefetch) && !task.wake_pending.swap(true, Ordering::AcqRel) {
        scheduler::send_wake(task);
    }
}

/// Lines of a parked task's stack that [`prefetch_resume`] asks for, from
/// the one below the recorded frame address up: the switch's saved words
/// and the frames of the fd wait and of the read or write that called it.
const RESUME_STACK_LINES: usize = 5;

/// Starts loading what a task woken from an fd wait touches first when it
/// runs ([`Task::resume_hint`]): its stack lines at the park and its fd record.
///
/// At 1,000 connections nothing of a parked connection is still in the CPU's
/// caches or TLB, and the resume's first load (the switch's return address on
/// the task's stack) and then the fd's number are each a miss the task waits
/// for in turn; `perf` put a quarter of the server's user time on the first
/// and a tenth on the second. Issued here, in the reactor's wake, the misses
/// of a batch's tasks overlap each other and the tasks queued ahead of them
/// (ARCHITECTURE.md, "User CPU per request").
#[inline(always)]
pub(crate) fn prefetch_resume(task: &Task) {
    let sp = task.resume_hint[0].load(Ordering::Relaxed);
    if sp == 0 {
        return;
    }
    let line = (sp & !63) - 64;
    for i in 0..RESUME_STACK_LINES {
        crate::sys::prefetch::prefetch(line + i * 64);
    }
    let record = task.resume_hint[1].load(Ordering::Relaxed);
    if record != 0 {
        crate::sys::prefetch::prefetch(record);
    }
}

/// The owner's half of a wake: queues the task if it is parked, or leaves
/// NOTIFIED for its next park. Only ever called on the owner worker's
/// thread, with that worker's `queue` as `push`; returns whether it queued.
pub(crate) fn wake_local(task: &Task, push: impl FnOnce(&Task)) -> bool {
    if task.park.load(Ordering::Relaxed) != PARKED {
        task.park.store(NOTIFIED, Ordering::Relaxed);
        return false;
    }
    task.park.store(EMPTY, Ordering::Relaxed);
    task.state.store(super::RUNNABLE, Ordering::Relaxed);
    trace!("wake task {}", task.id);
    push(task);
    true
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
        // Interleaving 1: the wake came first.
        task.park.store(EMPTY, Ordering::Relaxed);
        return task.check_cancelled();
    }
    match deadline {
        // The common case, kept lean: this frame is part of what a parked
        // task's stack holds, and what its wake touches again.
        None => suspend_parked(task, reason, Switch::Park),
        Some(d) => crate::cold(|| park_until(task, reason, d)),
    }
    task.check_cancelled()
}

/// [`park_task`] with a deadline: a timer on the task's worker, disarmed
/// when the task resumes for any reason.
fn park_until(task: &Task, reason: WaitReason, deadline: Instant) {
    if deadline <= Instant::now() {
        return;
    }
    let timer = scheduler::add_timer(deadline, task);
    suspend_parked(task, reason, Switch::Park);
    scheduler::remove_timer(timer);
}

/// Parks the calling task on `reason` and has its worker run `commit` on
/// the worker's own stack after the switch (Go's `gopark(unlockf)`): if the
/// commit returns `false`, the task is resumed at once. No deadline. The
/// caller re-checks what it waits for after this returns (the wake may be
/// a cancel, a stale one, or the commit's refusal).
///
/// # Errors
///
/// [`error::cancelled`] when the task is cancelled.
///
/// # Panics
///
/// Outside a task (callers check [`in_task`] first).
pub(crate) fn park_commit(
    reason: WaitReason,
    commit: &impl context::CommitPark,
    record: usize,
) -> io::Result<()> {
    context::with_current(|task| {
        let task = task.expect("netpark: park_commit outside a task");
        task.check_cancelled()?;
        if task.park.load(Ordering::Relaxed) == NOTIFIED {
            task.park.store(EMPTY, Ordering::Relaxed);
            return task.check_cancelled();
        }
        // For the wake's prefetch: this frame's address stands for the stack
        // pointer the switch will leave (a few words below it).
        let here = 0u8;
        let sp = std::hint::black_box(std::ptr::addr_of!(here)) as usize;
        task.resume_hint[0].store(sp, Ordering::Relaxed);
        task.resume_hint[1].store(record, Ordering::Relaxed);
        suspend_parked(
            task,
            reason,
            Switch::ParkCommit(context::Commit::new(commit)),
        );
        task.check_cancelled()
    })
}

/// Whether the caller runs as a task (not on a plain thread).
pub(crate) fn in_task() -> bool {
    !context::current_ptr().is_null()
}

/// Marks the task parked on `reason` and switches to the worker with `sw`
/// (`Park`, or `ParkCommit` with the commit the worker runs).
#[inline(always)]
fn suspend_parked(task: &Task, reason: WaitReason, sw: Switch) {
    task.set_wait(reason);
    task.state.store(super::PARKED_STATE, Ordering::Relaxed);
    task.park.store(PARKED, Ordering::Relaxed);
    trace!("park task {} on {reason}", task.id);
    // Resumed by the worker, which marks us RUNNING. The wake that queued us
    // left the token EMPTY, or a later one NOTIFIED for our next park:
    // nothing to consume here. A plain park may first run the one task
    // queued here and, woken by it, go on without switching out
    // (`Local::direct_switch`).
    if !(matches!(sw, Switch::Park) && scheduler::direct_switch(task)) {
        context::suspend(sw);
    }
    task.clear_wait();
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
        // SeqCst: pairs with `cancel` (see "A wake for a task that has not
        // started" above).
        if !self.cancelled.load(Ordering::SeqCst) {
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
