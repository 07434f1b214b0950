//! `Select`: Go's `select` over sends and receives on channels of any
//! types, with an optional timeout or default.
//!
//! # How one select runs (Go's `selectgo`)
//!
//! ```text
//!   1. poll     try every case once, in a random order: the first that
//!               can go now (a value, room, a closed channel) fires
//!   2. default  if given and nothing fired: it runs
//!   3. enqueue  one claim flag for the whole select; each case queues a
//!               waiter carrying it (under its channel's lock, checking
//!               once more that it cannot go now)
//!   4. park     a peer that pops one of our waiters must swap the claim
//!               from false to true first; if it was already true, the
//!               waiter is stale and skipped. So exactly one case fires.
//!   5. wake     on a timeout or a cancel, the select swaps the claim
//!               itself: true → nothing fired, it times out or fails;
//!               already true → a case fired just now, and it is taken:
//!               every case leaves its queue under its channel's lock
//!               (which waits out the peer still filling the cell), and
//!               the fired one keeps what it leaves with (the received
//!               value, or its send's outcome)
//!   6. dequeue  every other case's waiter leaves its queue (a send's
//!               value comes back to it, unsent)
//! ```
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use netpark_runtime::sync::{channel, Select};
//!
//! netpark_runtime::run(|| {
//!     let (numbers, numbers_rx) = channel::<u32>(1);
//!     let (words, words_rx) = channel::<&str>(1);
//!     words.send("hello").unwrap();
//!     let got = Select::new()
//!         .recv(&numbers_rx, |n| format!("number {n:?}"))
//!         .recv(&words_rx, |w| format!("word {}", w.unwrap()))
//!         .timeout(Duration::from_millis(50), || "nothing".to_string())
//!         .wait()
//!         .unwrap();
//!     assert_eq!(got, "word hello");
//!     drop(numbers);
//! });
//! ```

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::channel::{
    Chan, Queue, Queued, Receiver, RecvError, SendError, SendNow, Sender, SlotState,
};
use super::sudog::Parked;
use crate::task::park::{self, WaitReason};

/// What enqueueing a case did.
enum Enq {
    /// Its waiter is queued.
    Queued,
    /// It could go at once, won the claim, and completed.
    Fired,
    /// The claim was already taken: a case queued before fired.
    Lost,
    /// It won the claim but the operation could no longer complete (a
    /// peer's select claimed the waiter it counted on): start again with
    /// a fresh claim.
    Retry,
}

/// One case of a select, type-erased.
trait Case<R> {
    /// Tries the operation without waiting; true if it completed.
    fn poll(&mut self) -> bool;
    /// Queues a waiter carrying `claim`, unless the case can complete now
    /// (see [`Enq`]); all under its channel's lock.
    fn enqueue(&mut self, claim: &Arc<AtomicBool>) -> Enq;
    /// Whether the queued waiter was fired (its slot is no longer waiting).
    fn fired(&self) -> bool;
    /// Takes the queued waiter out of its queue (a send's value back).
    fn dequeue(&mut self);
    /// Runs the case's closure with the outcome.
    fn finish(self: Box<Self>) -> R;
}

/// The owner's view of a case's queued waiter, if it is queued.
fn parked<'a, T>(
    chan: &'a Chan<T>,
    queue: Queue,
    q: &'a Option<Queued<T>>,
) -> Option<Parked<'a, T>> {
    q.as_ref()
        .map(|(ticket, cell)| Parked::shared(chan, queue, *ticket, cell))
}

/// A small random number for the poll order (Go's `cheaprand`).
fn cheap_rand() -> u64 {
    static STATE: AtomicU64 = AtomicU64::new(0x853c_49e6_748f_ea9b);
    let mut x = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, Ordering::Relaxed);
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^ (x >> 33)
}

