//! The monitor thread (Go's `sysmon`): notices a task holding its worker too long.
//!
//! Once per threshold (10 ms by default, Go's sysmon's longest sleep) it
//! samples each worker's running task and switch count, so it wakes 100 times
//! a second on a busy runtime. A worker whose count has not moved between two
//! samples while a task runs has been held by that task for at least a
//! threshold (at most two): it is stuck in that task (a blocking syscall, a
//! busy loop). The monitor logs a warning naming the task once, and wakes an
//! idle peer so the stuck worker's unstarted tasks are stolen and run
//! meanwhile. Started tasks never move.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::RuntimeShared;
use crate::stats;

struct Sample {
    switches: u64,
    since: Instant,
    warned: bool,
}

pub(crate) fn run(shared: Arc<RuntimeShared>) {
    let threshold = shared.stuck_threshold;
    let period = threshold.max(Duration::from_millis(1));
    let now = Instant::now();
    let mut samples: Vec<Sample> = shared
        .workers
        .iter()
        .map(|_| Sample {
            switches: 0,
            since: now,
            warned: false,
        })
        .collect();
    loop {
        // park_timeout is one futex wait: no spinning on an idle runtime.
        std::thread::park_timeout(period);
        if shared.shutdown.load(Ordering::Acquire) {
            return;
        }
        let now = Instant::now();
        for (w, s) in shared.workers.iter().zip(samples.iter_mut()) {
            let running = w.running.load(Ordering::Relaxed);
            let switches = w.counters.switches.get();
            if running == 0 || switches != s.switches {
                *s = Sample {
                    switches,
                    since: now,
                    warned: false,
                };
                continue;
            }
            let held = now - s.since;
            if held >= threshold && !s.warned {
                s.warned = true;
                stats::count(|c| c.stuck_warnings.add(1));
                let name = shared.names.lock().get(&running).cloned();
                log::warn!(
                    "netpark: task {running}{} has held worker {} for {:?} without yielding; \
                     a blocking call or a busy loop is stalling the tasks queued behind it",
                    name.map(|n| format!(" \"{n}\"")).unwrap_or_default(),
                    w.index,
                    held
                );
                if w.stealable_len.load(Ordering::Acquire) > 0 {
                    shared.wake_idle_peer(w.index);
                }
            } else if s.warned && w.stealable_len.load(Ordering::Acquire) > 0 {
                shared.wake_idle_peer(w.index);
            }
        }
    }
}
