//! `OnceLock`: a value made once, on first use, by whichever caller comes
//! first (std's `OnceLock`, Go's `sync.OnceValue`), whose other callers
//! park while it is being made.
//!
//! std's `OnceLock` blocks the calling *thread* while another initialises
//! it. In a task that is the whole worker: if the initialiser parks (a
//! dial, a read, a sleep) and a second task on the same worker asks for the
//! value, the worker sleeps in a futex, the initialiser can never be
//! resumed, and both hang. Here the second caller parks as a task.
//!
//! # The cell (under `state`)
//!
//! ```text
//!   EMPTY     get_or_init: → RUNNING, runs f without the lock
//!   RUNNING   other callers queue and park (wait reason sync.Once.Do)
//!   RUNNING   f returns: the value is stored, → SET, every waiter woken
//!   RUNNING   f panics: → EMPTY, every waiter woken; the first to take the
//!             lock runs its own f (std's rule: a panic leaves it unset)
//!   SET       get and get_or_init return the value at once, with no lock
//! ```
//!
//! SET is `value` being set (a `std::sync::OnceLock`, read lock-free);
//! RUNNING is `running`. Only the caller that moved EMPTY → RUNNING sets
//! `value`, and it does so before it takes the lock to leave RUNNING, so a
//! woken waiter that finds `running` false under the lock sees the value.

use std::fmt;
use std::io;

use parking_lot::Mutex;

use crate::task::park::{self, current_unparker, current_waiter_id, Unparker, WaitReason};

/// A value initialised once, whose concurrent initialisers park; see the
/// module docs.
///
/// ```
/// use netpark_runtime::sync::OnceLock;
/// static CONFIG: OnceLock<String> = OnceLock::new();
/// netpark_runtime::run(|| {
///     let tasks: Vec<_> = (0..4)
///         .map(|_| {
///             netpark_runtime::spawn(|| {
///                 CONFIG
///                     .get_or_init(|| {
///                         // May park: the other callers wait as tasks.
///                         netpark_runtime::sleep(std::time::Duration::from_millis(5)).unwrap();
///                         "loaded".to_string()
///                     })
///                     .unwrap()
///                     .len()
///             })
///         })
///         .collect();
///     for t in tasks {
///         assert_eq!(t.join().unwrap(), 6);
///     }
/// });
/// ```
pub struct OnceLock<T> {
    /// The value once set (SET); written only by the RUNNING caller.
    value: std::sync::OnceLock<T>,
    /// RUNNING, and the parked callers; moved under this lock only.
    state: Mutex<(bool, Vec<Unparker>)>,
}

impl<T> Default for OnceLock<T> {
    fn default() -> Self {
        OnceLock::new()
    }
}

impl<T: fmt::Debug> fmt::Debug for OnceLock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnceLock")
            .field("value", &self.value.get())
            .finish()
    }
}

/// Leaves RUNNING when the initialiser returns or unwinds, and wakes the
/// waiters after the lock.
struct LeaveRunning<'a, T>(&'a OnceLock<T>);

impl<T> Drop for LeaveRunning<'_, T> {
    fn drop(&mut self) {
        let woken = {
            let mut s = self.0.state.lock();
            s.0 = false;
            std::mem::take(&mut s.1)
        };
        for u in woken {
            u.unpark();
        }
    }
}

impl<T> OnceLock<T> {
    /// An empty cell.
    pub const fn new() -> OnceLock<T> {
        OnceLock {
            value: std::sync::OnceLock::new(),
            state: parking_lot::const_mutex((false, Vec::new())),
        }
    }

    /// The value, if it has been set.
    pub fn get(&self) -> Option<&T> {
        self.value.get()
    }

    /// The value, made by `f` if no call has made it yet (std's
    /// `get_or_init`). A caller that comes while another's `f` runs parks
    /// until it returns. If `f` panics, the panic goes on to its caller and
    /// the cell stays empty: the next caller runs its own `f`.
    ///
    /// # Errors
    ///
    /// `Interrupted` when a waiting task is cancelled.
    pub fn get_or_init(&self, f: impl FnOnce() -> T) -> io::Result<&T> {
        if let Some(v) = self.value.get() {
            return Ok(v);
        }
        let me = current_waiter_id();
        loop {
            {
                let mut s = self.state.lock();
                if let Some(v) = self.value.get() {
                    return Ok(v);
                }
                if !s.0 {
                    s.0 = true;
                    break;
                }
                if !s.1.iter().any(|u| u.id() == me) {
                    s.1.push(current_unparker());
                }
            }
            if let Err(e) = park::park(WaitReason::Once, None) {
                self.state.lock().1.retain(|u| u.id() != me);
                return Err(e);
            }
        }
        let leave = LeaveRunning(self);
        let v = f();
        // Only the RUNNING caller sets it, so this cannot find it set.
        let stored = self.value.set(v).is_ok();
        drop(leave);
        debug_assert!(stored, "OnceLock set by someone not RUNNING");
        Ok(self.value.get().expect("set just now"))
    }

    /// The value, if set, taking the cell.
    pub fn into_inner(self) -> Option<T> {
        self.value.into_inner()
    }
}
