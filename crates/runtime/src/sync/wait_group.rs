//! `WaitGroup` (Go's `sync.WaitGroup`) and `Once` (Go's `sync.Once`), whose
//! waiters park.
//!
//! # WaitGroup (under its lock)
//!
//! ```text
//!   count     add(n) adds n; done() subtracts 1; below 0 panics (as Go);
//!             go(f) adds 1 and its task's end subtracts it
//!   waiters   wait() with count > 0 queues itself and parks; the call that
//!             brings count to 0 takes every waiter and wakes them after
//!             the lock
//! ```
//!
//! # Once (under its lock)
//!
//! ```text
//!   NEW       the first call_once: → RUNNING, runs f without the lock
//!   RUNNING   other callers queue and park
//!   RUNNING   f returns (or panics: Go counts that as done) → DONE, wakes all
//!   DONE      call_once returns at once
//! ```

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::task::park::{self, current_unparker, current_waiter_id, Unparker, WaitReason};

/// Waits for a group of tasks to finish (Go's `sync.WaitGroup`). Clones
/// share one counter.
///
/// ```
/// netpark_runtime::run(|| {
///     let wg = netpark_runtime::sync::WaitGroup::new();
///     for _ in 0..10 {
///         wg.add(1);
///         let wg = wg.clone();
///         netpark_runtime::spawn(move || wg.done());
///     }
///     wg.wait().unwrap();
/// });
/// ```
#[derive(Clone, Default)]
pub struct WaitGroup {
    /// The counter and the parked waiters; shared by every clone.
    inner: Arc<Mutex<Group>>,
}

#[derive(Default)]
struct Group {
    /// Outstanding work.
    count: i64,
    /// Parked `wait` callers.
    waiters: Vec<Unparker>,
}

impl fmt::Debug for WaitGroup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WaitGroup")
            .field("count", &self.inner.lock().count)
            .finish()
    }
}

impl WaitGroup {
    /// A group with a count of 0.
    pub fn new() -> WaitGroup {
        WaitGroup::default()
    }

    /// Adds `n` (which may be negative) to the count (Go's `Add`).
    ///
    /// # Panics
    ///
    /// When the count would go below 0, as Go's does (or past `i64::MAX`).
    pub fn add(&self, n: i64) {
        let woken = {
            let mut g = self.inner.lock();
            g.count = g
                .count
                .checked_add(n)
                .expect("sync: WaitGroup counter overflow");
            assert!(g.count >= 0, "sync: negative WaitGroup counter");
            if g.count == 0 {
                std::mem::take(&mut g.waiters)
            } else {
                Vec::new()
            }
        };
        // Lock dropped: wake outside it.
        for w in woken {
            w.unpark();
        }
    }

    /// Runs `f` in a new task that the group counts (Go's `WaitGroup.Go`):
    /// adds one now and is `done` when the task ends, also by a panic, a
    /// cancel or a runtime shutting down before it started.
    ///
    /// ```
    /// netpark_runtime::run(|| {
    ///     let wg = netpark_runtime::sync::WaitGroup::new();
    ///     for _ in 0..10 {
    ///         wg.go(|| netpark_runtime::yield_now());
    ///     }
    ///     wg.wait().unwrap();
    /// });
    /// ```
    ///
    /// # Panics
    ///
    /// As [`spawn`](crate::spawn) (outside a runtime); the count is given
    /// back first.
    pub fn go<F>(&self, f: F) -> crate::JoinHandle<()>
    where
        F: FnOnce() + Send + 'static,
    {
        /// `done` when dropped: with the task's closure, however it ends.
        struct DoneOnDrop(WaitGroup);
        impl Drop for DoneOnDrop {
            fn drop(&mut self) {
                self.0.done();
            }
        }
        self.add(1);
        let done = DoneOnDrop(self.clone());
        crate::spawn(move || {
            let _done = done;
            f()
        })
    }

    /// Subtracts one (Go's `Done`).
    ///
    /// # Panics
    ///
    /// As [`add`](Self::add).
    pub fn done(&self) {
        self.add(-1);
    }

    /// Parks until the count is 0 (Go's `Wait`).
    ///
    /// # Errors
    ///
    /// `Interrupted` when the waiting task is cancelled.
    pub fn wait(&self) -> std::io::Result<()> {
        let me = current_waiter_id();
        loop {
            {
                let mut g = self.inner.lock();
                if g.count == 0 {
                    return Ok(());
                }
                if !g.waiters.iter().any(|u| u.id() == me) {
                    g.waiters.push(current_unparker());
                }
            }
            if let Err(e) = park::park(WaitReason::WaitGroup, None) {
                self.inner.lock().waiters.retain(|u| u.id() != me);
                return Err(e);
            }
        }
    }
}

/// Runs a function once, however many tasks call it at once (Go's
/// `sync.Once`); callers that come while it runs park until it is done.
#[derive(Default)]
pub struct Once {
    /// NEW / RUNNING / DONE and the parked callers.
    state: Mutex<(OnceState, Vec<Unparker>)>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum OnceState {
    #[default]
    New,
    Running,
    Done,
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("done", &self.is_done())
            .finish()
    }
}

impl Once {
    /// A `Once` that has not run.
    pub const fn new() -> Once {
        Once {
            state: parking_lot::const_mutex((OnceState::New, Vec::new())),
        }
    }

    /// Whether the function has run.
    pub fn is_done(&self) -> bool {
        self.state.lock().0 == OnceState::Done
    }

    /// Runs `f` if no call has run it yet; otherwise waits for the call
    /// that runs it, then returns (Go's `Do`). A panic in `f` counts as
    /// done, as in Go, and goes on to the caller that ran it.
    ///
    /// # Errors
    ///
    /// `Interrupted` when a waiting task is cancelled.
    pub fn call_once(&self, f: impl FnOnce()) -> std::io::Result<()> {
        let me = current_waiter_id();
        loop {
            {
                let mut s = self.state.lock();
                match s.0 {
                    OnceState::Done => return Ok(()),
                    OnceState::New => {
                        s.0 = OnceState::Running;
                        break;
                    }
                    OnceState::Running => {
                        if !s.1.iter().any(|u| u.id() == me) {
                            s.1.push(current_unparker());
                        }
                    }
                }
            }
            if let Err(e) = park::park(WaitReason::Once, None) {
                self.state.lock().1.retain(|u| u.id() != me);
                return Err(e);
            }
        }
        let r = panic::catch_unwind(AssertUnwindSafe(f));
        let woken = {
            let mut s = self.state.lock();
            s.0 = OnceState::Done;
            std::mem::take(&mut s.1)
        };
        // Lock dropped: wake outside it.
        for w in woken {
            w.unpark();
        }
        if let Err(p) = r {
            panic::resume_unwind(p);
        }
        Ok(())
    }
}
