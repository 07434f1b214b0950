//! Joining a task: the handle, its error, and the join state in the task header
//! that the task's value travels in.
//!
//! # The join state
//!
//! Part of the task header, so a spawn allocates nothing for it. A state word
//! says who may touch the joiner's [`Unparker`] and the value; no lock.
//!
//! ```text
//!   state     who moves it                                          to
//!   ────────  ────────────────────────────────────────────────────  ────────
//!   RUNNING   the joiner stores its Unparker, then CAS              WAITING
//!   RUNNING   the task stores its value, then swap (complete)       DONE
//!   RUNNING   the runtime gives up on the task, swap (abandon)      DONE
//!   WAITING   complete or abandon: swap, see WAITING, take the      DONE
//!             Unparker and wake the joiner
//!   WAITING   the joiner is cancelled: CAS, then clears its         RUNNING
//!             Unparker
//! ```
//!
//! The joiner touches `joiner` only in RUNNING, complete/abandon only after its
//! swap saw WAITING; the task writes the value only before its swap, the
//! joiner reads it only after seeing DONE. DONE with no value means the task
//! never finished: the runtime calls `abandon` when it drops an unstarted task
//! (`context::NewTask`) or unwinds a parked one at shutdown, and the joiner
//! gets [`JoinError::Shutdown`].
//!
//! The value (`std::thread::Result<T>`) is stored in four words inside the
//! header when it fits, else boxed there; a function pointer remembers how to
//! drop a value nobody joined.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::marker::PhantomData;
use std::mem::{self, MaybeUninit};
use std::ptr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;

use super::park::{self, Unparker, WaitReason};
use super::{Task, TaskId};
use crate::scheduler;

const RUNNING: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;

/// Room for a task's value inside its header.
type Inline = MaybeUninit<[usize; 4]>;

/// Whether a `V` is stored in [`Inline`] itself (else a `Box<V>` is).
const fn fits<V>() -> bool {
    mem::size_of::<V>() <= mem::size_of::<Inline>()
        && mem::align_of::<V>() <= mem::align_of::<Inline>()
}

/// Drops the `V` stored in `slot` (the type-erased destructor).
///
/// # Safety
///
/// `slot` holds a `V` written by [`JoinState::complete`] and not yet read.
unsafe fn drop_value<V>(slot: *mut Inline) {
    // SAFETY: forwarded from the caller.
    drop(unsafe { read_value::<V>(slot) });
}

/// # Safety
///
/// As [`drop_value`]; the value is moved out.
unsafe fn read_value<V>(slot: *mut Inline) -> V {
    if fits::<V>() {
        // SAFETY: a V was written at the start of the slot (it fits and is aligned).
        unsafe { ptr::read(slot.cast::<V>()) }
    } else {
        // SAFETY: a Box<V> was written there instead.
        *unsafe { ptr::read(slot.cast::<Box<V>>()) }
    }
}

/// The join half of a task header (see the module docs).
pub(crate) struct JoinState {
    /// RUNNING / WAITING / DONE.
    state: AtomicU8,
    /// The joiner's wake-up; see the table for who may touch it.
    joiner: UnsafeCell<Option<Unparker>>,
    /// The task's `thread::Result<T>`, or a box of it; valid while `drop_fn` is set.
    value: UnsafeCell<Inline>,
    /// How to drop the stored value; `None` when there is none. Written by the
    /// task before DONE, cleared by the joiner when it takes the value.
    drop_fn: UnsafeCell<Option<unsafe fn(*mut Inline)>>,
}

// SAFETY: the state word gives `joiner`, `value` and `drop_fn` one owner at a
// time, with an AcqRel edge at each hand-over (module docs). Values are only
// stored by `complete::<T>` for tasks spawned with `T: Send`.
unsafe impl Sync for JoinState {}
// SAFETY: as above; the stored value is `Send`.
unsafe impl Send for JoinState {}

impl fmt::Debug for JoinState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JoinState")
            .field("state", &self.state.load(Ordering::Relaxed))
            .finish()
    }
}

impl JoinState {
    pub(crate) fn new() -> JoinState {
        JoinState {
            state: AtomicU8::new(RUNNING),
            joiner: UnsafeCell::new(None),
            value: UnsafeCell::new(MaybeUninit::uninit()),
            drop_fn: UnsafeCell::new(None),
        }
    }

    /// Back to a fresh state for a reused header (nobody else refers to it).
    pub(crate) fn reset(&mut self) {
        self.drop_stored();
        *self.joiner.get_mut() = None;
        *self.state.get_mut() = RUNNING;
    }

