//! A channel waiter's cell (Go's `sudog`, whose `elem` points into the
//! blocked goroutine's stack): where a parked sender's value waits to be
//! taken, or a parked receiver's value is put.
//!
//! This is the runtime's fourth unsafe island (ARCHITECTURE.md, "Unsafe"),
//! kept to this file. A plain `send` or `recv` that has to wait keeps its
//! cell in its own stack frame ([`wait_on_stack`]), so a wait allocates
//! nothing and the value is handed over under the one channel lock, with no
//! lock of its own; a `select` case keeps its cell in an `Arc`, since the
//! select waits on many channels from one frame.
//!
//! # The cell's states
//!
//! ```text
//!   state     who moves it                                          to
//!   ────────  ────────────────────────────────────────────────────  ───────
//!   WAITING   a waker that pops the cell's waiter from its queue,   DONE
//!             under the channel lock: puts or takes the value and
//!             the unparker, then stores the state (Release) as its
//!             last touch of the cell
//!   WAITING   close, the same way                                   CLOSED
//!   WAITING   the owner, under the channel lock: takes its waiter   (stays;
//!             out of the queue (timeout, cancel, unwind)            out of
//!                                                                   queue)
//! ```
//!
//! # Invariant
//!
//! While a cell's waiter is in a channel queue, only a holder of that
//! channel's lock touches the cell's `value` and `unparker`, and the cell
//! outlives its queue entry. Once the owner has seen a final state
//! (Acquire, pairing with the waker's Release) or has taken the waiter out
//! of the queue under the lock, no waker touches the cell again, and the
//! owner alone may.

use std::cell::UnsafeCell;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

use super::channel::{Chan, Queue, SlotState, State};
use super::spin_lock::SpinGuard;
use crate::scheduler;
use crate::task::context;
use crate::task::park::{current_unparker, Unparker};
use crate::task::Task;

const WAITING: u8 = 0;
const DONE: u8 = 1;
const CLOSED: u8 = 2;

/// Who a cell wakes.
enum Who {
    /// The waiting task, by its header's address: no reference count is
    /// taken, since the task cannot end while its waiter is queued (its
    /// frame, which leaves the queue first, is alive).
    Task(*const Task),
    /// A plain thread (or a `select`, whose cell is shared).
    Other(Unparker),
}

/// A wake to make once the channel lock is dropped.
pub(super) enum Wake {
    /// A task on the caller's own worker: it cannot run, end or be freed
    /// before the caller yields, so its address is enough. A raw pointer,
    /// so a `Wake` stays on the thread that made it.
    Local(*const Task),
    /// Anyone else, by an owned handle.
    Remote(Unparker),
}

impl Wake {
    /// Makes the wake (after the channel lock is dropped).
    pub(super) fn wake(self) {
        match self {
            // SAFETY: `Local` is made only for a task owned by this thread's
            // worker (`scheduler::is_local`), which runs the caller now; the
            // task resumes, and may end, only after the caller yields, which
            // it does not do between making the `Wake` and this call.
            Wake::Local(p) => scheduler::wake_owned_here(unsafe { &*p }),
            Wake::Remote(u) => u.unpark(),
        }
    }
}

/// One waiter's value and who to wake; see the module docs.
pub(super) struct WaitCell<T> {
    /// WAITING / DONE / CLOSED.
    state: AtomicU8,
    /// A sender's value until taken; a receiver's once given.
    value: UnsafeCell<Option<T>>,
    /// Who to wake; taken by the waker that fires the cell.
    who: UnsafeCell<Option<Who>>,
}

// SAFETY: the cell moves a `T` between threads (from a sender to a
// receiver), so it needs `T: Send`; every access to the `UnsafeCell`s is
// serialised by the channel lock or by the final state's Release/Acquire
// (the invariant above), so shared references across threads are sound.
unsafe impl<T: Send> Sync for WaitCell<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Send for WaitCell<T> {}

impl<T> WaitCell<T> {
    /// A cell holding `value` (a sender's) that wakes the calling task by
    /// its address (`by_address`: a cell in the task's own frame) or by an
    /// owned handle.
    fn new(value: Option<T>, by_address: bool) -> WaitCell<T> {
        let me = context::current_ptr();
        let who = if by_address && !me.is_null() {
            Who::Task(me)
        } else {
            Who::Other(current_unparker())
        };
        WaitCell {
            state: AtomicU8::new(WAITING),
            value: UnsafeCell::new(value),
            who: UnsafeCell::new(Some(who)),
        }
    }

    /// A shared cell (a `select` case's), holding `value`.
    pub(super) fn shared(value: Option<T>) -> Arc<WaitCell<T>> {
        Arc::new(WaitCell::new(value, false))
    }

