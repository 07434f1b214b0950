//! `channel`: Go's `chan T` for tasks and threads (Go's `runtime/chan.go`).
//!
//! # The channel (under `Chan::state`)
//!
//! ```text
//!   buf        values sent and not yet received (at most `cap`)
//!   senders    parked senders, oldest first, each with its value in its slot
//!   receivers  parked receivers, oldest first, each with an empty slot
//!   closed     set once: by close() or the last Sender dropped
//!   no_rx      set once: the last Receiver dropped
//!
//!   A waiter's slot (Go's sudog):
//!
//!   state     who moves it, under the channel lock          to
//!   ────────  ────────────────────────────────────────────  ─────────
//!   WAITING   a receiver that takes the sender's value, or  DONE
//!             a sender that puts its value in a receiver's
//!             slot; then unparks it after the lock
//!   WAITING   close / last handle dropped                   CLOSED
//!   WAITING   the waiter itself, cancelled or timed out:    (removed)
//!             it leaves the queue and keeps (or has no)
//!             value
//! ```
//!
//! Only the side that finds a waiter in the queue (under the lock) moves
//! its slot, and a waiter that gives up does so under the same lock, so a
//! value is handed over exactly once: a receiver whose wait was cancelled
//! after a sender filled its slot still gets the value, and a sender whose
//! wait was cancelled before a receiver came takes its value back in the
//! error. No one is woken while the lock is held.
//!
//! Invariants: `senders` is non-empty only when `buf` is full (for `cap`
//! 0: always full); `receivers` is non-empty only when `buf` is empty.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::task::park::{self, current_unparker, Unparker, WaitReason};

/// A parked sender's or receiver's slot.
pub(super) struct Slot<T> {
    /// The value: the sender's until taken, the receiver's once given.
    pub(super) value: Option<T>,
    /// WAITING / DONE / CLOSED; see the module docs.
    pub(super) state: SlotState,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotState {
    Waiting,
    Done,
    Closed,
}

/// A waiter in a queue: its slot (shared with it) and who to wake.
struct Waiter<T> {
    /// Identifies the waiter when it leaves the queue itself.
    ticket: u64,
    /// Where the value goes (or comes from); written under the channel lock.
    slot: Arc<Mutex<Slot<T>>>,
    /// Woken after the channel lock is dropped.
    unparker: Unparker,
    /// For a `select` waiter, the flag its cases share: whoever swaps it
    /// to true fires the select; a waiter whose flag is already set
    /// belongs to a select that another case fired, and is skipped.
    claim: Option<Arc<AtomicBool>>,
}

impl<T> Waiter<T> {
    /// Whether this waiter could be fired (its select has not fired).
    fn live(&self) -> bool {
        self.claim
            .as_ref()
            .is_none_or(|c| !c.load(Ordering::Acquire))
    }

    /// Whether this waiter may be fired now (claims its select, if any).
    fn claim(&self) -> bool {
        self.claim
            .as_ref()
            .is_none_or(|c| !c.swap(true, Ordering::AcqRel))
    }
}

/// Which queue a waiter stands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Queue {
    /// `senders`, holding a value.
    Send,
    /// `receivers`, waiting for one.
    Recv,
}

/// A queued waiter as its owner keeps it: its ticket and its slot.
pub(super) type Queued<T> = (u64, Arc<Mutex<Slot<T>>>);

impl<T> State<T> {
    /// Queues the caller in `queue` (a sender with its `value`), marked
    /// with a select's `claim` if it is one; called under the channel lock.
    pub(super) fn enqueue(
        &mut self,
        queue: Queue,
        value: Option<T>,
        claim: Option<Arc<AtomicBool>>,
    ) -> Queued<T> {
        let slot = Arc::new(Mutex::new(Slot {
            value,
            state: SlotState::Waiting,
        }));
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let w = Waiter {
            ticket,
            slot: slot.clone(),
            unparker: current_unparker(),
            claim,
        };
        match queue {
            Queue::Send => self.senders.push_back(w),
            Queue::Recv => self.receivers.push_back(w),
        }
        (ticket, slot)
    }

