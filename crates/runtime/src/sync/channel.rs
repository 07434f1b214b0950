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
//!   A waiter's cell (Go's sudog, sudog.rs):
//!
//!   state     who moves it, under the channel lock          to
//!   ────────  ────────────────────────────────────────────  ─────────
//!   WAITING   a receiver that takes the sender's value, or  DONE
//!             a sender that puts its value in a receiver's
//!             cell; then unparks it after the lock
//!   WAITING   close / last handle dropped                   CLOSED
//!   WAITING   the waiter itself, cancelled or timed out:    (removed)
//!             it leaves the queue and keeps (or has no)
//!             value
//! ```
//!
//! Only the side that finds a waiter in the queue (under the lock) moves
//! its cell, and a waiter that gives up does so under the same lock, so a
//! value is handed over exactly once: a receiver whose wait was cancelled
//! after a sender filled its cell still gets the value, and a sender whose
//! wait was cancelled before a receiver came takes its value back in the
//! error. No one is woken while the lock is held.
//!
//! A plain send or receive that waits keeps its cell in its own stack
//! frame, as Go's `sudog.elem` points into the goroutine's stack: no
//! allocation and no second lock per wait (sudog.rs).
//!
//! Invariants: `senders` is non-empty only when `buf` is full (for `cap`
//! 0: always full); `receivers` is non-empty only when `buf` is empty.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::spin_lock::SpinLock;
use super::sudog::{self, CellRef, Parked, WaitCell, Waiter, Wake};
use crate::task::park::{self, WaitReason};

/// Where a queued waiter stands (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SlotState {
    Waiting,
    Done,
    Closed,
}

/// Which queue a waiter stands in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Queue {
    /// `senders`, holding a value.
    Send,
    /// `receivers`, waiting for one.
    Recv,
}

/// A `select` case's queued waiter as the case keeps it: its ticket and
/// its shared cell.
pub(super) type Queued<T> = (u64, Arc<WaitCell<T>>);

