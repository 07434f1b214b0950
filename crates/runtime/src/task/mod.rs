//! Tasks: green threads with their own stacks (Go's goroutines).
//!
//! # Task states
//!
//! ```text
//!   state      who moves it                                      to
//!   ─────────  ────────────────────────────────────────────────  ─────────
//!   RUNNABLE   a worker resumes it                               RUNNING
//!   RUNNING    the task yields                                   RUNNABLE
//!   RUNNING    the task parks itself (park.rs)                   PARKED
//!   PARKED     a wake queues it (on the owner's thread)           RUNNABLE
//!   RUNNING    its function returns or panics                    DONE
//!   any        the runtime shuts down with the task unfinished   DONE (no value)
//! ```
//!
//! A new task is RUNNABLE but *unstarted*: its coroutine exists (made at spawn,
//! holding the closure) but has never run, and the task may still be handed to
//! another worker. The worker that starts it becomes its owner for life
//! (`owner`), because `thread_local!` data borrowed by the task must stay on one
//! OS thread. Go's names: `_Grunnable`, `_Grunning`, `_Gwaiting`, `_Gdead`.
//!
//! One spawn needs one block, the task header ([`Task`], shared by the
//! scheduler, wakers and the handle, with the [`join`] state and the value
//! inside), and in the steady state not even that: finished headers are reused
//! (Go's `gfree` list). The closure lives on the task's own stack; the stack
//! comes from the worker's pool.

pub mod blocking;
pub(crate) mod context;
pub mod coop;
pub mod join;
pub mod park;
pub mod stack;

use std::fmt;
use std::io;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::scheduler::{self, Handle, RuntimeShared, WorkerShared};
pub use join::{JoinError, JoinHandle};
use park::WaitReason;

/// Park token values (see `park.rs`).
pub(crate) const EMPTY: u8 = 0;
pub(crate) const NOTIFIED: u8 = 1;
pub(crate) const PARKED: u8 = 2;

/// `Task::owner` before the task starts.
pub(crate) const UNSTARTED: u32 = u32::MAX;

/// Lifecycle values (see the module docs).
pub(crate) const RUNNABLE: u8 = 0;
pub(crate) const RUNNING: u8 = 1;
pub(crate) const PARKED_STATE: u8 = 2;
pub(crate) const DONE: u8 = 3;

/// A task's identifier, unique in the process and never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(pub u64);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Ids a thread takes from [`NEXT_ID`] at a time, so most spawns touch no
/// shared counter.
const ID_BLOCK: u64 = 1024;

