//! The park/unpark protocol (task/park.rs): each documented interleaving, and
//! wakes across workers and threads.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use netpark_runtime::{current_unparker, park, spawn, yield_now, Unparker, WaitReason};
use util::{ping_pong, with_runtime, within, LIMIT};

#[test]
fn wake_before_park_returns_without_switching() {
    with_runtime(1, LIMIT, || {
        // A task queued behind us on the only worker: it runs as soon as we
        // switch away, so it still not having run proves no switch happened.
        // (The process-wide `stats().switches` would also count other tests'
        // runtimes.)
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let queued = spawn(move || r2.store(true, Ordering::SeqCst));
        let me = current_unparker();
        me.unpark();
        park(WaitReason::Other, None).unwrap();
        // Interleaving 1: the token was consumed in place, no switch happened.
        assert!(!ran.load(Ordering::SeqCst), "park switched away");
        queued.join().unwrap();
        assert!(ran.load(Ordering::SeqCst));
    });
}

#[test]
fn wake_after_commit_resumes_the_task_once() {
    with_runtime(1, LIMIT, || {
        let slot: Arc<Mutex<Option<Unparker>>> = Arc::new(Mutex::new(None));
        let s2 = slot.clone();
        let woke = Arc::new(AtomicUsize::new(0));
        let w2 = woke.clone();
        let h = spawn(move || {
            *s2.lock().unwrap() = Some(current_unparker());
            park(WaitReason::Other, None).unwrap();
            w2.fetch_add(1, Ordering::SeqCst);
        });
        // Let the child park and its worker commit.
        while slot.lock().unwrap().is_none() {
            yield_now();
        }
        yield_now();
        let u = slot.lock().unwrap().take().unwrap();
        // Interleaving 3: several unparks of a parked task schedule it once.
        u.unpark();
        u.unpark();
        u.unpark();
        h.join().unwrap();
        assert_eq!(woke.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn wake_racing_with_the_switch_is_never_lost() {
    // Interleaving 2 happens when the waker runs on another worker while the
    // parker switches away; repeat enough times to hit it, and any lost wake
    // hangs the test (caught by the watchdog with a dump).
    with_runtime(2, LIMIT, || {
        for _ in 0..2000 {
            let slot: Arc<Mutex<Option<Unparker>>> = Arc::new(Mutex::new(None));
            let done = Arc::new(AtomicBool::new(false));
            let (s2, d2) = (slot.clone(), done.clone());
            let parker = spawn(move || {
                *s2.lock().unwrap() = Some(current_unparker());
                while !d2.load(Ordering::SeqCst) {
                    park(WaitReason::Other, None).unwrap();
                }
            });
            let waker = spawn(move || loop {
                if let Some(u) = slot.lock().unwrap().clone() {
                    done.store(true, Ordering::SeqCst);
                    u.unpark();
                    return;
                }
                yield_now();
            });
            waker.join().unwrap();
            parker.join().unwrap();
        }
    });
}

#[test]
fn ping_pong_between_tasks_on_different_workers() {
    with_runtime(2, LIMIT, || {
        const ROUNDS: usize = 5000;
        let ball = Arc::new(AtomicUsize::new(0));
        let units: Arc<Mutex<[Option<Unparker>; 2]>> = Arc::new(Mutex::new([None, None]));
        let players: Vec<_> = (0..2)
            .map(|me| {
                let (ball, units) = (ball.clone(), units.clone());
                spawn(move || {
                    units.lock().unwrap()[me] = Some(current_unparker());
                    let mut workers_seen = std::collections::HashSet::new();
                    loop {
                        let v = ball.load(Ordering::SeqCst);
                        if v >= ROUNDS {
                            if let Some(u) = units.lock().unwrap()[1 - me].clone() {
                                u.unpark();
                            }
                            return workers_seen;
                        }
                        if v % 2 == me {
                            ball.store(v + 1, Ordering::SeqCst);
                            workers_seen.insert(std::thread::current().id());
                            if let Some(u) = units.lock().unwrap()[1 - me].clone() {
                                u.unpark();
                            }
                        } else {
                            park(
                                WaitReason::Other,
                                Some(Instant::now() + Duration::from_millis(50)),
                            )
                            .unwrap();
                        }
                    }
                })
            })
            .collect();
        for p in players {
            assert_eq!(
                p.join().unwrap().len(),
                1,
                "a started task never changes worker thread"
            );
        }
        assert!(ball.load(Ordering::SeqCst) >= ROUNDS);
    });
}

/// Every hop parks with no deadline, so a single lost wake hangs both players
/// (and fails the test at LIMIT). The hops are fast because idle workers spin,
/// which makes a wake land between a task's resume and its next park often:
/// this caught a store-buffer race in which a task consumed a newer wake with
/// a plain store and then missed the waker's write.
#[test]
fn no_wake_is_lost_between_tasks_on_different_workers() {
    within(LIMIT, || {
        let rt = netpark_runtime::Runtime::builder()
            .workers(2)
            .build()
            .unwrap();
        let [a, b] = ping_pong(&rt, 200_000);
        assert_ne!(a, b, "the players run on different workers");
    });
}

#[test]
fn plain_thread_parks_and_is_woken_by_a_task() {
    let rt = netpark_runtime::Runtime::builder()
        .workers(1)
        .build()
        .unwrap();
    let me = current_unparker();
    let flag = Arc::new(AtomicBool::new(false));
    let f2 = flag.clone();
    rt.spawn(move || {
        netpark_runtime::sleep(Duration::from_millis(20)).unwrap();
        f2.store(true, Ordering::SeqCst);
        me.unpark();
    });
    let start = Instant::now();
    while !flag.load(Ordering::SeqCst) {
        park(WaitReason::Other, Some(start + Duration::from_secs(10))).unwrap();
        assert!(start.elapsed() < Duration::from_secs(10), "never woken");
    }
}

#[test]
fn park_with_a_past_deadline_returns_at_once() {
    with_runtime(1, LIMIT, || {
        let t = Instant::now();
        park(WaitReason::Other, Some(t - Duration::from_millis(1))).unwrap();
        assert!(t.elapsed() < Duration::from_millis(50));
    });
}

/// A wake from a plain thread while the task runs (so before it parks) goes
/// through the owner's inbox and is applied after the task switches away:
/// the task's park must still end, whether it parked before or after the
/// owner read the message. Thousands of such wakes race with the park.
#[test]
fn wake_from_a_thread_while_the_task_runs_is_not_lost() {
    let rt = netpark_runtime::Runtime::builder()
        .workers(1)
        .build()
        .unwrap();
    within(LIMIT, move || {
        for round in 0..2000 {
            let slot: Arc<Mutex<Option<Unparker>>> = Arc::new(Mutex::new(None));
            let go = Arc::new(AtomicBool::new(false));
            let (s2, g2) = (slot.clone(), go.clone());
            let task = rt.spawn(move || {
                *s2.lock().unwrap() = Some(current_unparker());
                // Busy, never switching, until the thread has the unparker.
                while !g2.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
                if round % 2 == 0 {
                    // Give the thread a moment to wake us before we park.
                    let t = Instant::now();
                    while t.elapsed() < Duration::from_micros(20) {}
                }
                park(WaitReason::Other, None).unwrap();
            });
            let u = loop {
                if let Some(u) = slot.lock().unwrap().take() {
                    break u;
                }
                std::thread::yield_now();
            };
            go.store(true, Ordering::SeqCst);
            u.unpark();
            task.join().unwrap();
        }
    });
}

/// A task cancelled before it starts (a thread cancels it while its worker
/// may be starting it) sees the cancel at its first wait: the cancel flag and
/// the task's start are ordered so that either the cancel's wake reaches the
/// started task or the task sees the flag.
#[test]
fn cancel_racing_with_the_start_of_a_task_is_seen_by_its_first_wait() {
    let rt = netpark_runtime::Runtime::builder()
        .workers(2)
        .build()
        .unwrap();
    within(LIMIT, move || {
        for _ in 0..2000 {
            let h = rt.spawn(|| park(WaitReason::Other, None));
            h.cancel();
            let err = h.join().unwrap().unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::Interrupted);
        }
    });
}

/// Tickets passed among tasks on two workers, each pass a wake (local or a
/// message to the other worker), while a plain thread wakes tasks for nothing
/// (spurious wakes, more messages): a task that holds a ticket must always
/// get to run. A wake lost on any path strands its holder, which the watcher
/// notices (it caught wake messages dropped on purpose).
#[test]
fn tickets_passed_among_tasks_and_a_thread_never_strand_a_holder() {
    const N: usize = 32;
    const RUN: Duration = Duration::from_millis(2500);
    const STALL: Duration = Duration::from_secs(1);
    let rt = netpark_runtime::Runtime::builder()
        .workers(2)
        .build()
        .unwrap();
    let tickets: Arc<Vec<AtomicUsize>> = Arc::new(
        (0..N)
            .map(|i| AtomicUsize::new(usize::from(i % 8 == 0)))
            .collect(),
    );
    let progress: Arc<Vec<AtomicUsize>> = Arc::new((0..N).map(|_| AtomicUsize::new(0)).collect());
    let units: Arc<Mutex<Vec<Option<Unparker>>>> = Arc::new(Mutex::new(vec![None; N]));
    let all_in =
        |units: &Mutex<Vec<Option<Unparker>>>| units.lock().unwrap().iter().all(Option::is_some);
    let stop = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = (0..N)
        .map(|me| {
            let (tickets, progress, units, stop) = (
                tickets.clone(),
                progress.clone(),
                units.clone(),
                stop.clone(),
            );
            rt.spawn(move || {
                units.lock().unwrap()[me] = Some(current_unparker());
                while !all_in(&units) {
                    yield_now();
                }
                let us: Vec<Unparker> = units.lock().unwrap().iter().flatten().cloned().collect();
                let mut rng = (me as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
                while !stop.load(Ordering::SeqCst) {
                    if tickets[me].load(Ordering::SeqCst) == 0 {
                        // The deadline, past STALL, only lets a stranded
                        // task end after the test has failed.
                        park(WaitReason::Other, Some(Instant::now() + 2 * STALL)).unwrap();
                        continue;
                    }
                    tickets[me].fetch_sub(1, Ordering::SeqCst);
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    let to = (rng % N as u64) as usize;
                    tickets[to].fetch_add(1, Ordering::SeqCst);
                    progress[me].fetch_add(1, Ordering::Relaxed);
                    us[to].unpark();
                    // One pass per turn, so every holder's turn comes soon.
                    yield_now();
                }
            })
        })
        .collect();
    while !all_in(&units) {
        std::thread::yield_now();
    }
    let all: Vec<Unparker> = units.lock().unwrap().iter().flatten().cloned().collect();
    let spurious = {
        let (stop, all) = (stop.clone(), all.clone());
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::SeqCst) {
                all[i % N].unpark();
                i += 1;
                if i % 64 == 0 {
                    std::thread::sleep(Duration::from_micros(100));
                }
            }
        })
    };
    let start = Instant::now();
    let mut last = vec![(0, Instant::now()); N];
    let mut stranded = None;
    while start.elapsed() < RUN && stranded.is_none() {
        std::thread::sleep(Duration::from_millis(50));
        for (i, seen) in last.iter_mut().enumerate() {
            let p = progress[i].load(Ordering::Relaxed);
            if tickets[i].load(Ordering::SeqCst) == 0 || p != seen.0 {
                *seen = (p, Instant::now());
            }
            if seen.1.elapsed() >= STALL {
                stranded = Some(i);
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for u in &all {
        u.unpark();
    }
    spurious.join().unwrap();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        stranded, None,
        "a task held a ticket and did not run for {STALL:?}"
    );
}