    /// Takes the waiter with `ticket` out of `queue`, if still there.
    pub(super) fn dequeue(&mut self, queue: Queue, ticket: u64) {
        let q = match queue {
            Queue::Send => &mut self.senders,
            Queue::Recv => &mut self.receivers,
        };
        q.retain(|w| w.ticket != ticket);
    }
}

/// Pops the first waiter that can still be fired (see [`Waiter::claim`]).
fn pop_live<T>(q: &mut VecDeque<Waiter<T>>) -> Option<Waiter<T>> {
    while let Some(w) = q.pop_front() {
        if w.claim() {
            return Some(w);
        }
    }
    None
}

pub(super) struct State<T> {
    /// Values in flight; at most `cap`.
    buf: VecDeque<T>,
    /// Parked senders with their values.
    senders: VecDeque<Waiter<T>>,
    /// Parked receivers.
    receivers: VecDeque<Waiter<T>>,
    /// No more sends: receivers drain `buf`, then get `RecvError`.
    closed: bool,
    /// Every receiver is gone: sends fail.
    no_rx: bool,
    /// Live `Sender`s; the last one dropped closes.
    senders_alive: usize,
    /// Live `Receiver`s.
    receivers_alive: usize,
    /// Next waiter ticket.
    next_ticket: u64,
}

pub(super) struct Chan<T> {
    /// The capacity; 0 is a rendezvous.
    cap: usize,
    /// Everything else, under one lock.
    pub(super) state: Mutex<State<T>>,
}

/// Creates a channel of capacity `cap` (Go's `make(chan T, cap)`): `cap` 0
/// is a rendezvous (a send returns once a receiver has the value); more
/// buffers up to `cap` values. Both halves are `Clone` (many senders, many
/// receivers).
///
/// ```
/// let (tx, rx) = netpark_runtime::sync::channel::<u32>(0);
/// netpark_runtime::run(move || {
///     let producer = netpark_runtime::spawn(move || {
///         for i in 0..3 {
///             tx.send(i).unwrap();
///         }
///     }); // tx dropped: the channel closes
///     let got: Vec<u32> = rx.iter().collect();
///     assert_eq!(got, [0, 1, 2]);
///     producer.join().unwrap();
/// });
/// ```
pub fn channel<T>(cap: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Arc::new(Chan {
        cap,
        state: Mutex::new(State {
            buf: VecDeque::with_capacity(cap.min(1024)),
            senders: VecDeque::new(),
            receivers: VecDeque::new(),
            closed: false,
            no_rx: false,
            senders_alive: 1,
            receivers_alive: 1,
            next_ticket: 0,
        }),
    });
    (Sender { chan: chan.clone() }, Receiver { chan })
}

/// The sending half (Go's `chan<- T`).
pub struct Sender<T> {
    /// The channel; shared by every handle.
    pub(super) chan: Arc<Chan<T>>,
}

/// The receiving half (Go's `<-chan T`).
pub struct Receiver<T> {
    /// The channel; shared by every handle.
    pub(super) chan: Arc<Chan<T>>,
}

/// A send on a closed channel (or one with no receiver left); the value
/// comes back.
#[derive(PartialEq, Eq, Clone, Copy)]
pub struct SendError<T>(pub T);

/// A receive on a closed and drained channel.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct RecvError;

/// Why a send that would not wait (or not long) did not happen.
#[derive(PartialEq, Eq, Clone, Copy)]
pub enum TrySendError<T> {
    /// No room and no receiver waiting (or the timeout passed).
    Full(T),
    /// The channel is closed or has no receiver left.
    Closed(T),
    /// The waiting task was cancelled.
    Cancelled(T),
}

/// Why a receive that would not wait (or not long) got nothing.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum TryRecvError {
    /// Nothing to receive (or the timeout passed).
    Empty,
    /// Closed and drained.
    Closed,
    /// The waiting task was cancelled.
    Cancelled,
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SendError(..)")
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("send on closed channel")
    }
}

