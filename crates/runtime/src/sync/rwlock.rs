//! `RwLock`: many readers or one writer, waiters parked (Go's
//! `sync.RWMutex`), writers never starved.
//!
//! # The lock (under `RwLock::state`)
//!
//! ```text
//!   readers   how many hold it to read
//!   writer    whether one holds it to write
//!   queue     waiters in arrival order, each Read or Write with a ticket
//!
//!   read()    granted at once when no writer holds it and nobody is
//!             queued (a queued writer stops new readers: writers are not
//!             starved); else queues
//!   write()   granted at once when nobody holds it and nobody is queued;
//!             else queues
//!   try_read(), try_write()
//!             granted by the same rules, or refused at once (never queue)
//!   release   the last reader or the writer hands the lock on: a Write at
//!             the head of the queue gets it alone; a run of Reads at the
//!             head all get it together. Granted waiters leave the queue
//!             and are woken after the lock is dropped.
//! ```
//!
//! A waiter knows it holds the lock once its ticket has left the queue; one
//! that gives up (cancel) leaves the queue itself, and if it was granted
//! first it keeps the lock (the cancel shows at its next wait), as `Mutex`.
//! The value sits in a `parking_lot::RwLock` that the grant logic makes
//! uncontended, so the guards need no `unsafe`.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};

use parking_lot::Mutex as PlMutex;

use crate::task::park::{self, current_unparker, Unparker, WaitReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Read,
    Write,
}

#[derive(Default)]
struct State {
    /// Readers holding the lock.
    readers: usize,
    /// Whether a writer holds it.
    writer: bool,
    /// Next ticket.
    next: u64,
    /// Waiters in arrival order.
    queue: VecDeque<(u64, Want, Unparker)>,
}

impl State {
    /// Takes the lock for `want` if the table above grants it at once.
    fn try_take(&mut self, want: Want) -> bool {
        let free = match want {
            Want::Read => !self.writer && self.queue.is_empty(),
            Want::Write => !self.writer && self.readers == 0 && self.queue.is_empty(),
        };
        if free {
            match want {
                Want::Read => self.readers += 1,
                Want::Write => self.writer = true,
            }
        }
        free
    }

    /// Grants the lock to the head of the queue where it can be; the
    /// waiters to wake.
    fn grant(&mut self) -> Vec<Unparker> {
        let mut woken = Vec::new();
        if self.writer {
            return woken;
        }
        while let Some(&(_, want, _)) = self.queue.front() {
            match want {
                Want::Write if self.readers == 0 && woken.is_empty() => {
                    let (_, _, u) = self.queue.pop_front().expect("front exists");
                    self.writer = true;
                    woken.push(u);
                    break;
                }
                Want::Write => break,
                Want::Read => {
                    let (_, _, u) = self.queue.pop_front().expect("front exists");
                    self.readers += 1;
                    woken.push(u);
                }
            }
        }
        woken
    }
}

/// A reader-writer lock whose waiters park (Go's `sync.RWMutex`).
///
/// ```
/// netpark_runtime::run(|| {
///     let l = netpark_runtime::sync::RwLock::new(1);
///     {
///         let a = l.read().unwrap();
///         let b = l.read().unwrap(); // readers share it
///         assert_eq!(*a + *b, 2);
///     }
///     *l.write().unwrap() += 1;
///     assert_eq!(*l.read().unwrap(), 2);
/// });
/// ```
pub struct RwLock<T: ?Sized> {
    /// Who holds it and who waits.
    state: PlMutex<State>,
    /// The value; locked only as the state grants, so never contended.
    data: parking_lot::RwLock<T>,
}

/// Shared access; releases on drop.
pub struct RwLockReadGuard<'a, T: ?Sized> {
    /// The lock to release.
    lock: &'a RwLock<T>,
    /// The value's inner guard; `None` only inside `drop`.
    data: Option<parking_lot::RwLockReadGuard<'a, T>>,
}

/// Exclusive access; releases on drop.
pub struct RwLockWriteGuard<'a, T: ?Sized> {
    /// The lock to release.
    lock: &'a RwLock<T>,
    /// The value's inner guard; `None` only inside `drop`.
    data: Option<parking_lot::RwLockWriteGuard<'a, T>>,
}

