//! `Mutex`: a lock whose waiters park (Go's `sync.Mutex` in starvation mode,
//! and the `fdMutex` write lock that keeps one `write_all` in one piece).
//!
//! # The lock word
//!
//! ```text
//!   state       who moves it                                     to
//!   ──────────  ───────────────────────────────────────────────  ──────────
//!   UNLOCKED    lock, fast path: CAS                              LOCKED
//!   LOCKED      unlock, fast path: CAS                            UNLOCKED
//!   LOCKED      lock, slow path, under the queue lock: CAS,       CONTENDED
//!               then queues itself and parks
//!   CONTENDED   unlock, under the queue lock: pops the first      CONTENDED, or LOCKED
//!               waiter and hands the lock to it (the state        when that was the
//!               never passes through UNLOCKED), unparks it        last waiter
//!               after dropping the queue lock
//!   CONTENDED   unlock, under the queue lock, every waiter gone   UNLOCKED
//!   CONTENDED   a waiter that gives up (cancelled, or unwound     LOCKED when it was
//!               at shutdown), under the queue lock: leaves the    the last waiter
//!               queue (if the lock was handed to it first, it
//!               keeps it, or releases it when unwinding)
//! ```
//!
//! CONTENDED means "held, and look in the queue when you unlock"; only holders
//! of the queue lock move the word out of it, so the fast paths (which only
//! touch UNLOCKED and LOCKED) cannot race with the queue.
//!
//! **Hand-off, not barging:** an unlock with waiters gives the lock to the
//! oldest waiter, so waiters are served in arrival order and a task that locks
//! in a loop cannot starve the others (Go switches to this mode after a waiter
//! has waited 1 ms; netpark is always in it: a woken task runs only when its
//! worker gets to it, so a barging locker would nearly always win).
//!
//! A waiter learns it owns the lock by finding its ticket gone from the queue
//! (only a hand-off removes another's ticket). Wake-ups are hints, as
//! everywhere in netpark: a woken waiter whose ticket is still queued parks
//! again.
//!
//! [`RawMutex`] is the lock alone (a one-byte word and the queue), for what
//! is not a Rust value (an `io::pipe`'s write side). [`Mutex<T>`] adds the
//! value, kept in a `parking_lot::Mutex` that is always free when the
//! `RawMutex` is taken (only its holder touches it), so the guard needs no
//! `unsafe`. The queue is [`LockQueue`], which runs the table above on any
//! word that implements [`LockWord`]: the net crate's fd write lock keeps
//! its three states in the fd's reference word (Go's `fdMutex`), so that
//! one CAS takes the lock and a reference to the fd together.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU8, Ordering};

use crate::task::park::{self, current_unparker, Unparker, WaitReason};

const UNLOCKED: u8 = 0;
const LOCKED: u8 = 1;
const CONTENDED: u8 = 2;

/// A mutual-exclusion lock for tasks and threads: a contended `lock` parks the
/// caller (its worker runs other tasks meanwhile), so the guard may be held
/// across socket I/O, sleeps and joins.
///
/// Waiters are served in arrival order. There is no poisoning: a panic while
/// holding the guard releases the lock as the guard drops.
///
/// ```
/// use std::sync::Arc;
/// let total = netpark_runtime::run(|| {
///     let count = Arc::new(netpark_runtime::sync::Mutex::new(0));
///     let tasks: Vec<_> = (0..4)
///         .map(|_| {
///             let count = count.clone();
///             netpark_runtime::spawn(move || {
///                 let mut n = count.lock().unwrap();
///                 netpark_runtime::yield_now(); // held across a switch
///                 *n += 1;
///             })
///         })
///         .collect();
///     tasks.into_iter().for_each(|t| t.join().unwrap());
///     let n = *count.lock().unwrap();
///     n
/// });
/// assert_eq!(total, 4);
/// ```
pub struct Mutex<T: ?Sized> {
    /// The lock itself.
    raw: RawMutex,
    /// The value; locked only by the holder of `raw`, so never contended.
    data: parking_lot::Mutex<T>,
}