impl<T> std::error::Error for SendError<T> {}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("receive on closed channel")
    }
}

impl std::error::Error for RecvError {}

impl<T> fmt::Debug for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TrySendError::Full(_) => "Full(..)",
            TrySendError::Closed(_) => "Closed(..)",
            TrySendError::Cancelled(_) => "Cancelled(..)",
        })
    }
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(v) | TrySendError::Closed(v) | TrySendError::Cancelled(v) => v,
        }
    }
}

/// What a send found under the lock.
pub(super) enum SendNow<T> {
    /// Handed over or buffered; wake this receiver (if any) after the lock.
    Sent(Option<Unparker>),
    /// No room: the value back, to wait with.
    Full(T),
    /// Closed: the value back.
    Closed(T),
}

impl<T> Chan<T> {
    pub(super) fn try_send_locked(&self, st: &mut State<T>, v: T) -> SendNow<T> {
        if st.closed || st.no_rx {
            return SendNow::Closed(v);
        }
        if let Some(w) = pop_live(&mut st.receivers) {
            let mut slot = w.slot.lock();
            slot.value = Some(v);
            slot.state = SlotState::Done;
            drop(slot);
            return SendNow::Sent(Some(w.unparker));
        }
        if st.buf.len() < self.cap {
            st.buf.push_back(v);
            return SendNow::Sent(None);
        }
        SendNow::Full(v)
    }

    /// A value if one is there now, waking the sender it came from.
    pub(super) fn try_recv_locked(&self, st: &mut State<T>) -> Option<(T, Option<Unparker>)> {
        if let Some(v) = st.buf.pop_front() {
            // Room now: the oldest parked sender's value moves into `buf`.
            let woken = pop_live(&mut st.senders).map(|w| {
                let mut slot = w.slot.lock();
                if let Some(sv) = slot.value.take() {
                    st.buf.push_back(sv);
                }
                slot.state = SlotState::Done;
                drop(slot);
                w.unparker
            });
            return Some((v, woken));
        }
        let w = pop_live(&mut st.senders)?;
        let mut slot = w.slot.lock();
        let v = slot.value.take().expect("a parked sender holds its value");
        slot.state = SlotState::Done;
        drop(slot);
        Some((v, Some(w.unparker)))
    }

    fn send(&self, v: T, deadline: Option<Instant>) -> Result<(), TrySendError<T>> {
        let (ticket, slot) = {
            let mut st = self.state.lock();
            match self.try_send_locked(&mut st, v) {
                SendNow::Sent(w) => {
                    drop(st);
                    if let Some(w) = w {
                        w.unpark();
                    }
                    return Ok(());
                }
                SendNow::Closed(v) => return Err(TrySendError::Closed(v)),
                SendNow::Full(v) => {
                    if deadline.is_some_and(|d| d <= Instant::now()) {
                        return Err(TrySendError::Full(v));
                    }
                    st.enqueue(Queue::Send, Some(v), None)
                }
            }
        };
        loop {
            let parked = park::park(WaitReason::ChanSend, deadline);
            let state = slot.lock().state;
            match state {
                SlotState::Done => return Ok(()),
                SlotState::Closed => {
                    let v = slot
                        .lock()
                        .value
                        .take()
                        .expect("a closed sender keeps its value");
                    return Err(TrySendError::Closed(v));
                }
                SlotState::Waiting => {}
            }
            let timed_out = deadline.is_some_and(|d| d <= Instant::now());
            if parked.is_err() || timed_out {
                // Give up under the channel lock, unless a receiver took
                // the value meanwhile.
                let mut st = self.state.lock();
                let mut s = slot.lock();
                match s.state {
                    SlotState::Done => return Ok(()),
                    SlotState::Closed => {
                        let v = s.value.take().expect("a closed sender keeps its value");
                        return Err(TrySendError::Closed(v));
                    }
                    SlotState::Waiting => {
                        st.dequeue(Queue::Send, ticket);
                        let v = s.value.take().expect("a waiting sender holds its value");
                        return Err(if parked.is_err() {
                            TrySendError::Cancelled(v)
                        } else {
                            TrySendError::Full(v)
                        });
                    }
                }
            }
        }
    }

