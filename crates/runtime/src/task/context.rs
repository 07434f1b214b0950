//! The stack switch: a task's coroutine, the pointer to the task running on this
//! thread, and suspending it.
//!
//! One of the three unsafe islands. `corosensei` does the architecture-specific
//! register save/restore; this file keeps the rules that make touching a
//! coroutine from a shared task header sound.
//!
//! # The run permission
//!
//! A task's coroutine lives in its shared header ([`CoroCell`]), but at any
//! moment only one party may touch it: the holder of the task's *run
//! permission*. The permission is created with the task and travels with it:
//!
//! ```text
//!   holder                               how it gets the permission
//!   ───────────────────────────────────  ──────────────────────────────────────────
//!   the spawner                          creates the task (coroutine not started)
//!   one queue entry (runnext,            the spawner, a stealer or the monitor's
//!     unstarted)                           hand-off moves the unstarted task there
//!   the worker that pops the entry       pops it; for a started task only the
//!                                          owner worker ever holds an entry
//!   a parking task of that worker        pops the queue's only entry in a direct
//!                                          switch (`Local::direct_switch`), on the
//!                                          owner's thread, and resumes it from its
//!                                          own stack; never nested
//!   the task's park token (PARKED)       the task parked (task/park.rs)
//!   the owner's wake that finds PARKED   it pushes one entry to the owner's queue
//!                                          (on the owner's thread, task/park.rs)
//! ```
//!
//! Every hand-over is a move of a queue entry or happens on the owner's
//! thread, so two parties never hold the permission at once. A started coroutine is only ever resumed
//! by its owner worker, on the owner's thread (it is `!Send` for that reason);
//! an unstarted one holds only the task's `Send` closure, so it may move to the
//! worker that starts it.

use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::ptr;
use std::sync::atomic::{AtomicPtr, Ordering};
use std::sync::Arc;

use corosensei::{Coroutine, CoroutineResult, Yielder};

use super::stack::Stack;
use super::Task;

/// What a task tells its worker when it switches away.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Switch {
    /// Go to the back of the run queue (`yield_now`).
    Yield,
    /// The task has parked itself (task/park.rs); the worker does nothing more.
    Park,
    /// The task has marked itself parked; the worker runs the commit on its
    /// own stack, and resumes the task at once if the commit says so
    /// (Go's `gopark(unlockf)`).
    ParkCommit(Commit),
}

/// The second half of a park that the worker runs after the switch, on its
/// own stack (Go's `unlockf`, run by `park_m` on g0): typically "queue the
/// task as a waiter, unless what it waits for is here already". Running it
/// there keeps the frames of that work off the task's stack, which a
/// parked task holds until its next resume; at 1,000 connections every
/// 64 bytes of them is one more cold cache line per wake.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Commit {
    /// The commit's data, in the parked task's frame.
    data: *const (),
    /// `CommitPark::commit` for the data's type.
    run: unsafe fn(*const (), &Arc<Task>) -> bool,
}

/// What a [`Commit`] does: returns `false` when the task must not stay
/// parked (the worker resumes it at once).
pub(crate) trait CommitPark {
    fn commit(&self, task: &Arc<Task>) -> bool;
}

impl Commit {
    /// A commit of `data`, which must stay where it is until the task resumes.
    pub(crate) fn new<T: CommitPark>(data: &T) -> Commit {
        /// # Safety
        ///
        /// `d` is the `&T` that `new` took, still alive.
        unsafe fn run<T: CommitPark>(d: *const (), task: &Arc<Task>) -> bool {
            // SAFETY: by the caller's promise `d` points at a live `T`.
            unsafe { (*d.cast::<T>()).commit(task) }
        }
        Commit {
            data: (data as *const T).cast(),
            run: run::<T>,
        }
    }

    /// Runs the commit on the worker, right after `task` switched out with it.
    pub(crate) fn run(self, task: &Arc<Task>) -> bool {
        // SAFETY: the data lives in the frame of the task that suspended
        // with this commit (`park::park_commit` takes it by reference and
        // does not return before the task resumes), and that task is
        // suspended now, so the frame is intact.
        unsafe { (self.run)(self.data, task) }
    }
}

/// A task's coroutine: resumed with `()`, yields a [`Switch`], returns when the task ends.
pub(crate) type Coro = Coroutine<(), Switch, (), Stack>;

type TaskYielder = Yielder<(), Switch>;

/// A task's coroutine and its `Yielder`, inside the shared task header.
pub(crate) struct CoroCell {
    /// The coroutine; `None` once the task finished. Only the holder of the
    /// run permission touches it.
    coro: UnsafeCell<Option<Coro>>,
    /// The coroutine's `Yielder`, which lives at the base of the task's own
    /// stack; stored by the task when it starts, read by the task in [`suspend`].
    yielder: AtomicPtr<TaskYielder>,
}