struct RecvCase<'a, T, F> {
    chan: &'a Chan<T>,
    f: F,
    /// The outcome once fired.
    result: Option<Result<T, RecvError>>,
    /// The queued waiter: ticket and slot.
    queued: Option<Queued<T>>,
}

impl<T, R, F: FnOnce(Result<T, RecvError>) -> R> Case<R> for RecvCase<'_, T, F> {
    fn poll(&mut self) -> bool {
        let mut st = self.chan.state.lock();
        if let Some((v, w)) = self.chan.try_recv_locked(&mut st) {
            drop(st);
            if let Some(w) = w {
                w.wake();
            }
            self.result = Some(Ok(v));
            return true;
        }
        if Chan::recv_closed(&st) {
            self.result = Some(Err(RecvError));
            return true;
        }
        false
    }

    fn enqueue(&mut self, claim: &Arc<AtomicBool>) -> Enq {
        let mut st = self.chan.state.lock();
        if self.chan.recv_ready(&st) {
            if claim.swap(true, Ordering::AcqRel) {
                return Enq::Lost;
            }
            if let Some((v, w)) = self.chan.try_recv_locked(&mut st) {
                drop(st);
                if let Some(w) = w {
                    w.wake();
                }
                self.result = Some(Ok(v));
                return Enq::Fired;
            }
            if Chan::recv_closed(&st) {
                self.result = Some(Err(RecvError));
                return Enq::Fired;
            }
            return Enq::Retry;
        }
        self.queued = Some(st.enqueue_shared(Queue::Recv, None, claim.clone()));
        Enq::Queued
    }

    fn fired(&self) -> bool {
        parked(self.chan, Queue::Recv, &self.queued).is_some_and(|p| p.fired())
    }

    fn dequeue(&mut self) {
        let Some(p) = parked(self.chan, Queue::Recv, &self.queued) else {
            return;
        };
        // A case fired before it left (a timeout or cancel racing a peer,
        // step 5) keeps its outcome: the value `leave` takes out is the
        // received one, never to be dropped.
        match p.leave() {
            (SlotState::Waiting, _) => {}
            (SlotState::Done, v) => {
                self.result = Some(Ok(v.expect("a done receiver has its value")));
            }
            (SlotState::Closed, _) => self.result = Some(Err(RecvError)),
        }
    }

    fn finish(self: Box<Self>) -> R {
        let this = *self;
        let result = match this.result {
            Some(r) => r,
            None => {
                let p =
                    parked(this.chan, Queue::Recv, &this.queued).expect("a fired case was queued");
                match p.outcome() {
                    Some((SlotState::Done, v)) => Ok(v.expect("a done receiver has its value")),
                    _ => Err(RecvError),
                }
            }
        };
        (this.f)(result)
    }
}

struct SendCase<'a, T, F> {
    chan: &'a Chan<T>,
    /// The value until it is sent (or comes back).
    value: Option<T>,
    f: F,
    /// The outcome once fired.
    result: Option<Result<(), SendError<T>>>,
    /// The queued waiter.
    queued: Option<Queued<T>>,
}