/// The lock of a [`Mutex`] without a value: for what Rust's borrows cannot
/// see, such as the write side of an fd. Same waiting, order and errors.
#[derive(Debug)]
#[repr(C)]
pub struct RawMutex {
    /// UNLOCKED / LOCKED / CONTENDED; see the module docs for who moves it.
    state: ByteWord,
    /// Parked lockers; moves the word out of CONTENDED.
    queue: LockQueue,
}

/// Proof of holding a [`RawMutex`]; releases it on drop.
#[derive(Debug)]
pub struct RawMutexGuard<'a>(&'a RawMutex);

/// The waiters of one `Mutex`.
#[derive(Debug, Default)]
struct Queue {
    /// Ticket for the next waiter; tells a woken waiter whether it was handed the lock.
    next_ticket: u64,
    /// (ticket, who to wake), oldest first.
    waiters: VecDeque<(u64, Unparker)>,
}

/// Proof of holding a [`Mutex`]; releases it on drop.
pub struct MutexGuard<'a, T: ?Sized> {
    /// The mutex this guard holds, for `Condvar::wait` to lock again.
    owner: &'a Mutex<T>,
    /// The lock to release.
    lock: &'a RawMutex,
    /// The value's inner guard; `None` only inside `drop`, which releases it
    /// before handing the lock on.
    data: Option<parking_lot::MutexGuard<'a, T>>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex.
    pub const fn new(value: T) -> Mutex<T> {
        Mutex {
            raw: RawMutex::new(),
            data: parking_lot::const_mutex(value),
        }
    }

    /// Consumes the mutex, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// Takes the lock, parking the caller while another holds it.
    ///
    /// # Errors
    ///
    /// [`error::cancelled`](crate::error::cancelled) when the calling task is
    /// cancelled before or while it waits, and
    /// [`error::shut_down`](crate::error::shut_down) for a wait made while the
    /// runtime unwinds the task at shutdown. The caller then does not hold
    /// the lock and is no longer queued.
    pub fn lock(&self) -> io::Result<MutexGuard<'_, T>> {
        let raw = self.raw.lock()?;
        Ok(self.guard(raw))
    }

    /// Takes the lock if it is free, without waiting.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, T>> {
        self.raw.try_lock().map(|raw| self.guard(raw))
    }

    /// The value, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    fn guard<'a>(&'a self, raw: RawMutexGuard<'a>) -> MutexGuard<'a, T> {
        let data = self
            .data
            .try_lock()
            .expect("netpark Mutex: the value is free while the lock is held");
        // The MutexGuard releases the raw lock itself, after the value.
        std::mem::forget(raw);
        MutexGuard {
            owner: self,
            lock: &self.raw,
            data: Some(data),
        }
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// The mutex this guard holds.
    pub(crate) fn mutex(guard: &Self) -> &'a Mutex<T> {
        guard.owner
    }
}

impl RawMutex {
    /// A new, unlocked lock.
    pub const fn new() -> RawMutex {
        RawMutex {
            state: ByteWord(AtomicU8::new(UNLOCKED)),
            queue: LockQueue::new(),
        }
    }

    /// Takes the lock, parking the caller while another holds it.
    ///
    /// # Errors
    ///
    /// As [`Mutex::lock`].
    #[inline]
    pub fn lock(&self) -> io::Result<RawMutexGuard<'_>> {
        self.queue.lock(&self.state)?;
        Ok(RawMutexGuard(self))
    }

    /// Takes the lock if it is free, without waiting.
    #[inline]
    pub fn try_lock(&self) -> Option<RawMutexGuard<'_>> {
        matches!(self.state.try_lock(), Ok(true)).then(|| RawMutexGuard(self))
    }

    /// Releases the lock, handing it to the oldest waiter if there is one.
    #[inline]
    fn unlock(&self) {
        self.queue.unlock(&self.state);
    }
}