// SAFETY: the coroutine is only touched by the holder of the run permission (see
// the module docs), one party at a time with a happens-before edge (a channel
// send, a queue move on one thread, or an AcqRel swap) between holders. It
// crosses threads only before it starts, when its stack holds nothing but the
// task's closure, which is `Send`; corosensei documents that a coroutine whose
// stack data is all `Send` may be sent.
unsafe impl Send for CoroCell {}
// SAFETY: as above: shared references never touch the coroutine without the run
// permission; `yielder` is an atomic.
unsafe impl Sync for CoroCell {}

impl std::fmt::Debug for CoroCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CoroCell")
    }
}

impl CoroCell {
    /// Builds the (unstarted) coroutine that runs `body` on `stack`.
    pub(crate) fn new<F: FnOnce() + Send + 'static>(stack: Stack, body: F) -> CoroCell {
        let coro = Coroutine::with_stack(stack, move |y: &TaskYielder, ()| {
            with_current(|t| {
                let t = t.expect("netpark: a coroutine started outside its worker");
                t.coro.yielder.store(
                    y as *const TaskYielder as *mut TaskYielder,
                    Ordering::Relaxed,
                );
            });
            body();
        });
        CoroCell {
            coro: UnsafeCell::new(Some(coro)),
            yielder: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Runs the coroutine until it suspends or returns.
    ///
    /// # Safety
    ///
    /// The caller holds the task's run permission, on the owner worker's thread
    /// if the coroutine has started, with `CURRENT` set to this task.
    ///
    /// Inlined into the worker loop and the direct switch alike: called,
    /// it cost the echo server 19 instructions a request.
    #[inline(always)]
    pub(crate) unsafe fn resume(&self) -> CoroutineResult<Switch, ()> {
        // SAFETY: the caller holds the run permission, so nobody else touches the cell.
        let coro = unsafe { &mut *self.coro.get() };
        coro.as_mut()
            .expect("netpark: resuming a finished task")
            .resume(())
    }

    /// Takes the coroutine out (when the task finished, or at shutdown).
    ///
    /// # Safety
    ///
    /// As [`resume`](Self::resume); the coroutine is not running.
    pub(crate) unsafe fn take(&self) -> Option<Coro> {
        // SAFETY: the caller holds the run permission, so nobody else touches the cell.
        unsafe { (*self.coro.get()).take() }
    }
}

thread_local! {
    /// The task running on this thread; null between tasks and on threads that
    /// are not workers. Set by the worker around each resume, only while its task
    /// table holds an `Arc` of the task. Const-initialised: reading it is one
    /// load, and the overflow handler may read it.
    static CURRENT: Cell<*const Task> = const { Cell::new(ptr::null()) };
}

/// Makes `task` the running task of this thread (null: none).
///
/// The worker calls this right around [`CoroCell::resume`], and keeps an
/// `Arc` of the task alive for as long as the pointer is set.
pub(crate) fn set_current(task: *const Task) {
    CURRENT.with(|c| c.set(task));
}

/// The raw pointer to the running task (for the overflow handler).
pub(crate) fn current_ptr() -> *const Task {
    CURRENT.try_with(|c| c.get()).unwrap_or(ptr::null())
}

/// Runs `f` with the task running on this thread, if any. No reference count
/// is touched.
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&Task>) -> R) -> R {
    let p = CURRENT.with(|c| c.get());
    // SAFETY: a non-null CURRENT points at the running task, which the worker's
    // table keeps alive until the task's coroutine returns; `f` runs on that
    // task's stack (or in its coroutine's prologue), so before that return, and
    // the borrow cannot outlive `f`.
    f(unsafe { p.as_ref() })
}

/// An owned reference to a task known only by its header's address.
///
/// # Safety
///
/// `p` is `Arc::as_ptr` of a task header that some `Arc` keeps alive for
/// the duration of this call (a worker's table holds every started task).
pub(crate) unsafe fn task_arc(p: *const Task) -> Arc<Task> {
    // SAFETY: by the caller's promise the strong count is at least one, so
    // adding one for the new Arc is sound and balanced by its drop.
    unsafe {
        Arc::increment_strong_count(p);
        Arc::from_raw(p)
    }
}

/// The `Arc` of a task known only by its header's address, borrowed: no
/// reference count is touched, and dropping the result does nothing.
///
/// # Safety
///
/// `p` is `Arc::as_ptr` of a task header that some `Arc` keeps alive for as
/// long as the result is used (a worker's table holds every started task
/// until it ends).
pub(crate) unsafe fn borrow_task(p: *const Task) -> ManuallyDrop<Arc<Task>> {
    // SAFETY: by the caller's promise `p` came from `Arc::as_ptr` and the
    // strong count stays at least one while the result is used; the
    // `ManuallyDrop` never gives back the count it did not take.
    ManuallyDrop::new(unsafe { Arc::from_raw(p) })
}

