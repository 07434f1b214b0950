//! Tasks: green threads with their own stacks (Go's goroutines).
//!
//! # Task states
//!
//! ```text
//!   state      who moves it                                      to
//!   ─────────  ────────────────────────────────────────────────  ─────────
//!   RUNNABLE   a worker resumes it                               RUNNING
//!   RUNNING    the task yields                                   RUNNABLE
//!   RUNNING    the task parks and the worker commits (park.rs)   PARKED
//!   PARKED     unpark schedules it (any thread)                  RUNNABLE
//!   RUNNING    its function returns or panics                    DONE
//!   any        the runtime shuts down with the task unfinished   DONE (no result)
//! ```
//!
//! A new task is RUNNABLE but *unstarted*: it has a stack and a boxed function but
//! no coroutine yet, and may still be handed to another worker. The worker that
//! starts it becomes its owner for life (`owner`), because `thread_local!` data
//! borrowed by the task must stay on one OS thread.

pub(crate) mod context;
pub mod park;
pub mod stack;

use std::any::Any;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::RawFd;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::scheduler::{self, Handle, RuntimeShared, WorkerShared};
use park::{Unparker, WaitReason};

/// Park token values (see `park.rs`).
pub(crate) const EMPTY: u8 = 0;
pub(crate) const NOTIFIED: u8 = 1;
pub(crate) const PARKED: u8 = 2;

/// `Task::owner` before the task starts.
pub(crate) const UNSTARTED: usize = usize::MAX;

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

/// The shared header of one task (Go's `g`, minus the stack).
#[derive(Debug)]
pub struct Task {
    /// Unique id; immutable.
    pub(crate) id: u64,
    /// Optional name from the task builder; immutable.
    pub(crate) name: Option<String>,
    /// Usable stack bytes; immutable.
    pub(crate) stack_size: usize,
    /// Park token: EMPTY / NOTIFIED / PARKED; see `park.rs` for who moves it.
    pub(crate) park: AtomicU8,
    /// Lifecycle: RUNNABLE / RUNNING / PARKED_STATE / DONE; informational (dump).
    pub(crate) state: AtomicU8,
    /// Set by `JoinHandle::cancel`; never cleared.
    pub(crate) cancelled: AtomicBool,
    /// How many cancellation errors the task has been given.
    pub(crate) cancel_errors: AtomicU32,
    /// The runtime the task belongs to; immutable.
    pub(crate) runtime: Arc<RuntimeShared>,
    /// Index of the worker that started the task in `runtime.workers`;
    /// `UNSTARTED` until then, written once by that worker.
    pub(crate) owner: AtomicUsize,
    /// Key of the task's coroutine in its owner's slab; written by the owner at start.
    pub(crate) coro_key: AtomicUsize,
    /// Key in the runtime's task table; immutable.
    pub(crate) table_key: usize,
    /// What the task waits on, encoded (`wait_kind`, `wait_arg`); written by the task.
    pub(crate) wait_kind: AtomicU8,
    pub(crate) wait_arg: AtomicU64,
    /// The function has returned (or the runtime gave up on it); set once.
    pub(crate) done: AtomicBool,
    /// Who waits in `join`; taken under this lock by `finish`.
    pub(crate) joiner: Mutex<Option<Unparker>>,
}

/// The zero point for encoding `Instant`s into `wait_arg`.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

impl Task {
    pub(crate) fn new(
        runtime: Arc<RuntimeShared>,
        name: Option<String>,
        stack_size: usize,
        table_key: usize,
    ) -> Task {
        Task {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            name,
            stack_size,
            park: AtomicU8::new(EMPTY),
            state: AtomicU8::new(RUNNABLE),
            cancelled: AtomicBool::new(false),
            cancel_errors: AtomicU32::new(0),
            runtime,
            owner: AtomicUsize::new(UNSTARTED),
            coro_key: AtomicUsize::new(usize::MAX),
            table_key,
            wait_kind: AtomicU8::new(0),
            wait_arg: AtomicU64::new(0),
            done: AtomicBool::new(false),
            joiner: Mutex::new(None),
        }
    }

    pub(crate) fn set_wait(&self, reason: WaitReason) {
        let (kind, arg) = match reason {
            WaitReason::Read(fd) => (1, fd as u64),
            WaitReason::Write(fd) => (2, fd as u64),
            WaitReason::Sleep(t) => (3, t.saturating_duration_since(epoch()).as_nanos() as u64),
            WaitReason::Join(id) => (4, id),
            WaitReason::Sync => (5, 0),
            WaitReason::Other => (6, 0),
        };
        self.wait_arg.store(arg, Ordering::Relaxed);
        self.wait_kind.store(kind, Ordering::Relaxed);
    }

    pub(crate) fn clear_wait(&self) {
        self.wait_kind.store(0, Ordering::Relaxed);
    }

    /// What the task waits on now, if it is parked.
    pub(crate) fn wait_reason(&self) -> Option<WaitReason> {
        let arg = self.wait_arg.load(Ordering::Relaxed);
        Some(match self.wait_kind.load(Ordering::Relaxed) {
            1 => WaitReason::Read(arg as RawFd),
            2 => WaitReason::Write(arg as RawFd),
            3 => WaitReason::Sleep(epoch() + Duration::from_nanos(arg)),
            4 => WaitReason::Join(arg),
            5 => WaitReason::Sync,
            6 => WaitReason::Other,
            _ => return None,
        })
    }