impl<T, R, F: FnOnce(Result<(), SendError<T>>) -> R> Case<R> for SendCase<'_, T, F> {
    fn poll(&mut self) -> bool {
        let v = self.value.take().expect("an unsent case holds its value");
        let mut st = self.chan.state.lock();
        match self.chan.try_send_locked(&mut st, v) {
            SendNow::Sent(w) => {
                drop(st);
                if let Some(w) = w {
                    w.wake();
                }
                self.result = Some(Ok(()));
                true
            }
            SendNow::Closed(v) => {
                self.result = Some(Err(SendError(v)));
                true
            }
            SendNow::Full(v) => {
                self.value = Some(v);
                false
            }
        }
    }

    fn enqueue(&mut self, claim: &Arc<AtomicBool>) -> Enq {
        let mut st = self.chan.state.lock();
        if self.chan.send_ready(&st) {
            if claim.swap(true, Ordering::AcqRel) {
                return Enq::Lost;
            }
            let v = self.value.take().expect("an unsent case holds its value");
            return match self.chan.try_send_locked(&mut st, v) {
                SendNow::Sent(w) => {
                    drop(st);
                    if let Some(w) = w {
                        w.wake();
                    }
                    self.result = Some(Ok(()));
                    Enq::Fired
                }
                SendNow::Closed(v) => {
                    self.result = Some(Err(SendError(v)));
                    Enq::Fired
                }
                SendNow::Full(v) => {
                    self.value = Some(v);
                    Enq::Retry
                }
            };
        }
        self.queued = Some(st.enqueue_shared(Queue::Send, self.value.take(), claim.clone()));
        Enq::Queued
    }

    fn fired(&self) -> bool {
        parked(self.chan, Queue::Send, &self.queued).is_some_and(|p| p.fired())
    }

    fn dequeue(&mut self) {
        let Some(p) = parked(self.chan, Queue::Send, &self.queued) else {
            return;
        };
        match p.leave() {
            // Not sent: the value comes back.
            (SlotState::Waiting, back) => {
                if self.value.is_none() {
                    self.value = back;
                }
            }
            // Fired before it left (step 5): keep the outcome.
            (SlotState::Done, _) => self.result = Some(Ok(())),
            (SlotState::Closed, v) => {
                self.result = Some(Err(SendError(v.expect("a closed sender keeps its value"))));
            }
        }
    }

    fn finish(self: Box<Self>) -> R {
        let this = *self;
        let result = match this.result {
            Some(r) => r,
            None => {
                let p =
                    parked(this.chan, Queue::Send, &this.queued).expect("a fired case was queued");
                match p.outcome() {
                    Some((SlotState::Done, _)) => Ok(()),
                    Some((_, v)) => Err(SendError(v.expect("a closed sender keeps its value"))),
                    None => unreachable!("finish runs on a fired case"),
                }
            }
        };
        (this.f)(result)
    }
}

/// What ends a select that no case fires.
enum Otherwise<'a, R> {
    /// Wait as long as it takes.
    Never,
    /// Go's `default:`: do not wait.
    Default(Box<dyn FnOnce() -> R + 'a>),
    /// A `time.After` case.
    Timeout(Instant, Box<dyn FnOnce() -> R + 'a>),
}

/// Go's `select`: the cases are added with [`recv`](Self::recv) and
/// [`send`](Self::send), each with a closure that gets the outcome; one
/// ready case, chosen at random, fires (see the module docs for how).
pub struct Select<'a, R> {
    /// The cases in the order given.
    cases: Vec<Box<dyn Case<R> + 'a>>,
    /// Default, timeout, or neither.
    otherwise: Otherwise<'a, R>,
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("cases", &self.cases.len())
            .finish_non_exhaustive()
    }
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Select::new()
    }
}