    fn recv(&self, deadline: Option<Instant>) -> Result<T, TryRecvError> {
        let (ticket, slot) = {
            let mut st = self.state.lock();
            if let Some((v, w)) = self.try_recv_locked(&mut st) {
                drop(st);
                if let Some(w) = w {
                    w.unpark();
                }
                return Ok(v);
            }
            if st.closed {
                return Err(TryRecvError::Closed);
            }
            if deadline.is_some_and(|d| d <= Instant::now()) {
                return Err(TryRecvError::Empty);
            }
            st.enqueue(Queue::Recv, None, None)
        };
        loop {
            let parked = park::park(WaitReason::ChanRecv, deadline);
            {
                let mut s = slot.lock();
                match s.state {
                    SlotState::Done => {
                        return Ok(s.value.take().expect("a done receiver has its value"))
                    }
                    SlotState::Closed => return Err(TryRecvError::Closed),
                    SlotState::Waiting => {}
                }
            }
            let timed_out = deadline.is_some_and(|d| d <= Instant::now());
            if parked.is_err() || timed_out {
                let mut st = self.state.lock();
                let mut s = slot.lock();
                match s.state {
                    // A value arrived just before: keep it, never lose it.
                    SlotState::Done => {
                        return Ok(s.value.take().expect("a done receiver has its value"))
                    }
                    SlotState::Closed => return Err(TryRecvError::Closed),
                    SlotState::Waiting => {
                        st.dequeue(Queue::Recv, ticket);
                        return Err(if parked.is_err() {
                            TryRecvError::Cancelled
                        } else {
                            TryRecvError::Empty
                        });
                    }
                }
            }
        }
    }

    /// Whether a receive would end at once with `RecvError`.
    pub(super) fn recv_closed(st: &State<T>) -> bool {
        st.closed
    }

    /// Whether a receive could complete now: a value, a parked sender not
    /// claimed by another select, or closed (under the lock; a select's
    /// claim may still be taken elsewhere before it acts on this).
    pub(super) fn recv_ready(&self, st: &State<T>) -> bool {
        !st.buf.is_empty() || st.closed || st.senders.iter().any(Waiter::live)
    }

    /// Whether a send could complete now: room, a live parked receiver, or
    /// a closed channel (the send then fails at once).
    pub(super) fn send_ready(&self, st: &State<T>) -> bool {
        st.closed || st.no_rx || st.buf.len() < self.cap || st.receivers.iter().any(Waiter::live)
    }

    /// Marks the channel closed (or receiver-less) and fails every waiter.
    fn shut(&self, no_rx: bool) {
        let woken: Vec<Unparker> = {
            let mut st = self.state.lock();
            if no_rx {
                st.no_rx = true;
            } else {
                st.closed = true;
            }
            let mut woken = Vec::new();
            let st = &mut *st;
            // Receivers fail only once nothing is buffered (it is, when any
            // wait); senders fail on either.
            for w in st.senders.drain(..).chain(st.receivers.drain(..)) {
                // A select another case fired is not told.
                if w.claim() {
                    w.slot.lock().state = SlotState::Closed;
                    woken.push(w.unparker);
                }
            }
            woken
        };
        // Lock dropped: wake outside it.
        for w in woken {
            w.unpark();
        }
    }
}

impl<T> Sender<T> {
    /// Sends `v`, waiting while the channel is full (Go's `ch <- v`); with
    /// capacity 0, until a receiver has it.
    ///
    /// # Errors
    ///
    /// [`SendError`] with the value when the channel is closed or every
    /// receiver is gone (Go panics; netpark returns the value), or when the
    /// waiting task is cancelled.
    pub fn send(&self, v: T) -> Result<(), SendError<T>> {
        self.chan
            .send(v, None)
            .map_err(|e| SendError(e.into_inner()))
    }

