//! The monitor thread (Go's `sysmon`): notices a task holding its worker too
//! long, and hands that worker's unstarted tasks to workers that can run them
//! (Go's `retake` + `handoffp`, with spare workers for `startm`).
//!
//! Once per threshold (10 ms by default, Go's sysmon's longest sleep) it
//! samples each running worker's current task and switch count, so it wakes
//! 100 times a second on a busy runtime (and, when a sample finds the count
//! moved with a task running, reads that thread's CPU clock: one syscall).
//! A worker whose count has not moved between two samples while a task runs
//! has been held by that task for at least a threshold (at most two). Held is not yet stuck: the monitor asks
//! the kernel about the worker's thread (sys/thread.rs) and takes it for
//! *stuck* in that task only when the thread is asleep in the kernel (a
//! blocking syscall, a std lock or join, a sleep) or has used half a
//! threshold of CPU since the count last moved (a busy loop). A thread that
//! is runnable but has hardly run was not given a CPU (the OS ran another
//! thread on it, or the hypervisor another guest): its task will go on when
//! it gets one, and a spare thread would only compete for that CPU, so the
//! monitor keeps watching. (Before this check, an echo server pinned to one
//! core started a spare in 4 runs of 6 while accepting 1,000 connections: its
//! accept loop, descheduled for 10–18 ms with 70–90 µs of CPU used, looked
//! stuck, and the spare then served the connections it took for the whole
//! run, two threads on one core.) For a stuck worker the monitor
//!
//! 1. marks it stuck (spawns from other threads skip it; `dump()` says so),
//! 2. logs one warning naming the task and pointing at `run_blocking`,
//! 3. every period while it stays stuck, takes its `runnext` and its
//!    unstarted queue (pinned tasks too) and gives them to an idle peer, any
//!    peer that is not stuck, or a spare worker (scheduler/mod.rs).
//!
//! Started tasks never move: a task parked on a stuck worker waits for it.
//! The mark is cleared at the first sample that sees the worker switch.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{RuntimeShared, WorkerShared};
use crate::stats;
use crate::sys::thread;

/// What the monitor saw of one worker at its last sample.
struct Sample {
    /// The worker's switch count then.
    switches: u64,
    /// When the count last moved (or the worker was last idle).
    since: Instant,
    /// The warning for this stretch has been logged (the worker is stuck).
    warned: bool,
    /// The worker thread's CPU time when the count last moved, if a task
    /// was running then and the kernel said.
    cpu: Option<Duration>,
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
            cpu: None,
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
            if !w.is_on() || running == 0 || switches != s.switches {
                *s = Sample {
                    switches,
                    since: now,
                    warned: false,
                    cpu: if running == 0 {
                        None
                    } else {
                        thread::cpu_time(w.tid.load(Ordering::Relaxed)).ok()
                    },
                };
                w.stuck_since.store(0, Ordering::Relaxed);
                continue;
            }
            let held = now - s.since;
            if held < threshold {
                continue;
            }
            if !s.warned {
                if !held_by_its_task(w, s.cpu, threshold)
                    || w.running.load(Ordering::Relaxed) != running
                    || w.counters.switches.get() != switches
                {
                    // Not run by the OS, or it moved on while we asked:
                    // sample again next period.
                    continue;
                }
                s.warned = true;
                let since = s.since.saturating_duration_since(shared.epoch);
                w.stuck_since
                    .store(since.as_nanos() as u64 + 1, Ordering::Relaxed);
                stats::count(|c| c.stuck_warnings.add(1));
                let name = shared.names.lock().get(&running).cloned();
                log::warn!(
                    "netpark: task {running}{} has held worker {} for {held:?} without yielding \
                     (a blocking call or a busy loop); its unstarted tasks are handed to other \
                     workers, but tasks parked on worker {} wait for it: wrap blocking calls \
                     in netpark::run_blocking",
                    name.map(|n| format!(" \"{n}\"")).unwrap_or_default(),
                    w.index,
                    w.index,
                );
            }
            let moved = shared.hand_off(w);
            if moved > 0 {
                stats::count(|c| c.handoffs.add(moved as u64));
            }
        }
    }
}

/// Whether a worker held for `threshold` is held by its task (the module
/// docs' table): its thread sleeps in the kernel, or has used half a
/// threshold of CPU since `cpu_since`. When the kernel cannot say, yes, as
/// if it had been asked.
fn held_by_its_task(w: &WorkerShared, cpu_since: Option<Duration>, threshold: Duration) -> bool {
    let Some(cpu_since) = cpu_since else {
        return true;
    };
    let tid = w.tid.load(Ordering::Relaxed);
    match thread::is_runnable(tid) {
        Ok(true) => {
            thread::cpu_time(tid).map_or(true, |now| now.saturating_sub(cpu_since) >= threshold / 2)
        }
        Ok(false) | Err(_) => true,
    }
}