    /// The worker that owns the started task.
    pub(crate) fn owner(&self) -> Option<&Arc<WorkerShared>> {
        self.runtime.workers.get(self.owner.load(Ordering::Acquire))
    }

    /// Marks the task finished and wakes its joiner, outside the joiner lock.
    pub(crate) fn finish(&self) {
        self.state.store(DONE, Ordering::Release);
        self.done.store(true, Ordering::Release);
        let joiner = self.joiner.lock().take();
        if let Some(u) = joiner {
            u.unpark();
        }
    }
}

/// Why [`JoinHandle::join`] did not return the task's value.
pub enum JoinError {
    /// The task panicked; this is the panic payload (as `std::thread::Result`).
    Panicked(Box<dyn Any + Send + 'static>),
    /// The *joining* task was cancelled while it waited.
    Cancelled,
    /// The runtime shut down before the task finished.
    Shutdown,
}

impl JoinError {
    /// Whether the task panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The panic message, when the payload is a string.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JoinError::Panicked(p) => p
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| p.downcast_ref::<String>().map(|s| s.as_str())),
            _ => None,
        }
    }

    /// The panic payload, for `std::panic::resume_unwind`.
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self {
            JoinError::Panicked(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Debug for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JoinError::Panicked(_) => match self.panic_message() {
                Some(m) => write!(f, "task panicked: {m}"),
                None => f.write_str("task panicked"),
            },
            JoinError::Cancelled => f.write_str("join interrupted: task cancelled"),
            JoinError::Shutdown => f.write_str("runtime shut down before the task finished"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Where a finished task's value waits for `join`; written once by the task.
type ResultSlot<T> = Arc<Mutex<Option<std::thread::Result<T>>>>;

/// An owned permission to join a task (wait for it) and to cancel it.
///
/// Dropping the handle detaches the task: it keeps running.
pub struct JoinHandle<T> {
    /// The task's header.
    task: Arc<Task>,
    /// The task's value once it returns.
    result: ResultSlot<T>,
    _marker: PhantomData<T>,
}

impl<T> fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinHandle")
            .field("id", &self.task.id)
            .field("name", &self.task.name)
            .finish()
    }
}

impl<T> JoinHandle<T> {
    /// The task's id.
    pub fn id(&self) -> TaskId {
        TaskId(self.task.id)
    }

    /// The task's name, if it was given one.
    pub fn name(&self) -> Option<&str> {
        self.task.name.as_deref()
    }

    /// Whether the task has finished.
    pub fn is_finished(&self) -> bool {
        self.task.done.load(Ordering::Acquire)
    }

    /// Waits for the task to finish and returns its value (`std::thread::JoinHandle::join`).
    ///
    /// Parks the calling task, or the calling thread outside a task.
    ///
    /// # Errors
    ///
    /// [`JoinError::Panicked`] with the payload when the task panicked,
    /// [`JoinError::Cancelled`] when the joining task is cancelled meanwhile,
    /// [`JoinError::Shutdown`] when the runtime stopped first.
    pub fn join(self) -> Result<T, JoinError> {
        loop {
            if self.task.done.load(Ordering::Acquire) {
                return match self.result.lock().take() {
                    Some(Ok(v)) => Ok(v),
                    Some(Err(p)) => Err(JoinError::Panicked(p)),
                    None => Err(JoinError::Shutdown),
                };
            }
            {
                let mut j = self.task.joiner.lock();
                if self.task.done.load(Ordering::Acquire) {
                    continue;
                }
                *j = Some(park::current_unparker());
            }
            if park::park(WaitReason::Join(self.task.id), None).is_err() {
                self.task.joiner.lock().take();
                return Err(JoinError::Cancelled);
            }
        }
    }

    /// Cancels the task: its current and later blocking waits (I/O, sleep, join)
    /// return `ErrorKind::Interrupted` ("task cancelled"), so it unwinds through
    /// its own error paths. A parked task is woken at once. A task that never
    /// blocks again is not stopped.
    pub fn cancel(&self) {
        self.task.cancelled.store(true, Ordering::Release);
        trace!("cancel task {}", self.task.id);
        park::unpark_task(&self.task);
    }
}

/// The id of the calling task, or `None` on a plain thread.
pub fn current_id() -> Option<TaskId> {
    scheduler::current_task().map(|t| TaskId(t.id))
}

/// The name of the calling task, if it has one.
pub fn current_name() -> Option<String> {
    scheduler::current_task().and_then(|t| t.name.clone())
}

/// Configures a task before spawning it (as `std::thread::Builder`).
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
    stack_size: Option<usize>,
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
    /// The `mmap` error when no stack can be mapped, or `Other` after shutdown.
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
        let result: ResultSlot<T> = Arc::new(Mutex::new(None));
        let slot = result.clone();
        let body = Box::new(move || {
            let r = panic::catch_unwind(AssertUnwindSafe(f));
            if let Err(p) = r {
                if scheduler::forced_unwind() {
                    // The runtime is unwinding this task's stack at shutdown: let
                    // the unwind reach the coroutine's base instead of stopping here.
                    panic::resume_unwind(p);
                }
                *slot.lock() = Some(Err(p));
            } else {
                *slot.lock() = Some(r);
            }
        });
        let task = scheduler::spawn_raw(runtime, self.name, self.stack_size, body)?;
        Ok(JoinHandle {
            task,
            result,
            _marker: PhantomData,
        })
    }
}

/// Spawns a task on the current runtime (Go's `go f()`).
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
