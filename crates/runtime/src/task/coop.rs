//! The cooperative budget: how many I/O operations a task may make before it
//! lets the other tasks of its worker run (tokio's `coop` budget).
//!
//! netpark has no preemption (Go stops a goroutine that has run for 10 ms
//! with a signal). A task only gives its worker up when it parks, yields or
//! ends. A task whose every read and write succeeds at once (a copy between
//! two fast sockets, a loop on a read whose deadline has passed) would never
//! park, and the other tasks of its worker would wait for it however long
//! it ran. So each operation of the net crate's retry loop takes one unit
//! from the running task's budget, and the operation that finds it empty
//! yields first. The worker refills the budget each time it resumes a task,
//! so a task that parks often (an echo server's conn, which parks once per
//! message) never yields for it.

use std::cell::Cell;

use super::context;
use super::park;

/// Operations a task may make per turn on its worker (tokio's 128).
pub const BUDGET: u32 = 128;

thread_local! {
    /// What is left of the running task's budget; refilled by the worker
    /// before each resume, spent by the task, on the worker's thread only.
    static LEFT: Cell<u32> = const { Cell::new(BUDGET) };
}

/// Refills the budget for the task the worker is about to resume.
pub(crate) fn refill() {
    LEFT.with(|l| l.set(BUDGET));
}

/// Takes one unit of the running task's budget; when none is left, yields
/// first (the task goes to the back of its worker's queue). Does nothing
/// outside a task. The net crate calls it at the start of every operation.
pub fn consume_budget() {
    let left = LEFT.with(|l| {
        let v = l.get().saturating_sub(1);
        l.set(v);
        v
    });
    if left == 0 && context::with_current(|t| t.is_some()) {
        // The worker refills the budget when it resumes us.
        park::yield_now();
    }
}