    /// Takes who to wake, as a [`Wake`]; by the waker, under the lock.
    ///
    /// # Safety
    ///
    /// The cell's waiter was in its queue until the caller, who holds the
    /// channel lock, popped it.
    #[inline(always)]
    unsafe fn take_wake(&self) -> Option<Wake> {
        // SAFETY: by the caller's promise only it touches the cell now.
        let who = unsafe { (*self.who.get()).take() }?;
        Some(match who {
            Who::Task(p) => {
                // SAFETY: the waiter was queued until now and its frame
                // leaves the queue under the lock we hold before it ends,
                // so the task is alive; its header is `Arc::as_ptr` of the
                // Arc its worker's table holds.
                let t = unsafe { &*p };
                if scheduler::is_local(t) {
                    Wake::Local(p)
                } else {
                    // SAFETY: as above: the table's Arc keeps it alive.
                    Wake::Remote(Unparker::for_task(unsafe { context::task_arc(p) }))
                }
            }
            Who::Other(u) => Wake::Remote(u),
        })
    }

    /// The state; a final one means the value may be taken.
    fn state(&self) -> SlotState {
        match self.state.load(Ordering::Acquire) {
            WAITING => SlotState::Waiting,
            DONE => SlotState::Done,
            _ => SlotState::Closed,
        }
    }

    /// Takes the value once no waker can touch the cell any more.
    ///
    /// # Safety
    ///
    /// The caller owns the cell and has seen a final [`state`](Self::state)
    /// or taken its waiter out of the queue under the channel lock.
    unsafe fn take_value(&self) -> Option<T> {
        // SAFETY: by the caller's promise no waker touches the cell now,
        // and the owner is the only other party.
        unsafe { (*self.value.get()).take() }
    }
}

/// How a queue refers to a cell: a pointer into the waiting task's frame,
/// or a shared allocation it keeps alive.
pub(super) struct CellRef<T> {
    /// The cell.
    ptr: NonNull<WaitCell<T>>,
    /// For a `select` case's cell: keeps it alive while queued.
    _shared: Option<Arc<WaitCell<T>>>,
}

// SAFETY: a CellRef is a reference to a `WaitCell`, which is Send + Sync
// for `T: Send`; the pointer is only used under the invariant above.
unsafe impl<T: Send> Send for CellRef<T> {}

impl<T> CellRef<T> {
    /// Refers to a shared cell (a `select` case's).
    pub(super) fn shared(cell: &Arc<WaitCell<T>>) -> CellRef<T> {
        CellRef {
            ptr: NonNull::from(&**cell),
            _shared: Some(cell.clone()),
        }
    }

    fn cell(&self) -> &WaitCell<T> {
        // SAFETY: the cell outlives its queue entry (the invariant above:
        // a shared cell is kept alive by `_shared`, a stack cell by
        // `wait_on_stack`, which leaves the queue before its frame ends).
        unsafe { self.ptr.as_ref() }
    }
}

/// A waiter in a channel queue: its cell and, for a `select`, the claim
/// its cases share. Exists only inside a queue, behind the channel lock,
/// or in the hands of the lock holder that popped it.
pub(super) struct Waiter<T> {
    /// Identifies the waiter when it leaves the queue itself.
    pub(super) ticket: u64,
    /// The value and who to wake.
    cell: CellRef<T>,
    /// For a `select` waiter, the flag its cases share: whoever swaps it
    /// to true fires the select; a waiter whose flag is already set
    /// belongs to a select that another case fired, and is skipped.
    claim: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl<T> Waiter<T> {
    pub(super) fn new(
        ticket: u64,
        cell: CellRef<T>,
        claim: Option<Arc<std::sync::atomic::AtomicBool>>,
    ) -> Waiter<T> {
        Waiter {
            ticket,
            cell,
            claim,
        }
    }

    /// Whether this waiter could be fired (its select has not fired).
    pub(super) fn live(&self) -> bool {
        self.claim
            .as_ref()
            .is_none_or(|c| !c.load(Ordering::Acquire))
    }

    /// Whether this waiter may be fired now (claims its select, if any).
    pub(super) fn claim(&self) -> bool {
        self.claim
            .as_ref()
            .is_none_or(|c| !c.swap(true, Ordering::AcqRel))
    }

    /// Fires a receiver: gives it `v`. Called by the lock holder that
    /// popped the waiter, before it drops the lock; returns who to wake
    /// after.
    #[inline(always)]
    pub(super) fn give(self, v: T) -> Option<Wake> {
        let c = self.cell.cell();
        // SAFETY: the waiter was in the queue until the caller, holding
        // the channel lock, popped it: the owner waits, and only we touch
        // the cell until the state store below.
        let w = unsafe {
            *c.value.get() = Some(v);
            c.take_wake()
        };
        c.state.store(DONE, Ordering::Release);
        w
    }

    /// Fires a sender: takes its value. As [`give`](Self::give).
    #[inline(always)]
    pub(super) fn take(self) -> (Option<T>, Option<Wake>) {
        let c = self.cell.cell();
        // SAFETY: as in `give`.
        let out = unsafe { ((*c.value.get()).take(), c.take_wake()) };
        c.state.store(DONE, Ordering::Release);
        out
    }

    /// Fails the waiter: the channel closed. As [`give`](Self::give); a
    /// sender keeps its value in the cell.
    #[inline(always)]
    pub(super) fn close(self) -> Option<Wake> {
        let c = self.cell.cell();
        // SAFETY: as in `give`.
        let w = unsafe { c.take_wake() };
        c.state.store(CLOSED, Ordering::Release);
        w
    }
}

/// A wait in progress: a queued waiter's cell seen from its owner (in
/// [`wait_on_stack`]'s frame, or a `select` case's shared cell).
pub(super) struct Parked<'a, T> {
    /// The channel whose queue holds the waiter.
    chan: &'a Chan<T>,
    /// Which queue.
    queue: Queue,
    /// The waiter's ticket there.
    ticket: u64,
    /// The cell, in the frame of `wait_on_stack` or shared.
    cell: &'a WaitCell<T>,
    /// `leave` has run.
    left: std::cell::Cell<bool>,
}