thread_local! {
    /// This thread's unused ids `[next, end)`.
    static IDS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// A fresh task id: unique in the process, never reused (not ordered across threads).
fn next_id() -> u64 {
    IDS.with(|ids| {
        let (mut next, mut end) = ids.get();
        if next == end {
            next = NEXT_ID.fetch_add(ID_BLOCK, Ordering::Relaxed);
            end = next + ID_BLOCK;
        }
        ids.set((next + 1, end));
        next
    })
}

/// The shared header of one task (Go's `g`).
///
/// `repr(C)`, in the order of the cache lines a request touches (counted
/// from the allocation, which the `Arc` counts start): the first line holds
/// all that a wake reads (the `Arc` count its waiter's handle drops, the
/// flags, `owner`, `key`, `runtime`, the resume hints) and the resume's
/// `state` and `id`; the second holds the coroutine, whose saved stack
/// pointer the resume loads and whose `Yielder` the next park reads; the
/// rest (the wait's argument, the join state, the name, the guard bounds)
/// comes after. That is two lines when the allocation starts one, which
/// glibc gives about 40% of headers (three lines for the rest; ARCHITECTURE.md
/// says why `align(64)` would not help). At 1,000 connections each line a
/// wake touches is a likely cache miss (ARCHITECTURE.md, "User CPU per request");
/// `task_hot_fields_fill_the_first_two_lines` checks the layout.
#[derive(Debug)]
#[repr(C)]
pub struct Task {
    /// Park token: EMPTY / NOTIFIED / PARKED; moved only on the owner
    /// worker's thread, with plain loads and stores (`park.rs`).
    pub(crate) park: AtomicU8,
    /// A wake from another thread is in the owner's inbox and not yet
    /// applied: set by that waker (swap), cleared by the owner (swap), so at
    /// most one such message per task is in flight (`park.rs`). Reset when
    /// the header is reused: a message for a finished task is dropped unread.
    pub(crate) wake_pending: AtomicBool,
    /// Lifecycle: RUNNABLE / RUNNING / PARKED_STATE / DONE; informational (dump).
    pub(crate) state: AtomicU8,
    /// Set by `JoinHandle::cancel`; never cleared.
    pub(crate) cancelled: AtomicBool,
    /// What the task waits on, encoded (`wait_kind`, `wait_arg`); written by the task.
    pub(crate) wait_kind: AtomicU8,
    /// Index of the worker that started the task in `runtime.workers`;
    /// `UNSTARTED` until then, written once (Release) by that worker.
    pub(crate) owner: AtomicU32,
    /// Key in the owner's task table; written once by the owner before `owner`.
    pub(crate) key: AtomicU32,
    /// Unique id; immutable.
    pub(crate) id: u64,
    /// The runtime the task belongs to; immutable.
    pub(crate) runtime: Arc<RuntimeShared>,
    /// Where a task parked in an fd wait will touch memory first when it is
    /// resumed: its stack pointer at the park and the fd record its caller
    /// named (0: none). Written by the task in `park::park_commit`, read by
    /// the reactor's wake to prefetch them (`park::prefetch_resume`); a stale
    /// value (the task parked since for another reason) costs one wasted
    /// prefetch, never a fault.
    pub(crate) resume_hint: [AtomicUsize; 2],
    /// The coroutine; touched only by the holder of the run permission (context.rs).
    pub(crate) coro: context::CoroCell,
    /// The argument of `wait_kind`.
    pub(crate) wait_arg: AtomicU64,
    /// How many cancellation errors the task has been given.
    pub(crate) cancel_errors: AtomicU32,
    /// Usable stack size in pages, for the overflow message; immutable.
    pub(crate) stack_pages: u32,
    /// The joiner and the task's value (join.rs).
    pub(crate) join: join::JoinState,
    /// Optional name from the task builder; immutable.
    pub(crate) name: Option<String>,
    /// The lowest address of the stack's guard page (one page long), for
    /// the overflow handler; immutable.
    pub(crate) guard: usize,
}

/// The zero point for encoding `Instant`s into `wait_arg`.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// A wait reason as the two words `Task` keeps (`wait_kind`, `wait_arg`);
/// kind 0 means "not waiting". [`decode_wait`] is its inverse.
fn encode_wait(reason: WaitReason) -> (u8, u64) {
    match reason {
        WaitReason::Read(fd) => (1, fd as u64),
        WaitReason::Write(fd) => (2, fd as u64),
        WaitReason::Sleep(t) => (3, t.saturating_duration_since(epoch()).as_nanos() as u64),
        WaitReason::Join(id) => (4, id),
        WaitReason::Sync => (5, 0),
        WaitReason::Other => (6, 0),
        WaitReason::Blocking => (7, 0),
        WaitReason::ChanSend => (8, 0),
        WaitReason::ChanRecv => (9, 0),
        WaitReason::WaitGroup => (10, 0),
        WaitReason::Once => (11, 0),
        WaitReason::Select => (12, 0),
        WaitReason::MutexLock => (13, 0),
        WaitReason::RwLockRead => (14, 0),
        WaitReason::RwLockWrite => (15, 0),
        WaitReason::CondWait => (16, 0),
        WaitReason::Notified => (17, 0),
        WaitReason::PipeRead => (18, 0),
        WaitReason::PipeWrite => (19, 0),
    }
}

/// The wait reason [`encode_wait`] made `(kind, arg)` from.
fn decode_wait(kind: u8, arg: u64) -> Option<WaitReason> {
    Some(match kind {
        1 => WaitReason::Read(arg as RawFd),
        2 => WaitReason::Write(arg as RawFd),
        3 => WaitReason::Sleep(epoch() + Duration::from_nanos(arg)),
        4 => WaitReason::Join(arg),
        5 => WaitReason::Sync,
        6 => WaitReason::Other,
        7 => WaitReason::Blocking,
        8 => WaitReason::ChanSend,
        9 => WaitReason::ChanRecv,
        10 => WaitReason::WaitGroup,
        11 => WaitReason::Once,
        12 => WaitReason::Select,
        13 => WaitReason::MutexLock,
        14 => WaitReason::RwLockRead,
        15 => WaitReason::RwLockWrite,
        16 => WaitReason::CondWait,
        17 => WaitReason::Notified,
        18 => WaitReason::PipeRead,
        19 => WaitReason::PipeWrite,
        _ => return None,
    })
}

impl Task {
    fn new(
        runtime: Arc<RuntimeShared>,
        name: Option<String>,
        stack_size: usize,
        guard: (usize, usize),
        coro: context::CoroCell,
    ) -> Task {
        Task {
            id: next_id(),
            name,
            stack_pages: stack::pages(stack_size),
            guard: guard.0,
            park: AtomicU8::new(EMPTY),
            wake_pending: AtomicBool::new(false),
            state: AtomicU8::new(RUNNABLE),
            cancelled: AtomicBool::new(false),
            cancel_errors: AtomicU32::new(0),
            runtime,
            owner: AtomicU32::new(UNSTARTED),
            key: AtomicU32::new(u32::MAX),
            wait_kind: AtomicU8::new(0),
            wait_arg: AtomicU64::new(0),
            resume_hint: [AtomicUsize::new(0), AtomicUsize::new(0)],
            coro,
            join: join::JoinState::new(),
        }
    }

    /// Turns a finished header from the worker's free list into a new task
    /// (Go's `gfget`): same allocation, same runtime, everything else as
    /// [`new`](Self::new) makes it. The pattern names every field, so a field
    /// added to `Task` does not compile until it is reset here too.
    fn reuse(
        &mut self,
        new_name: Option<String>,
        new_stack_size: usize,
        new_guard: (usize, usize),
        new_coro: context::CoroCell,
    ) {
        let Task {
            id,
            name,
            stack_pages,
            guard,
            park,
            wake_pending,
            state,
            cancelled,
            cancel_errors,
            runtime: _,
            owner,
            key,
            wait_kind,
            wait_arg,
            resume_hint,
            coro,
            join,
        } = self;
        *id = next_id();
        *name = new_name;
        *stack_pages = stack::pages(new_stack_size);
        *guard = new_guard.0;
        *park.get_mut() = EMPTY;
        *wake_pending.get_mut() = false;
        *state.get_mut() = RUNNABLE;
        *cancelled.get_mut() = false;
        *cancel_errors.get_mut() = 0;
        *owner.get_mut() = UNSTARTED;
        *key.get_mut() = u32::MAX;
        *wait_kind.get_mut() = 0;
        *wait_arg.get_mut() = 0;
        *resume_hint = [AtomicUsize::new(0), AtomicUsize::new(0)];
        *coro = new_coro;
        join.reset();
    }

    pub(crate) fn set_wait(&self, reason: WaitReason) {
        let (kind, arg) = encode_wait(reason);
        self.wait_arg.store(arg, Ordering::Relaxed);
        self.wait_kind.store(kind, Ordering::Relaxed);
    }

    pub(crate) fn clear_wait(&self) {
        self.wait_kind.store(0, Ordering::Relaxed);
    }

    /// What the task waits on now, if it is parked.
    pub(crate) fn wait_reason(&self) -> Option<WaitReason> {
        decode_wait(
            self.wait_kind.load(Ordering::Relaxed),
            self.wait_arg.load(Ordering::Relaxed),
        )
    }

    /// The worker that owns the started task.
    pub(crate) fn owner(&self) -> Option<&Arc<WorkerShared>> {
        self.runtime
            .workers
            .get(self.owner.load(Ordering::Acquire) as usize)
    }
}

/// The id of the calling task, or `None` on a plain thread.
pub fn current_id() -> Option<TaskId> {
    context::with_current(|t| t.map(|t| TaskId(t.id)))
}

/// The name of the calling task, if it has one.
pub fn current_name() -> Option<String> {
    context::with_current(|t| t.and_then(|t| t.name.clone()))
}

/// Configures a task before spawning it (as `std::thread::Builder`).
#[derive(Debug, Default, Clone)]
pub struct Builder {
    /// The task's name, for `dump()`, trace lines and the overflow message.
    name: Option<String>,
    /// Usable stack bytes; the runtime's default when `None`.
    stack_size: Option<usize>,
    /// Start on the spawner's worker and never be stolen.
    same_worker: bool,
}

impl Builder {
    /// A builder with the runtime's defaults.
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task (shown by `dump()`, in trace lines and in the overflow message).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Sets the usable stack size in bytes (rounded up to whole pages).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the task on the worker of the task that spawns it, and never
    /// lets another worker steal it, so the two share a thread for life.
    ///
    /// A plain [`spawn`](Self::spawn) spreads new tasks over the workers (an
    /// accept loop keeps every core busy), and a started task never changes
    /// threads, so two tasks that wake each other all the time may end up on
    /// two workers, where each wake crosses CPUs (about 600 ns a hop here,
    /// against about 35 ns on one worker). Tasks spawned with this stay
    /// together, as tokio's scheduler keeps a woken task on its waker's
    /// thread. The task goes to the back of the worker's queue, where idle
    /// peers do not steal it; only the monitor's hand-off moves it, when a
    /// task holds the worker too long. Spawned from outside a worker of the
    /// runtime, it goes to one worker chosen in turn and stays there.
    pub fn same_worker(mut self) -> Builder {
        self.same_worker = true;
        self
    }

    /// Spawns on the current runtime.
    ///
    /// # Errors
    ///
    /// `Other` when called outside a runtime (use [`spawn_on`](Self::spawn_on)),
    /// or the `mmap` error when no stack can be mapped.
    pub fn spawn<F, T>(self, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_in(None, f)
    }

    /// Spawns on the runtime of `handle`, from any thread.
    ///
    /// # Errors
    ///
    /// The `mmap` error when no stack can be mapped. On a runtime that has
    /// shut down the task never runs and `join` returns
    /// [`JoinError::Shutdown`].
    pub fn spawn_on<F, T>(self, handle: &Handle, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn_in(Some(&handle.shared), f)
    }

    /// Spawns on `runtime`, or on the current worker's runtime for `None`.
    fn spawn_in<F, T>(self, runtime: Option<&Arc<RuntimeShared>>, f: F) -> io::Result<JoinHandle<T>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let body = move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            match r {
                // The runtime is unwinding this task's stack at shutdown: let
                // the unwind reach the coroutine's base instead of stopping
                // here (the worker then abandons the join, see join.rs).
                Err(p) if scheduler::forced_unwind() => panic::resume_unwind(p),
                r => context::with_current(|t| match t {
                    Some(t) => t.join.complete(r),
                    // The same unwind, caught by the task's own code (a
                    // server's `catch_unwind` around its handlers), which
                    // then ran to its end: nobody is current during the
                    // unwind, and the worker abandons the join.
                    None if scheduler::forced_unwind() => drop(r),
                    None => unreachable!("a task body runs as the current task"),
                }),
            }
        };
        let task = scheduler::spawn_raw(
            runtime,
            self.name,
            self.stack_size,
            self.same_worker,
            |shared, free, name, stack| {
                let size = stack.size();
                let guard = stack.guard();
                let coro = context::CoroCell::new(stack, body);
                match free {
                    Some(mut t) => {
                        Arc::get_mut(&mut t)
                            .expect("free-list headers are unique")
                            .reuse(name, size, guard, coro);
                        t
                    }
                    None => Arc::new(Task::new(shared.clone(), name, size, guard, coro)),
                }
            },
        )?;
        Ok(JoinHandle {
            task,
            _value: std::marker::PhantomData,
        })
    }
}