impl<T> RwLock<T> {
    /// A new, free lock around `value`.
    pub fn new(value: T) -> RwLock<T> {
        RwLock {
            state: PlMutex::new(State::default()),
            data: parking_lot::RwLock::new(value),
        }
    }

    /// Consumes the lock, returning the value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    fn acquire(&self, want: Want) -> io::Result<()> {
        let ticket = {
            let mut s = self.state.lock();
            if s.try_take(want) {
                return Ok(());
            }
            let t = s.next;
            s.next += 1;
            s.queue.push_back((t, want, current_unparker()));
            t
        };
        loop {
            let reason = match want {
                Want::Read => WaitReason::RwLockRead,
                Want::Write => WaitReason::RwLockWrite,
            };
            let r = park::park(reason, None);
            let mut s = self.state.lock();
            if !s.queue.iter().any(|(t, _, _)| *t == ticket) {
                return Ok(()); // granted (a cancel shows at the next wait)
            }
            if let Err(e) = r {
                s.queue.retain(|(t, _, _)| *t != ticket);
                // Leaving may free the head for others (a writer that was
                // holding readers back).
                let woken = s.grant();
                drop(s);
                for u in woken {
                    u.unpark();
                }
                return Err(e);
            }
        }
    }

    fn release(&self, want: Want) {
        let woken = {
            let mut s = self.state.lock();
            match want {
                Want::Read => s.readers -= 1,
                Want::Write => s.writer = false,
            }
            if s.readers == 0 {
                s.grant()
            } else {
                Vec::new()
            }
        };
        // Lock dropped: wake outside it.
        for u in woken {
            u.unpark();
        }
    }

    /// Takes the lock to read, parking while a writer holds it or waits.
    ///
    /// # Errors
    ///
    /// `Interrupted` when the task is cancelled while it waits.
    pub fn read(&self) -> io::Result<RwLockReadGuard<'_, T>> {
        self.acquire(Want::Read)?;
        Ok(self.read_guard())
    }

    /// Takes the lock to read if that needs no wait (Go's `TryRLock`): no
    /// writer holds it and none waits.
    pub fn try_read(&self) -> Option<RwLockReadGuard<'_, T>> {
        self.state
            .lock()
            .try_take(Want::Read)
            .then(|| self.read_guard())
    }

    /// Takes the lock to write, parking while anyone holds it.
    ///
    /// # Errors
    ///
    /// As [`read`](Self::read).
    pub fn write(&self) -> io::Result<RwLockWriteGuard<'_, T>> {
        self.acquire(Want::Write)?;
        Ok(self.write_guard())
    }

    /// Takes the lock to write if that needs no wait (Go's `TryLock`):
    /// nobody holds it and nobody waits.
    pub fn try_write(&self) -> Option<RwLockWriteGuard<'_, T>> {
        self.state
            .lock()
            .try_take(Want::Write)
            .then(|| self.write_guard())
    }

    /// The value, through a unique borrow (no locking needed).
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// The guard of a read the state has granted.
    fn read_guard(&self) -> RwLockReadGuard<'_, T> {
        let data = self
            .data
            .try_read()
            .expect("netpark RwLock: the value is free for readers");
        RwLockReadGuard {
            lock: self,
            data: Some(data),
        }
    }

    /// The guard of a write the state has granted.
    fn write_guard(&self) -> RwLockWriteGuard<'_, T> {
        let data = self
            .data
            .try_write()
            .expect("netpark RwLock: the value is free for the writer");
        RwLockWriteGuard {
            lock: self,
            data: Some(data),
        }
    }
}

impl<T: ?Sized> Deref for RwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data.as_deref().expect("guard holds its data")
    }
}

impl<T: ?Sized> Deref for RwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.data.as_deref().expect("guard holds its data")
    }
}

impl<T: ?Sized> DerefMut for RwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        self.data.as_deref_mut().expect("guard holds its data")
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    fn drop(&mut self) {
        self.data = None;
        self.lock.release(Want::Read);
    }
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    fn drop(&mut self) {
        self.data = None;
        self.lock.release(Want::Write);
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> RwLock<T> {
        RwLock::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for RwLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.state.lock();
        f.debug_struct("RwLock")
            .field("readers", &s.readers)
            .field("writer", &s.writer)
            .field("waiting", &s.queue.len())
            .finish()
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