impl<T> State<T> {
    /// Queues a waiter for `cell` in `queue`, marked with a select's
    /// `claim` if it is one; returns its ticket. Under the channel lock.
    pub(super) fn enqueue(
        &mut self,
        queue: Queue,
        cell: CellRef<T>,
        claim: Option<Arc<AtomicBool>>,
    ) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        let w = Waiter::new(ticket, cell, claim);
        match queue {
            Queue::Send => self.senders.push_back(w),
            Queue::Recv => self.receivers.push_back(w),
        }
        ticket
    }

    /// Queues a `select` case with a shared cell (holding a sender's
    /// `value`), marked with the select's `claim`.
    pub(super) fn enqueue_shared(
        &mut self,
        queue: Queue,
        value: Option<T>,
        claim: Arc<AtomicBool>,
    ) -> Queued<T> {
        let cell = WaitCell::shared(value);
        let ticket = self.enqueue(queue, CellRef::shared(&cell), Some(claim));
        (ticket, cell)
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
/// Inlined: a `Waiter` returned through memory is written with 8-byte
/// stores and read back with 16-byte loads, a store-forwarding stall that
/// was a sixth of a ping-pong round trip (`perf annotate`).
#[inline(always)]
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
    /// Everything else, under one lock (held for a few instructions at a
    /// time, never across a park: spin_lock.rs).
    pub(super) state: SpinLock<State<T>>,
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
        state: SpinLock::new(State {
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
    Sent(Option<Wake>),
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
            return SendNow::Sent(w.give(v));
        }
        if st.buf.len() < self.cap {
            st.buf.push_back(v);
            return SendNow::Sent(None);
        }
        SendNow::Full(v)
    }

    /// A value if one is there now, waking the sender it came from.
    pub(super) fn try_recv_locked(&self, st: &mut State<T>) -> Option<(T, Option<Wake>)> {
        if let Some(v) = st.buf.pop_front() {
            // Room now: the oldest parked sender's value moves into `buf`.
            let woken = pop_live(&mut st.senders).and_then(|w| {
                let (sv, u) = w.take();
                st.buf.extend(sv);
                u
            });
            return Some((v, woken));
        }
        let (v, u) = pop_live(&mut st.senders)?.take();
        Some((v.expect("a parked sender holds its value"), u))
    }

    fn send(&self, v: T, deadline: Option<Instant>) -> Result<(), TrySendError<T>> {
        let mut st = self.state.lock();
        match self.try_send_locked(&mut st, v) {
            SendNow::Sent(w) => {
                drop(st);
                if let Some(w) = w {
                    w.wake();
                }
                Ok(())
            }
            SendNow::Closed(v) => Err(TrySendError::Closed(v)),
            SendNow::Full(v) if deadline.is_some_and(|d| d <= Instant::now()) => {
                Err(TrySendError::Full(v))
            }
            SendNow::Full(v) => sudog::wait_on_stack(self, st, Queue::Send, Some(v), |p| {
                Self::wait_send(p, deadline)
            }),
        }
    }

    /// A queued sender's wait: until a receiver takes the value, close,
    /// cancel or the deadline.
    fn wait_send(p: &Parked<'_, T>, deadline: Option<Instant>) -> Result<(), TrySendError<T>> {
        let (parked, state, v) = Self::wait_fired(p, WaitReason::ChanSend, deadline);
        match state {
            SlotState::Done => Ok(()),
            SlotState::Closed => Err(TrySendError::Closed(
                v.expect("a closed sender keeps its value"),
            )),
            SlotState::Waiting => {
                let v = v.expect("a waiting sender holds its value");
                Err(if parked.is_err() {
                    TrySendError::Cancelled(v)
                } else {
                    TrySendError::Full(v)
                })
            }
        }
    }

    /// Parks until the cell fires, or until a cancel or the deadline, when
    /// the waiter gives up under the channel lock unless a peer fired it
    /// first. Returns the last park's result, the final state (`Waiting`:
    /// given up) and the value in the cell.
    fn wait_fired(
        p: &Parked<'_, T>,
        reason: WaitReason,
        deadline: Option<Instant>,
    ) -> (std::io::Result<()>, SlotState, Option<T>) {
        loop {
            let parked = park::park(reason, deadline);
            if let Some((s, v)) = p.outcome() {
                return (parked, s, v);
            }
            if parked.is_err() || deadline.is_some_and(|d| d <= Instant::now()) {
                let (s, v) = p.leave();
                return (parked, s, v);
            }
        }
    }

    fn recv(&self, deadline: Option<Instant>) -> Result<T, TryRecvError> {
        let mut st = self.state.lock();
        if let Some((v, w)) = self.try_recv_locked(&mut st) {
            drop(st);
            if let Some(w) = w {
                w.wake();
            }
            return Ok(v);
        }
        if st.closed {
            return Err(TryRecvError::Closed);
        }
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(TryRecvError::Empty);
        }
        sudog::wait_on_stack(self, st, Queue::Recv, None, |p| {
            Self::wait_recv(p, deadline)
        })
    }

    /// A queued receiver's wait: until a sender gives a value, close,
    /// cancel or the deadline.
    fn wait_recv(p: &Parked<'_, T>, deadline: Option<Instant>) -> Result<T, TryRecvError> {
        match Self::wait_fired(p, WaitReason::ChanRecv, deadline) {
            // Fired, even just before a cancel or timeout: keep the value,
            // never lose it.
            (_, SlotState::Done, v) => Ok(v.expect("a done receiver has its value")),
            (_, SlotState::Closed, _) => Err(TryRecvError::Closed),
            (parked, SlotState::Waiting, _) => Err(if parked.is_err() {
                TryRecvError::Cancelled
            } else {
                TryRecvError::Empty
            }),
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
        let woken: Vec<Wake> = {
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
                    woken.extend(w.close());
                }
            }
            woken
        };
        // Lock dropped: wake outside it.
        for w in woken {
            w.wake();
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
        self.chan
            .send(v, Some(crate::time::deadline_after(timeout)))
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
        self.chan.recv(Some(crate::time::deadline_after(timeout)))
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