/// The word a lock keeps its state in, when that word is not the lock's
/// own: the net crate's fd word also counts the fd's references and
/// refuses the lock once the fd is closed (Go's `fdMutex`), so that one
/// atomic operation takes the lock and a reference together.
///
/// The word has the three states of the module docs (free, held, held with
/// waiters: UNLOCKED, LOCKED, CONTENDED) beside whatever else it holds, and
/// [`LockQueue`] drives them through these transitions, the `under the
/// queue lock` ones only while it holds its queue's lock.
pub trait LockWord {
    /// UNLOCKED → LOCKED: `Ok(true)`. `Ok(false)`: held (LOCKED or
    /// CONTENDED). An error refuses the lock and changes nothing.
    ///
    /// # Errors
    ///
    /// Whatever the word's owner refuses the lock with.
    fn try_lock(&self) -> io::Result<bool>;
    /// Under the queue lock: UNLOCKED → LOCKED (`Ok(true)`), or LOCKED →
    /// CONTENDED, or already CONTENDED (`Ok(false)`: the caller queues).
    ///
    /// # Errors
    ///
    /// As [`try_lock`](Self::try_lock).
    fn lock_or_contend(&self) -> io::Result<bool>;
    /// LOCKED → UNLOCKED; `false`, changing nothing, when CONTENDED.
    fn try_unlock(&self) -> bool;
    /// Under the queue lock: CONTENDED → LOCKED (the last waiter was handed
    /// the lock, or left the queue).
    fn uncontend(&self);
    /// Under the queue lock: CONTENDED → UNLOCKED (no waiter left to hand
    /// the lock to).
    fn unlock_contended(&self);
}

/// [`RawMutex`]'s word: one byte, UNLOCKED / LOCKED / CONTENDED.
#[derive(Debug)]
struct ByteWord(AtomicU8);

impl LockWord for ByteWord {
    #[inline]
    fn try_lock(&self) -> io::Result<bool> {
        Ok(self
            .0
            .compare_exchange(UNLOCKED, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok())
    }

    fn lock_or_contend(&self) -> io::Result<bool> {
        let mut seen = self.0.load(Ordering::Relaxed);
        loop {
            let (from, to) = match seen {
                UNLOCKED => (UNLOCKED, LOCKED),
                LOCKED => (LOCKED, CONTENDED),
                _ => return Ok(false),
            };
            match self
                .0
                .compare_exchange(from, to, Ordering::Acquire, Ordering::Relaxed)
            {
                Ok(_) => return Ok(from == UNLOCKED),
                Err(now) => seen = now,
            }
        }
    }

    #[inline]
    fn try_unlock(&self) -> bool {
        self.0
            .compare_exchange(LOCKED, UNLOCKED, Ordering::Release, Ordering::Relaxed)
            .is_ok()
    }

    fn uncontend(&self) {
        self.0.store(LOCKED, Ordering::Relaxed);
    }

    fn unlock_contended(&self) {
        self.0.store(UNLOCKED, Ordering::Release);
    }
}

/// The parked lockers of a lock whose word ([`LockWord`]) may live
/// elsewhere: the waiting, the arrival order, the hand-off and the
/// cancellation of the module docs, for any word.
#[derive(Debug)]
pub struct LockQueue {
    /// Parked lockers in arrival order; touched by the slow paths only.
    queue: parking_lot::Mutex<Queue>,
}

impl Default for LockQueue {
    fn default() -> LockQueue {
        LockQueue::new()
    }
}

impl LockQueue {
    /// An empty queue.
    pub const fn new() -> LockQueue {
        LockQueue {
            queue: parking_lot::const_mutex(Queue {
                next_ticket: 0,
                waiters: VecDeque::new(),
            }),
        }
    }

    /// Takes the lock whose state is `word`, parking the caller while
    /// another holds it. `Ok` means the caller holds it and must release it
    /// with [`unlock`](Self::unlock) on the same word.
    ///
    /// # Errors
    ///
    /// As [`Mutex::lock`], and whatever `word` refuses the lock with.
    #[inline]
    pub fn lock<W: LockWord + ?Sized>(&self, word: &W) -> io::Result<()> {
        if word.try_lock()? {
            return Ok(());
        }
        self.lock_slow(word)
    }