impl<'a, R> Select<'a, R> {
    /// A select with no case yet.
    pub fn new() -> Select<'a, R> {
        Select {
            cases: Vec::new(),
            otherwise: Otherwise::Never,
        }
    }

    /// A receive case (Go's `case v, ok := <-rx:`): `f` gets the value, or
    /// `RecvError` once the channel is closed and drained.
    pub fn recv<T: 'a>(
        mut self,
        rx: &'a Receiver<T>,
        f: impl FnOnce(Result<T, RecvError>) -> R + 'a,
    ) -> Self {
        self.cases.push(Box::new(RecvCase {
            chan: &rx.chan,
            f,
            result: None,
            queued: None,
        }));
        self
    }

    /// A send case (Go's `case tx <- v:`): `f` gets `Ok`, or the value back
    /// when the channel is closed. A send case that does not fire keeps its
    /// value unsent.
    pub fn send<T: 'a>(
        mut self,
        tx: &'a Sender<T>,
        v: T,
        f: impl FnOnce(Result<(), SendError<T>>) -> R + 'a,
    ) -> Self {
        self.cases.push(Box::new(SendCase {
            chan: &tx.chan,
            value: Some(v),
            f,
            result: None,
            queued: None,
        }));
        self
    }

    /// Go's `default:`: runs `f` when no case can fire at once.
    pub fn default(mut self, f: impl FnOnce() -> R + 'a) -> Self {
        self.otherwise = Otherwise::Default(Box::new(f));
        self
    }

    /// Go's `case <-time.After(d):`: runs `f` when no case fired within `d`.
    pub fn timeout(mut self, d: Duration, f: impl FnOnce() -> R + 'a) -> Self {
        self.otherwise = Otherwise::Timeout(crate::time::deadline_after(d), Box::new(f));
        self
    }

    /// Waits until one case fires (or the default or timeout), runs its
    /// closure and returns what it returned.
    ///
    /// # Errors
    ///
    /// `Interrupted` when the task is cancelled while it waits (no case
    /// fired; send values are dropped).
    pub fn wait(mut self) -> io::Result<R> {
        let n = self.cases.len();
        loop {
            // 1. Poll in a random order (Go's pollorder).
            if n > 0 {
                let start = (cheap_rand() % n as u64) as usize;
                for k in 0..n {
                    let i = (start + k) % n;
                    if self.cases[i].poll() {
                        return Ok(self.cases.swap_remove(i).finish());
                    }
                }
            }
            // 2. Default.
            let deadline = match self.otherwise {
                Otherwise::Default(f) => return Ok(f()),
                Otherwise::Timeout(d, _) => Some(d),
                Otherwise::Never => None,
            };
            // 3. Enqueue on every case, sharing one claim.
            let claim = Arc::new(AtomicBool::new(false));
            let mut fired = None;
            let mut retry = false;
            for i in 0..n {
                match self.cases[i].enqueue(&claim) {
                    Enq::Queued => {}
                    Enq::Fired => {
                        fired = Some(i);
                        break;
                    }
                    Enq::Lost => break, // a queued case fired: found below
                    Enq::Retry => {
                        retry = true;
                        break;
                    }
                }
            }
            if retry {
                // The claim is ours and stale now: leave every queue and
                // start over.
                for c in &mut self.cases {
                    c.dequeue();
                }
                continue;
            }
            // 4. Park until a case fires, the deadline passes or a cancel.
            let mut cancelled = None;
            if fired.is_none() {
                fired = loop {
                    if let Some(i) = (0..n).find(|&i| self.cases[i].fired()) {
                        break Some(i);
                    }
                    let expired = deadline.is_some_and(|d| d <= Instant::now());
                    if expired || cancelled.is_some() {
                        // 5. Claim it ourselves: nothing fired, unless a
                        // case won the claim just now.
                        if !claim.swap(true, Ordering::AcqRel) {
                            break None;
                        }
                        // The peer fills the slot under its channel's
                        // lock, which dequeueing takes; the case it fired
                        // keeps its outcome in `result` as it leaves.
                        for c in &mut self.cases {
                            c.dequeue();
                        }
                        let i = (0..n)
                            .find(|&i| self.cases[i].fired())
                            .expect("the claim was won by one of our cases");
                        break Some(i);
                    }
                    if let Err(e) = park::park(WaitReason::Select, deadline) {
                        cancelled = Some(e);
                    }
                };
            }
            // 6. Dequeue every other case.
            for (i, c) in self.cases.iter_mut().enumerate() {
                if fired != Some(i) {
                    c.dequeue();
                }
            }
            return match fired {
                Some(i) => Ok(self.cases.swap_remove(i).finish()),
                None => match (cancelled, self.otherwise) {
                    (Some(e), _) => Err(e),
                    (None, Otherwise::Timeout(_, f)) => Ok(f()),
                    (None, _) => unreachable!("only a deadline or a cancel ends an unfired wait"),
                },
            };
        }
    }
}
