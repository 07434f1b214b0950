//! Wakes that cross workers, counted with `stats().worker_wakeups`. Alone in
//! its test binary because the counters are process-wide: no other test's
//! runtime may move them while this one measures.

mod util;

use netpark_runtime::{stats, Runtime};
use util::ping_pong;

const HOPS: usize = 2000;

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
        let [a, b] = ping_pong(&rt, HOPS);
        assert_ne!(a, b, "the players run on different workers");
        let wakeups = stats().worker_wakeups - before;
        if wakeups < HOPS as u64 * 9 / 10 {
            return;
        }
        seen.push(wakeups);
    }
    panic!("{HOPS} hops across workers needed {seen:?} worker wake-ups in three runs");
}
