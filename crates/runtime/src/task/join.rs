//! Joining a task: the handle, its error, and the cell the task's value travels in.
//!
//! # The join cell
//!
//! One allocation per task holds the join state, the joiner's [`Unparker`] and
//! the value. No lock: the state word says who may touch the other two fields.
//!
//! ```text
//!   state     who moves it                                         to
//!   ────────  ───────────────────────────────────────────────────  ────────
//!   RUNNING   the joiner stores its Unparker, then CAS             WAITING
//!   RUNNING   the completer stores the value, then swap            DONE
//!   WAITING   the completer stores the value, swaps, sees WAITING, DONE
//!             takes the Unparker and wakes the joiner
//!   WAITING   the joiner is cancelled: CAS, then clears its        RUNNING
//!             Unparker
//! ```
//!
//! The joiner touches `joiner` only in RUNNING, the completer only after its
//! swap saw WAITING; the completer writes `value` only before its swap, the
//! joiner reads it only after seeing DONE. The completer is a drop guard owned
//! by the task's closure, so a task that never finishes (its coroutine dropped
//! at shutdown, unstarted or unwound) still moves the cell to DONE, with no
//! value: its joiner gets [`JoinError::Shutdown`] instead of waiting forever.

use std::any::Any;
use std::cell::UnsafeCell;
use std::fmt;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::thread;

use super::park::{self, Unparker, WaitReason};
use super::{Task, TaskId};
use crate::scheduler;

const RUNNING: u8 = 0;
const WAITING: u8 = 1;
const DONE: u8 = 2;

/// Where a task's value waits for `join` (see the module docs).
pub(crate) struct JoinCell<T> {
    /// RUNNING / WAITING / DONE.
    state: AtomicU8,
    /// The joiner's wake-up; see the table for who may touch it.
    joiner: UnsafeCell<Option<Unparker>>,
    /// The task's value or panic; `None` after DONE means it never finished.
    value: UnsafeCell<Option<thread::Result<T>>>,
}

// SAFETY: the state word gives `joiner` and `value` one owner at a time, with
// an AcqRel edge at each hand-over (module docs). The value crosses from the
// task's thread to the joiner's, hence `T: Send`.
unsafe impl<T: Send> Sync for JoinCell<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for JoinCell<T> {}

impl<T> JoinCell<T> {
    pub(crate) fn new() -> Arc<JoinCell<T>> {
        Arc::new(JoinCell {
            state: AtomicU8::new(RUNNING),
            joiner: UnsafeCell::new(None),
            value: UnsafeCell::new(None),
        })
    }
}

/// The task's side of the cell: set the value, and publish it when dropped.
pub(crate) struct Completer<T>(pub(crate) Arc<JoinCell<T>>);

impl<T> Completer<T> {
    /// Stores the task's value (published when the completer drops).
    pub(crate) fn set(&self, v: thread::Result<T>) {
        // SAFETY: before the swap in `drop`, only the completer touches `value`.
        unsafe { *self.0.value.get() = Some(v) };
    }
}

impl<T> Drop for Completer<T> {
    fn drop(&mut self) {
        if self.0.state.swap(DONE, Ordering::AcqRel) == WAITING {
            // SAFETY: our swap saw WAITING, so the joiner stored its Unparker and
            // will not touch it again (its cancel CAS from WAITING now fails).
            let joiner = unsafe { (*self.0.joiner.get()).take() };
            if let Some(u) = joiner {
                u.unpark();
            }
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

/// An owned permission to join a task (wait for it) and to cancel it.
///
/// Dropping the handle detaches the task: it keeps running.
pub struct JoinHandle<T> {
    /// The task's header (id, name, cancel).
    pub(crate) task: Arc<Task>,
    /// The task's value once it returns.
    pub(crate) cell: Arc<JoinCell<T>>,
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
        self.cell.state.load(Ordering::Acquire) == DONE
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
        let cell = &*self.cell;
        if cell.state.load(Ordering::Acquire) != DONE {
            // SAFETY: in RUNNING only the joiner touches `joiner`, and this
            // handle (consumed by `join`) is the only joiner. If the completer
            // moves the state to DONE meanwhile, it does not read the field.
            unsafe { *cell.joiner.get() = Some(park::current_unparker()) };
            if cell
                .state
                .compare_exchange(RUNNING, WAITING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                loop {
                    let parked = park::park(WaitReason::Join(self.task.id), None);
                    if cell.state.load(Ordering::Acquire) == DONE {
                        break;
                    }
                    if parked.is_err()
                        && cell
                            .state
                            .compare_exchange(WAITING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    {
                        // SAFETY: back in RUNNING, the completer will not read it.
                        unsafe { *cell.joiner.get() = None };
                        return Err(JoinError::Cancelled);
                    }
                }
            }
        }
        // SAFETY: the state is DONE (Acquire), so the completer's write of
        // `value` happened before, and it never touches the cell again.
        let value = unsafe { (*cell.value.get()).take() };
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
        self.task.cancelled.store(true, Ordering::Release);
        trace!("cancel task {}", self.task.id);
        park::unpark_task(&self.task);
    }
}