/// Spawns a task on the current runtime (Go's `go f()`). During shutdown
/// (from a destructor of a task being unwound) the task never runs and its
/// `join` returns [`JoinError::Shutdown`].
///
/// # Panics
///
/// Outside a runtime, or when no stack can be mapped; use [`Builder::spawn`] or
/// [`Handle::spawn`](crate::Handle::spawn) to get an error instead.
pub fn spawn<F, T>(f: F) -> JoinHandle<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    match Builder::new().spawn(f) {
        Ok(h) => h,
        Err(e) => panic!("{e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wait_reason_survives_its_encoding() {
        let at = epoch() + Duration::from_millis(1500);
        let all = [
            WaitReason::Read(7),
            WaitReason::Write(9),
            WaitReason::Sleep(at),
            WaitReason::Join(42),
            WaitReason::Sync,
            WaitReason::Other,
            WaitReason::Blocking,
            WaitReason::ChanSend,
            WaitReason::ChanRecv,
            WaitReason::WaitGroup,
            WaitReason::Once,
            WaitReason::Select,
            WaitReason::MutexLock,
            WaitReason::RwLockRead,
            WaitReason::RwLockWrite,
            WaitReason::CondWait,
            WaitReason::Notified,
            WaitReason::PipeRead,
            WaitReason::PipeWrite,
        ];
        let mut kinds = std::collections::HashSet::new();
        for r in all {
            let (kind, arg) = encode_wait(r);
            assert!(kind != 0 && kinds.insert(kind), "{r:?}: kind {kind} taken");
            assert_eq!(decode_wait(kind, arg), Some(r));
        }
        assert_eq!(decode_wait(0, 0), None);
    }

    /// The type's docs: counted from the `Arc` allocation (16 bytes of
    /// counts, then the header), what a wake reads ends within the first
    /// 64 bytes and the coroutine fills the next 64; the header stays in
    /// its allocator class (at most 248 bytes with the counts, of 256).
    #[test]
    fn task_hot_fields_fill_the_first_two_lines() {
        let rt = crate::Runtime::builder().workers(1).build().unwrap();
        rt.block_on(|| {
            context::with_current(|t| {
                let t = t.unwrap();
                let arc = t as *const Task as usize - 2 * std::mem::size_of::<usize>();
                let end = |p: usize, len: usize| p + len - arc;
                let wake = [
                    end(std::ptr::addr_of!(t.park) as usize, 1),
                    end(std::ptr::addr_of!(t.state) as usize, 1),
                    end(std::ptr::addr_of!(t.cancelled) as usize, 1),
                    end(std::ptr::addr_of!(t.owner) as usize, 4),
                    end(std::ptr::addr_of!(t.key) as usize, 4),
                    end(std::ptr::addr_of!(t.id) as usize, 8),
                    end(std::ptr::addr_of!(t.runtime) as usize, 8),
                    end(std::ptr::addr_of!(t.resume_hint) as usize, 16),
                ];
                assert!(wake.iter().all(|&e| e <= 64), "{wake:?}");
                let coro = std::ptr::addr_of!(t.coro) as usize - arc;
                let coro_end = coro + std::mem::size_of::<context::CoroCell>();
                assert!(
                    64 <= coro && coro_end <= 128,
                    "coroutine at {coro}..{coro_end}"
                );
            });
        });
        assert!(std::mem::size_of::<Task>() <= 232);
    }

    #[test]
    fn an_fd_wait_leaves_resume_hints_in_its_stack_and_at_its_record() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let rt = crate::Runtime::builder().workers(1).build().unwrap();
        rt.block_on(|| {
            let (a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
            a.set_nonblocking(true).unwrap();
            let pd = crate::PollDesc::open(a.as_raw_fd()).unwrap();
            let writer = crate::spawn(move || {
                crate::sleep(Duration::from_millis(20)).unwrap();
                b.write_all(b"x").unwrap();
                b
            });
            let record = 0u64;
            pd.wait_until_for(crate::Mode::Read, None, &record).unwrap();
            let (sp, at, stack) = context::with_current(|t| {
                let t = t.unwrap();
                (
                    t.resume_hint[0].load(Ordering::Relaxed),
                    t.resume_hint[1].load(Ordering::Relaxed),
                    stack::usable(t),
                )
            });
            assert!(
                stack.0 <= sp && sp < stack.1,
                "the stack hint {sp:#x} lies in the task's stack {stack:x?}"
            );
            assert_eq!(at, std::ptr::addr_of!(record) as usize);
            drop(writer.join().unwrap());
            pd.close();
        });
    }
}