    /// Sends only if that needs no wait (Go's `select` with `default`).
    ///
    /// # Errors
    ///
    /// `Full` or `Closed`, with the value.
    pub fn try_send(&self, v: T) -> Result<(), TrySendError<T>> {
        self.chan.send(v, Some(Instant::now()))
    }

    /// Sends, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// `Full` when the time passes, `Closed`, `Cancelled`; each with the value.
    pub fn send_timeout(&self, v: T, timeout: Duration) -> Result<(), TrySendError<T>> {
        self.chan.send(v, Some(Instant::now() + timeout))
    }

    /// Sends, waiting until `deadline` at the latest.
    ///
    /// # Errors
    ///
    /// As [`send_timeout`](Self::send_timeout).
    pub fn send_deadline(&self, v: T, deadline: Instant) -> Result<(), TrySendError<T>> {
        self.chan.send(v, Some(deadline))
    }

    /// Closes the channel (Go's `close(ch)`): receivers drain what is
    /// buffered, then get [`RecvError`]; parked and later sends fail with
    /// their value.
    pub fn close(&self) {
        self.chan.shut(false);
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.chan.state.lock().buf.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity given at creation (Go's `cap(ch)`).
    pub fn capacity(&self) -> usize {
        self.chan.cap
    }
}

impl<T> Receiver<T> {
    /// Receives a value, waiting while the channel is empty (Go's `<-ch`).
    ///
    /// # Errors
    ///
    /// [`RecvError`] once the channel is closed and drained, or when the
    /// waiting task is cancelled.
    pub fn recv(&self) -> Result<T, RecvError> {
        self.chan.recv(None).map_err(|_| RecvError)
    }

    /// Receives only if that needs no wait.
    ///
    /// # Errors
    ///
    /// `Empty` or `Closed`.
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        self.chan.recv(Some(Instant::now()))
    }

    /// Receives, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// `Empty` when the time passes, `Closed`, `Cancelled`.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, TryRecvError> {
        self.chan.recv(Some(Instant::now() + timeout))
    }

    /// Receives, waiting until `deadline` at the latest.
    ///
    /// # Errors
    ///
    /// As [`recv_timeout`](Self::recv_timeout).
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, TryRecvError> {
        self.chan.recv(Some(deadline))
    }

    /// Values until the channel is closed and drained (Go's `for v := range ch`).
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { rx: self }
    }

    /// Values buffered now.
    pub fn len(&self) -> usize {
        self.chan.state.lock().buf.len()
    }

    /// Whether nothing is buffered now.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The capacity given at creation.
    pub fn capacity(&self) -> usize {
        self.chan.cap
    }
}

/// See [`Receiver::iter`].
#[derive(Debug)]
pub struct Iter<'a, T> {
    rx: &'a Receiver<T>,
}

impl<T> Iterator for Iter<'_, T> {
    type Item = T;
    fn next(&mut self) -> Option<T> {
        self.rx.recv().ok()
    }
}

impl<'a, T> IntoIterator for &'a Receiver<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;
    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.chan.state.lock().senders_alive += 1;
        Sender {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Clone for Receiver<T> {
    fn clone(&self) -> Self {
        self.chan.state.lock().receivers_alive += 1;
        Receiver {
            chan: self.chan.clone(),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let last = {
            let mut st = self.chan.state.lock();
            st.senders_alive -= 1;
            st.senders_alive == 0
        };
        if last {
            self.chan.shut(false);
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let last = {
            let mut st = self.chan.state.lock();
            st.receivers_alive -= 1;
            st.receivers_alive == 0
        };
        if last {
            self.chan.shut(true);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sender")
            .field("cap", &self.chan.cap)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Receiver")
            .field("cap", &self.chan.cap)
            .finish_non_exhaustive()
    }
}