    /// Queues the caller and parks it until the lock is handed to it.
    #[cold]
    fn lock_slow<W: LockWord + ?Sized>(&self, word: &W) -> io::Result<()> {
        let ticket = {
            let mut q = self.queue.lock();
            if word.lock_or_contend()? {
                return Ok(());
            }
            let ticket = q.next_ticket;
            q.next_ticket += 1;
            q.waiters.push_back((ticket, current_unparker()));
            ticket
        };
        let queued = Queued {
            queue: self,
            word,
            ticket,
        };
        loop {
            let woke = park::park(WaitReason::MutexLock, None);
            let result = match woke {
                // Handed over by `unlock` (our ticket is gone): we hold the
                // lock. Otherwise a wake-up meant for an earlier wait.
                Ok(()) if !self.queue.lock().waiters.iter().any(|(t, _)| *t == ticket) => Ok(()),
                Ok(()) => continue,
                // Cancelled or shut down, unless the hand-off came first: then
                // we hold the lock (the cancel shows at the task's next wait).
                Err(e) if queued.leave() => Err(e),
                Err(_) => Ok(()),
            };
            std::mem::forget(queued);
            return result;
        }
    }

    /// Releases the lock whose state is `word` (the caller holds it),
    /// handing it to the oldest waiter if there is one.
    #[inline]
    pub fn unlock<W: LockWord + ?Sized>(&self, word: &W) {
        if !word.try_unlock() {
            self.unlock_slow(word);
        }
    }

    /// Hands the lock to the oldest waiter (the word is CONTENDED).
    #[cold]
    fn unlock_slow<W: LockWord + ?Sized>(&self, word: &W) {
        let next = {
            let mut q = self.queue.lock();
            match q.waiters.pop_front() {
                Some((_, u)) => {
                    if q.waiters.is_empty() {
                        word.uncontend();
                    }
                    Some(u)
                }
                None => {
                    word.unlock_contended();
                    None
                }
            }
        };
        // Never wake while holding a lock.
        if let Some(u) = next {
            u.unpark();
        }
    }
}

/// A waiter's place in the queue, from its push to its return.
///
/// Dropped only by unwinding out of `park` (a runtime unwinding its parked
/// tasks at shutdown; the normal returns forget it): it then leaves the queue,
/// or, if the lock was handed to it meanwhile, releases it. Without this an
/// unlock would later hand the lock to a task that no longer exists, and
/// every other locker would wait forever
/// (`a_waiter_unwound_at_shutdown_leaves_the_queue`).
struct Queued<'a, W: LockWord + ?Sized> {
    /// The queue waited in.
    queue: &'a LockQueue,
    /// The lock's word.
    word: &'a W,
    /// Our entry in the queue.
    ticket: u64,
}

impl<W: LockWord + ?Sized> Queued<'_, W> {
    /// Leaves the queue and returns true; false if the lock was handed to us
    /// first (we hold it).
    fn leave(&self) -> bool {
        let mut q = self.queue.queue.lock();
        let Some(i) = q.waiters.iter().position(|(t, _)| *t == self.ticket) else {
            return false;
        };
        q.waiters.remove(i);
        if q.waiters.is_empty() {
            // Still held by someone; nobody left to hand it to.
            self.word.uncontend();
        }
        true
    }
}

impl<W: LockWord + ?Sized> Drop for Queued<'_, W> {
    fn drop(&mut self) {
        if !self.leave() {
            self.queue.unlock(self.word);
        }
    }
}

impl Default for RawMutex {
    fn default() -> RawMutex {
        RawMutex::new()
    }
}

impl Drop for RawMutexGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.unlock();
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Mutex<T> {
        Mutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Mutex");
        match self.try_lock() {
            Some(g) => d.field("data", &&*g),
            None => d.field("data", &format_args!("<locked>")),
        };
        d.finish_non_exhaustive()
    }
}

impl<T: ?Sized> Deref for MutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data
            .as_ref()
            .expect("guard holds its value until drop")
    }
}

impl<T: ?Sized> DerefMut for MutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data
            .as_mut()
            .expect("guard holds its value until drop")
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    fn drop(&mut self) {
        // The value first, so the next holder finds it free.
        self.data = None;
        self.lock.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
