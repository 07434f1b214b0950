//! Counters a student can watch (`netpark::stats()`).
//!
//! Each thread counts into its own cache line (no sharing between workers on the
//! hot path); [`stats`] sums every thread's counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

/// A counter with one writer (its thread) and any number of readers.
///
/// `add` is a relaxed load and store, not a read-modify-write: with a single
/// writer no increment is lost, and the hot path avoids a locked instruction.
#[derive(Debug, Default)]
pub(crate) struct Counter(AtomicU64);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0.store(
            self.0.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// One thread's counters; written only by that thread, read by [`stats`].
#[derive(Debug, Default)]
#[repr(align(128))]
pub(crate) struct Counters {
    pub(crate) tasks_spawned: Counter,
    pub(crate) tasks_finished: Counter,
    pub(crate) parks: Counter,
    pub(crate) wakes: Counter,
    pub(crate) switches: Counter,
    pub(crate) epoll_waits: Counter,
    pub(crate) events: Counter,
    pub(crate) timers_fired: Counter,
    pub(crate) stuck_warnings: Counter,
    pub(crate) worker_wakeups: Counter,
    pub(crate) handoffs: Counter,
    pub(crate) direct_switches: Counter,
    pub(crate) spare_workers_started: Counter,
    pub(crate) spare_workers_retired: Counter,
    /// Copies and bytes per [`CopyPath`], indexed by `CopyPath as usize`.
    pub(crate) copies: [(Counter, Counter); 4],
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

/// A new set of counters, included in [`stats`]; a worker keeps its own so its
/// hot path needs no thread-local lookup.
pub(crate) fn register() -> Arc<Counters> {
    let c = Arc::new(Counters::default());
    ALL.lock().push(c.clone());
    c
}

/// Runs `f` on this thread's counters (nothing during thread teardown).
pub(crate) fn count<R>(f: impl FnOnce(&Counters) -> R) {
    let _ = LOCAL.try_with(|c| {
        f(c);
    });
}

/// The way a copy moved its bytes (see `netpark::io::copy`). The runtime
/// knows nothing of sockets or files; it only keeps the counts, so that one
/// [`stats`] call shows the scheduler and the copies together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CopyPath {
    /// `splice(2)`, through a pipe when neither end is one.
    Splice = 0,
    /// `sendfile(2)` from a regular file.
    Sendfile = 1,
    /// `copy_file_range(2)` between regular files.
    CopyFileRange = 2,
    /// `read` into a user-space buffer, then `write`.
    Buffer = 3,
}

/// Counts one copy (or the part of one) that moved `bytes` by `path`.
///
/// Called by the net crate's `io` module once per path a copy takes.
pub fn record_copy(path: CopyPath, bytes: u64) {
    count(|c| {
        let (calls, moved) = &c.copies[path as usize];
        calls.add(1);
        moved.add(bytes);
    });
}

/// Copies that took one [`CopyPath`], and the bytes they moved by it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PathStats {
    /// Copies that moved bytes (or tried to) by this path.
    pub calls: u64,
    /// Bytes moved by this path.
    pub bytes: u64,
}

/// The copy counters, one [`PathStats`] per [`CopyPath`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyStats {
    /// `splice(2)`: socket or pipe on one side.
    pub splice: PathStats,
    /// `sendfile(2)`: file to socket (or to file).
    pub sendfile: PathStats,
    /// `copy_file_range(2)`: file to file.
    pub copy_file_range: PathStats,
    /// The 32 KiB buffer loop: every other pair of ends.
    pub buffer: PathStats,
}

/// A snapshot of the process-wide runtime counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Tasks spawned since the process started.
    pub tasks_spawned: u64,
    /// Tasks spawned and not yet finished.
    pub tasks_live: u64,
    /// fds with a `PollDesc` now: poll-cache slots in use (every open
    /// socket and pipe of the net crate holds one).
    pub poll_descs_live: u64,
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
    /// eventfd writes that woke a worker sleeping in `epoll_wait` for a
    /// cross-thread wake or spawn (Go's `netpollBreak`); a spinning worker
    /// needs none.
    pub worker_wakeups: u64,
    /// Unstarted tasks the monitor moved off a stuck worker (Go's `handoffp`).
    pub handoffs: u64,
    /// Parks that resumed their worker's one queued task themselves, on the
    /// parking task's stack, instead of switching out to the worker loop
    /// first (a channel ping-pong on one worker; `Local::direct_switch`).
    pub direct_switches: u64,
    /// Spare worker threads the monitor started because every worker was
    /// stuck (Go's `startm`).
    pub spare_workers_started: u64,
    /// Spare worker threads that retired once their tasks had ended.
    pub spare_workers_retired: u64,
    /// Copies by `netpark::io::copy` and friends, per path taken.
    pub copy: CopyStats,
}

/// Sums the counters of every thread.
pub fn stats() -> Stats {
    let all = ALL.lock();
    let mut s = Stats::default();
    let mut finished = 0;
    for c in all.iter() {
        s.tasks_spawned += c.tasks_spawned.get();
        finished += c.tasks_finished.get();
        s.parks += c.parks.get();
        s.wakes += c.wakes.get();
        s.switches += c.switches.get();
        s.epoll_waits += c.epoll_waits.get();
        s.events += c.events.get();
        s.timers_fired += c.timers_fired.get();
        s.stuck_warnings += c.stuck_warnings.get();
        s.worker_wakeups += c.worker_wakeups.get();
        s.handoffs += c.handoffs.get();
        s.direct_switches += c.direct_switches.get();
        s.spare_workers_started += c.spare_workers_started.get();
        s.spare_workers_retired += c.spare_workers_retired.get();
        let paths = [
            &mut s.copy.splice,
            &mut s.copy.sendfile,
            &mut s.copy.copy_file_range,
            &mut s.copy.buffer,
        ];
        for (p, (calls, bytes)) in paths.into_iter().zip(c.copies.iter()) {
            p.calls += calls.get();
            p.bytes += bytes.get();
        }
    }
    s.tasks_live = s.tasks_spawned.saturating_sub(finished);
    s.poll_descs_live = crate::reactor::poll_cache::in_use();
    s
}
