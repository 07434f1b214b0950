//! Wakes that cross workers, counted with `stats().worker_wakeups`. Alone in
//! its test binary because the counters are process-wide: no other test's
//! runtime may move them while this one measures.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;

use netpark_runtime::{current_unparker, park, stats, Runtime, Unparker, WaitReason};

const HOPS: usize = 2000;

/// Two tasks on different workers hand a ball back and forth `HOPS` times;
/// returns the worker threads they ran on.
fn ping_pong_across_workers(rt: &Runtime) -> [ThreadId; 2] {
    let ball = Arc::new(AtomicUsize::new(0));
    let units: Arc<Mutex<[Option<Unparker>; 2]>> = Arc::new(Mutex::new([None, None]));
    let ready = Arc::new(AtomicUsize::new(0));
    // Spawned from a plain thread, the players go round-robin to both workers.
    let players: Vec<_> = (0..2)
        .map(|me| {
            let (ball, units, ready) = (ball.clone(), units.clone(), ready.clone());
            rt.spawn(move || {
                units.lock().unwrap()[me] = Some(current_unparker());
                ready.fetch_add(1, Ordering::SeqCst);
                while ready.load(Ordering::SeqCst) < 2 {
                    netpark_runtime::yield_now();
                }
                let other = units.lock().unwrap()[1 - me].clone().unwrap();
                loop {
                    let v = ball.load(Ordering::Acquire);
                    if v >= HOPS {
                        other.unpark();
                        return std::thread::current().id();
                    }
                    if v % 2 == me {
                        ball.store(v + 1, Ordering::Release);
                        other.unpark();
                    } else {
                        park(WaitReason::Other, None).unwrap();
                    }
                }
            })
        })
        .collect();
    let mut threads = players.into_iter().map(|p| p.join().unwrap());
    [threads.next().unwrap(), threads.next().unwrap()]
}

#[test]
fn tasks_waking_each_other_across_workers_find_the_peer_spinning_not_asleep() {
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("one CPU: workers never spin, nothing to check");
        return;
    }
    let rt = Runtime::builder().workers(2).build().unwrap();
    // Without the spin nearly every hop finds the other worker asleep and
    // writes its eventfd (measured: 1,994 of 2,000). With it the peer is still
    // spinning when the ball comes back: almost no wake-ups on a quiet
    // machine, about three in four when other processes keep both cores busy
    // and preempt the workers. Three tries, so one badly disturbed run cannot
    // fail the test.
    let mut seen = Vec::new();
    for _ in 0..3 {
        let before = stats().worker_wakeups;
        let [a, b] = ping_pong_across_workers(&rt);
        assert_ne!(a, b, "the players run on different workers");
        let wakeups = stats().worker_wakeups - before;
        if wakeups < HOPS as u64 * 9 / 10 {
            return;
        }
        seen.push(wakeups);
    }
    panic!("{HOPS} hops across workers needed {seen:?} worker wake-ups in three runs");
}
