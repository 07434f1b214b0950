//! A worker's timers: an ordered map keyed by `(deadline, seq)`.
//!
//! Insert, remove and "next deadline" are O(log n), so a deadline that is armed
//! and disarmed on every blocking read stays cheap even with thousands live.
//! Only the owning worker touches its timers; a task arms a timer on its own
//! worker when it parks with a deadline and disarms it when it resumes.

use std::collections::BTreeMap;
use std::time::Instant;

/// Identifies one armed timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TimerKey(Instant, u64);

/// The timers of one worker.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    /// Armed timers, earliest first, each with the task's key in the worker's
    /// task table and its id; the seq breaks ties so order is insertion order.
    map: BTreeMap<TimerKey, (usize, u64)>,
    /// Next seq.
    seq: u64,
}

impl Timers {
    pub(crate) fn new() -> Timers {
        Timers::default()
    }

    pub(crate) fn insert(&mut self, when: Instant, task_key: usize, task_id: u64) -> TimerKey {
        self.seq += 1;
        let key = TimerKey(when, self.seq);
        self.map.insert(key, (task_key, task_id));
        key
    }

    pub(crate) fn remove(&mut self, key: TimerKey) {
        self.map.remove(&key);
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.map.first_key_value().map(|(k, _)| k.0)
    }

    /// Moves every timer due at `now` into `out`, earliest first.
    pub(crate) fn expire(&mut self, now: Instant, out: &mut Vec<(usize, u64)>) {
        while let Some(entry) = self.map.first_entry() {
            if entry.key().0 > now {
                break;
            }
            out.push(entry.remove());
        }
    }

    pub(crate) fn clear(&mut self) {
        self.map.clear();
    }
}