    fn drop_stored(&mut self) {
        if let Some(f) = self.drop_fn.get_mut().take() {
            // SAFETY: `drop_fn` is set only together with a value of its type
            // in `value`, and `&mut self` means nobody else touches either.
            unsafe { f(self.value.get()) };
        }
    }

    /// Stores the task's value and releases the joiner. Called once, by the
    /// task itself as its last act.
    pub(crate) fn complete<T: Send>(&self, v: thread::Result<T>) {
        if self.state.load(Ordering::Acquire) == DONE {
            return;
        }
        type V<T> = thread::Result<T>;
        // SAFETY: the state is not DONE and only this task moves it there, so
        // the joiner does not read `value` or `drop_fn` yet.
        unsafe {
            let slot = self.value.get();
            if fits::<V<T>>() {
                ptr::write(slot.cast::<V<T>>(), v);
            } else {
                ptr::write(slot.cast::<Box<V<T>>>(), Box::new(v));
            }
            *self.drop_fn.get() = Some(drop_value::<V<T>>);
        }
        self.publish();
    }

    /// Releases the joiner of a task that will never finish.
    pub(crate) fn abandon(&self) {
        self.publish();
    }

    fn publish(&self) {
        if self.state.swap(DONE, Ordering::AcqRel) == WAITING {
            // SAFETY: our swap saw WAITING, so the joiner stored its Unparker and
            // will not touch it again (its cancel CAS from WAITING now fails).
            let joiner = unsafe { (*self.joiner.get()).take() };
            if let Some(u) = joiner {
                u.unpark();
            }
        }
    }

    fn is_done(&self) -> bool {
        self.state.load(Ordering::Acquire) == DONE
    }
}

impl Drop for JoinState {
    fn drop(&mut self) {
        self.drop_stored();
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

/// An owned permission to join a task (wait for it) and to cancel it.
///
/// Dropping the handle detaches the task: it keeps running.
pub struct JoinHandle<T> {
    /// The task's header, which holds its join state.
    pub(crate) task: Arc<Task>,
    /// The value's type; the handle never holds a `T` itself (`join` moves
    /// one out, which `spawn`'s `T: Send` bound makes sound on any thread).
    pub(crate) _value: PhantomData<fn() -> T>,
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

    /// Whether the task has finished (or will never run, after shutdown).
    pub fn is_finished(&self) -> bool {
        self.task.join.is_done()
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
        let js = &self.task.join;
        if !js.is_done() {
            // SAFETY: in RUNNING only the joiner touches `joiner`, and this
            // handle (consumed by `join`) is the only joiner. If the task moves
            // the state to DONE meanwhile, it does not read the field.
            unsafe { *js.joiner.get() = Some(park::current_unparker()) };
            if js
                .state
                .compare_exchange(RUNNING, WAITING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                loop {
                    let parked = park::park(WaitReason::Join(self.task.id), None);
                    if js.is_done() {
                        break;
                    }
                    if parked.is_err()
                        && js
                            .state
                            .compare_exchange(WAITING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    {
                        // SAFETY: back in RUNNING, the task will not read it.
                        unsafe { *js.joiner.get() = None };
                        return Err(JoinError::Cancelled);
                    }
                }
            }
        }
        // SAFETY: the state is DONE (Acquire): the task's writes of `value` and
        // `drop_fn` happened before, it never touches them again, and this
        // handle is the only reader. A set `drop_fn` means a `thread::Result<T>`
        // is stored (spawn made this handle with the task's own `T`).
        let value = unsafe {
            (*js.drop_fn.get())
                .take()
                .map(|_| read_value::<thread::Result<T>>(js.value.get()))
        };
        scheduler::recycle(self.task);
        match value {
            Some(Ok(v)) => Ok(v),
            Some(Err(p)) => Err(JoinError::Panicked(p)),
            None => Err(JoinError::Shutdown),
        }
    }

    /// Cancels the task: its current and later blocking waits (I/O, sleep, join)
    /// return `ErrorKind::Interrupted` ("task cancelled"), so it unwinds through
    /// its own error paths. A parked task is woken at once. A task that never
    /// blocks again is not stopped.
    pub fn cancel(&self) {
        // SeqCst: pairs with the start of a task (task/park.rs).
        self.task.cancelled.store(true, Ordering::SeqCst);
        trace!("cancel task {}", self.task.id);
        park::unpark_task(&self.task);
    }
}
