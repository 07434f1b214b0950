//! Counters a student can watch (`netpark::stats()`).
//!
//! Each thread counts into its own cache line (no sharing between workers on the
//! hot path); [`stats`] sums every thread's counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// One thread's counters; written only by that thread, read by [`stats`].
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) tasks_spawned: AtomicU64,
    pub(crate) tasks_finished: AtomicU64,
    pub(crate) parks: AtomicU64,
    pub(crate) wakes: AtomicU64,
    pub(crate) switches: AtomicU64,
    pub(crate) epoll_waits: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) timers_fired: AtomicU64,
    pub(crate) stuck_warnings: AtomicU64,
}

/// Every thread's counters, including threads that have exited.
static ALL: Mutex<Vec<Arc<Counters>>> = Mutex::new(Vec::new());

thread_local! {
    static LOCAL: Arc<Counters> = {
        let c = Arc::new(Counters::default());
        ALL.lock().push(c.clone());
        c
    };
}

/// Runs `f` on this thread's counters (nothing during thread teardown).
pub(crate) fn count<R>(f: impl FnOnce(&Counters) -> R) {
    let _ = LOCAL.try_with(|c| {
        f(c);
    });
}

/// A snapshot of the process-wide runtime counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Tasks spawned since the process started.
    pub tasks_spawned: u64,
    /// Tasks spawned and not yet finished.
    pub tasks_live: u64,
    /// Times a task suspended in `park` (Go's `gopark`).
    pub parks: u64,
    /// Times a parked task was made runnable again (Go's `goready`).
    pub wakes: u64,
    /// Stack switches into tasks.
    pub switches: u64,
    /// `epoll_wait` calls.
    pub epoll_waits: u64,
    /// fd readiness events dispatched.
    pub events: u64,
    /// Timers that fired (sleeps and deadlines).
    pub timers_fired: u64,
    /// Warnings from the monitor about a task holding its worker too long.
    pub stuck_warnings: u64,
}

/// Sums the counters of every thread.
pub fn stats() -> Stats {
    let all = ALL.lock();
    let mut s = Stats::default();
    let mut finished = 0;
    for c in all.iter() {
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        s.tasks_spawned += get(&c.tasks_spawned);
        finished += get(&c.tasks_finished);
        s.parks += get(&c.parks);
        s.wakes += get(&c.wakes);
        s.switches += get(&c.switches);
        s.epoll_waits += get(&c.epoll_waits);
        s.events += get(&c.events);
        s.timers_fired += get(&c.timers_fired);
        s.stuck_warnings += get(&c.stuck_warnings);
    }
    s.tasks_live = s.tasks_spawned.saturating_sub(finished);
    s
}