impl<'a, T> Parked<'a, T> {
    /// The owner's view of a `select` case's queued shared cell.
    pub(super) fn shared(
        chan: &'a Chan<T>,
        queue: Queue,
        ticket: u64,
        cell: &'a Arc<WaitCell<T>>,
    ) -> Parked<'a, T> {
        Parked {
            chan,
            queue,
            ticket,
            cell,
            left: std::cell::Cell::new(false),
        }
    }

    /// Whether a waker has fired the cell.
    pub(super) fn fired(&self) -> bool {
        self.cell.state() != SlotState::Waiting
    }

    /// The outcome, if a waker has fired the cell: its final state and
    /// the value in it (a receiver's value, or a closed sender's own).
    pub(super) fn outcome(&self) -> Option<(SlotState, Option<T>)> {
        let s = self.cell.state();
        // SAFETY: a final state was seen, so no waker touches the cell.
        (s != SlotState::Waiting).then(|| (s, unsafe { self.cell.take_value() }))
    }

    /// Gives up the wait: out of the queue under the channel lock, unless
    /// a waker fired the cell first. Returns the final state (`Waiting`
    /// when the wait was given up) and the value in the cell.
    pub(super) fn leave(&self) -> (SlotState, Option<T>) {
        self.left.set(true);
        let mut st = self.chan.state.lock();
        let s = self.cell.state();
        if s == SlotState::Waiting {
            st.dequeue(self.queue, self.ticket);
        }
        drop(st);
        // SAFETY: fired (final state seen under the lock) or taken out of
        // the queue under the lock: no waker touches the cell any more.
        (s, unsafe { self.cell.take_value() })
    }
}

/// Leaves the queue when the frame of [`wait_on_stack`] ends, also by an
/// unwind (a task unwound at shutdown while parked).
struct LeaveOnExit<'a, 'b, T>(&'b Parked<'a, T>);

impl<T> Drop for LeaveOnExit<'_, '_, T> {
    fn drop(&mut self) {
        if !self.0.left.get() && self.0.cell.state() == SlotState::Waiting {
            drop(self.0.leave());
        }
    }
}

/// Queues the caller in `queue` with its cell in this frame (holding
/// `value`, a sender's), releases the channel lock `st`, and runs `wait`
/// with the wait in progress; the waiter is out of the queue when this
/// returns, whatever `wait` did (the cell must not outlive this frame).
pub(super) fn wait_on_stack<T, R>(
    chan: &Chan<T>,
    mut st: SpinGuard<'_, State<T>>,
    queue: Queue,
    value: Option<T>,
    wait: impl FnOnce(&Parked<'_, T>) -> R,
) -> R {
    let cell = WaitCell::new(value, true);
    let cref = CellRef {
        ptr: NonNull::from(&cell),
        _shared: None,
    };
    let ticket = st.enqueue(queue, cref, None);
    drop(st);
    let parked = Parked {
        chan,
        queue,
        ticket,
        cell: &cell,
        left: std::cell::Cell::new(false),
    };
    let _leave = LeaveOnExit(&parked);
    wait(&parked)
}
