//! `Notify` (tokio's `Notify`) and `Condvar` (std's, for
//! [`Mutex`](super::Mutex)): waits for a signal that park the task.
//!
//! # Notify (under its lock)
//!
//! ```text
//!   permit    notify_one() with nobody waiting stores one permit (at most
//!             one); the next notified() consumes it and returns at once
//!   waiters   notified() queues (ticket, unparker) and parks; notify_one
//!             pops the oldest and wakes it after the lock; notify_all
//!             pops them all. A waiter is notified exactly when its ticket
//!             has left the queue; one that gives up (cancel) leaves it
//!             itself, and if a notify took it first, it counts as notified.
//! ```
//!
//! `Condvar` is a `Notify` without the permit, plus the unlock and relock
//! of the mutex around the wait: the waiter queues itself *before* it
//! releases the mutex, so a notify made after the release cannot be lost.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use parking_lot::Mutex as PlMutex;

use super::mutex::{Mutex, MutexGuard};
use crate::task::park::{self, current_unparker, Unparker, WaitReason};

#[derive(Default)]
struct Waiters {
    /// Set by a notify_one that found nobody (Notify only).
    permit: bool,
    /// Next ticket.
    next: u64,
    /// Parked waiters, oldest first.
    queue: VecDeque<(u64, Unparker)>,
}

impl Waiters {
    fn enqueue(&mut self) -> u64 {
        let t = self.next;
        self.next += 1;
        self.queue.push_back((t, current_unparker()));
        t
    }
}

/// Parks until notified; true if a notify took our ticket, false if the
/// wait ended (cancel, deadline) with the ticket still queued (removed).
fn wait_ticket(
    w: &PlMutex<Waiters>,
    ticket: u64,
    reason: WaitReason,
    deadline: Option<Instant>,
) -> io::Result<bool> {
    loop {
        let r = park::park(reason, deadline);
        let mut g = w.lock();
        let queued = g.queue.iter().any(|(t, _)| *t == ticket);
        if !queued {
            return Ok(true);
        }
        let expired = deadline.is_some_and(|d| d <= Instant::now());
        if r.is_err() || expired {
            g.queue.retain(|(t, _)| *t != ticket);
            drop(g);
            return r.map(|()| false);
        }
    }
}

/// A signal between tasks (tokio's `Notify`).
///
/// ```
/// use std::sync::Arc;
/// netpark_runtime::run(|| {
///     let n = Arc::new(netpark_runtime::sync::Notify::new());
///     let n2 = n.clone();
///     let waiter = netpark_runtime::spawn(move || n2.notified().unwrap());
///     n.notify_one();
///     waiter.join().unwrap();
/// });
/// ```
#[derive(Default)]
pub struct Notify {
    /// The permit and the parked waiters.
    w: PlMutex<Waiters>,
}

impl fmt::Debug for Notify {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let g = self.w.lock();
        f.debug_struct("Notify")
            .field("permit", &g.permit)
            .field("waiters", &g.queue.len())
            .finish()
    }
}

impl Notify {
    /// A `Notify` with no permit and no waiter.
    pub fn new() -> Notify {
        Notify::default()
    }

    /// Parks until notified; returns at once if a permit is stored.
    ///
    /// # Errors
    ///
    /// `Interrupted` when the task is cancelled first.
    pub fn notified(&self) -> io::Result<()> {
        let ticket = {
            let mut g = self.w.lock();
            if g.permit {
                g.permit = false;
                return Ok(());
            }
            g.enqueue()
        };
        wait_ticket(&self.w, ticket, WaitReason::Notified, None).map(drop)
    }

    /// Wakes the oldest waiter, or stores a permit for the next one.
    pub fn notify_one(&self) {
        let woken = {
            let mut g = self.w.lock();
            match g.queue.pop_front() {
                Some((_, u)) => Some(u),
                None => {
                    g.permit = true;
                    None
                }
            }
        };
        // Lock dropped: wake outside it.
        if let Some(u) = woken {
            u.unpark();
        }
    }

    /// Wakes every waiter now (no permit is stored).
    pub fn notify_waiters(&self) {
        let woken = std::mem::take(&mut self.w.lock().queue);
        // Lock dropped: wake outside it.
        for (_, u) in woken {
            u.unpark();
        }
    }
}

/// A condition variable for [`Mutex`] (std's `Condvar`, Go's `sync.Cond`).
#[derive(Default)]
pub struct Condvar {
    /// The parked waiters (the permit is unused).
    w: PlMutex<Waiters>,
}

impl fmt::Debug for Condvar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condvar")
            .field("waiters", &self.w.lock().queue.len())
            .finish()
    }
}

impl Condvar {
    /// A condition variable with no waiter.
    pub fn new() -> Condvar {
        Condvar::default()
    }

    /// Releases `guard`'s mutex, parks until notified, and locks it again
    /// (std's `Condvar::wait`). Wake-ups may be spurious: loop on the
    /// condition.
    ///
    /// # Errors
    ///
    /// `Interrupted` when the task is cancelled; the mutex is then not held.
    pub fn wait<'a, T: ?Sized>(&self, guard: MutexGuard<'a, T>) -> io::Result<MutexGuard<'a, T>> {
        self.wait_deadline(guard, None).map(|(g, _)| g)
    }

    /// [`wait`](Self::wait) until `deadline` at the latest; the flag says
    /// whether it was notified (false: the deadline passed).
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_deadline<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        deadline: Option<Instant>,
    ) -> io::Result<(MutexGuard<'a, T>, bool)> {
        let mutex: &'a Mutex<T> = MutexGuard::mutex(&guard);
        // Queue first, then release: a notify after the release finds us.
        let ticket = self.w.lock().enqueue();
        drop(guard);
        let notified = wait_ticket(&self.w, ticket, WaitReason::CondWait, deadline)?;
        Ok((mutex.lock()?, notified))
    }

    /// [`wait`](Self::wait) for at most `timeout` (std's
    /// `Condvar::wait_timeout`); the flag says whether it was notified.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_timeout<'a, T: ?Sized>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> io::Result<(MutexGuard<'a, T>, bool)> {
        self.wait_deadline(guard, Some(crate::time::deadline_after(timeout)))
    }

    /// Waits while `condition` holds for the guarded value, re-checking it
    /// after every wake-up (std's `Condvar::wait_while`); returns with the
    /// mutex held and the condition false.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    pub fn wait_while<'a, T: ?Sized>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: impl FnMut(&mut T) -> bool,
    ) -> io::Result<MutexGuard<'a, T>> {
        while condition(&mut *guard) {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// Wakes the oldest waiter.
    pub fn notify_one(&self) {
        let woken = self.w.lock().queue.pop_front();
        // Lock dropped: wake outside it.
        if let Some((_, u)) = woken {
            u.unpark();
        }
    }

    /// Wakes every waiter.
    pub fn notify_all(&self) {
        let woken = std::mem::take(&mut self.w.lock().queue);
        // Lock dropped: wake outside it.
        for (_, u) in woken {
            u.unpark();
        }
    }
}