/// An owned reference to the running task, if any.
pub(crate) fn current_task() -> Option<Arc<Task>> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return None;
    }
    // SAFETY: `p` is `Arc::as_ptr` of the Arc the worker's table holds while
    // CURRENT is set (see `with_current`), so the strong count is at least one
    // and adding one for the new Arc is balanced by its drop.
    unsafe {
        Arc::increment_strong_count(p);
        Some(Arc::from_raw(p))
    }
}

/// Switches from the running task back to its worker.
///
/// # Panics
///
/// Outside a task ("netpark: suspend outside a task"); callers check first.
pub(crate) fn suspend(sw: Switch) {
    let y = with_current(|t| t.map_or(ptr::null_mut(), |t| t.coro.yielder.load(Ordering::Relaxed)));
    assert!(!y.is_null(), "netpark: suspend outside a task");
    // SAFETY: `y` was stored by the running task when it started; the Yielder
    // lives at the base of that task's stack, which is alive because this code
    // runs on it, and a started task never changes threads.
    unsafe { (*y).suspend(sw) };
}

/// The queue entry of an unstarted task: whoever holds it holds the task's
/// run permission. Starting the task takes the header out; dropping the entry
/// instead (at shutdown, in a queue or an inbox) means the task will never
/// run, so the drop drops the coroutine (the closure) and abandons the join:
/// the joiner is told `Shutdown` rather than left waiting on a header its
/// handle keeps alive.
#[derive(Debug)]
pub(crate) struct NewTask(Option<Arc<Task>>);

impl NewTask {
    pub(crate) fn new(task: Arc<Task>) -> NewTask {
        NewTask(Some(task))
    }

    /// Hands the task to the worker that starts it.
    pub(crate) fn start(mut self) -> Arc<Task> {
        self.0
            .take()
            .expect("a NewTask holds its task until started")
    }
}

/// A one-entry slot holding an unstarted task, that any thread may take from
/// (a worker's `runnext`, Go's `p.runnext`).
///
/// ```text
///   empty ──put (owner: a spawn)──► full ──take (owner: pop; monitor: hand-off)──► empty
///   full ──put (owner)──► full, returning the task it displaced
/// ```
///
/// Only the owner worker puts; the owner and the monitor take. Each move is
/// one atomic swap of the pointer, so a task taken by the monitor in the same
/// instant as the owner pops it goes to exactly one of them: the slot holds
/// the task's run permission, and a swap hands it over whole.
#[derive(Debug, Default)]
pub(crate) struct NewTaskSlot {
    /// `Arc::into_raw` of the held task, or null; every access is a swap,
    /// except the owner's plain load that skips an empty slot.
    ptr: AtomicPtr<Task>,
}

impl NewTaskSlot {
    /// Puts `t` in the slot and returns the task it held before.
    pub(crate) fn put(&self, t: NewTask) -> Option<NewTask> {
        let raw = Arc::into_raw(t.start()).cast_mut();
        Self::wrap(self.ptr.swap(raw, Ordering::AcqRel))
    }

    /// Takes the task out, if any.
    #[inline]
    pub(crate) fn take(&self) -> Option<NewTask> {
        if self.ptr.load(Ordering::Relaxed).is_null() {
            return None;
        }
        Self::wrap(self.ptr.swap(ptr::null_mut(), Ordering::AcqRel))
    }

    /// Whether the slot holds a task (a hint: another thread may take it).
    pub(crate) fn is_full(&self) -> bool {
        !self.ptr.load(Ordering::Acquire).is_null()
    }

    fn wrap(raw: *mut Task) -> Option<NewTask> {
        if raw.is_null() {
            return None;
        }
        // SAFETY: every non-null pointer in the slot came from `Arc::into_raw`
        // in `put`, and the swap that returned it removed it from the slot, so
        // this is the only `from_raw` for that `into_raw`.
        Some(NewTask::new(unsafe { Arc::from_raw(raw) }))
    }
}

impl Drop for NewTaskSlot {
    fn drop(&mut self) {
        // An unstarted task left here abandons its joiner (NewTask's drop).
        drop(self.take());
    }
}

impl std::ops::Deref for NewTask {
    type Target = Task;
    fn deref(&self) -> &Task {
        self.0
            .as_ref()
            .expect("a NewTask holds its task until started")
    }
}

impl Drop for NewTask {
    fn drop(&mut self) {
        if let Some(t) = self.0.take() {
            // SAFETY: this entry is the unstarted task's run permission, and
            // it is being dropped, so the coroutine never ran and nobody else
            // touches it; dropping an unstarted coroutine only drops its closure.
            drop(unsafe { t.coro.take() });
            t.state.store(super::DONE, Ordering::Release);
            t.join.abandon();
        }
    }
}
