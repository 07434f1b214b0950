//! `run_blocking`: a blocking call on a helper thread while the task parks.

mod util;

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netpark_runtime::{self as rt, run_blocking};
use util::{with_runtime, LIMIT};

#[test]
fn run_blocking_keeps_the_worker_free_for_other_tasks() {
    with_runtime(1, LIMIT, || {
        let ticks = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (t2, s2) = (ticks.clone(), stop.clone());
        let ticker = rt::spawn(move || {
            while !s2.load(Ordering::SeqCst) {
                t2.fetch_add(1, Ordering::SeqCst);
                rt::sleep(Duration::from_millis(1)).unwrap();
            }
        });
        let t3 = ticks.clone();
        let v = run_blocking(move || {
            let before = t3.load(Ordering::SeqCst);
            // Blocks this helper thread, not the only worker.
            std::thread::sleep(Duration::from_millis(300));
            (t3.load(Ordering::SeqCst) - before, 42)
        })
        .unwrap();
        stop.store(true, Ordering::SeqCst);
        ticker.join().unwrap();
        assert_eq!(v.1, 42);
        assert!(
            v.0 >= 20,
            "the other task ran only {} times during the 300 ms call",
            v.0
        );
    });
}

#[test]
fn a_task_in_run_blocking_shows_in_dump() {
    with_runtime(1, LIMIT, || {
        let h = rt::spawn(|| run_blocking(|| std::thread::sleep(Duration::from_millis(300))));
        rt::sleep(Duration::from_millis(50)).unwrap();
        let dump = rt::dump();
        assert!(
            dump.contains(&format!(
                "task {} [parked] on worker 0, waiting: blocking call on a helper thread",
                h.id()
            )),
            "{dump}"
        );
        h.join().unwrap().unwrap();
    });
}

#[test]
fn cancelling_a_task_in_run_blocking_interrupts_its_wait() {
    with_runtime(1, LIMIT, || {
        let h = rt::spawn(|| run_blocking(|| std::thread::sleep(Duration::from_secs(2))));
        rt::sleep(Duration::from_millis(20)).unwrap();
        let t = std::time::Instant::now();
        h.cancel();
        let e = h.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
        assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());
    });
}

#[test]
fn a_panic_in_run_blocking_reaches_the_caller() {
    with_runtime(1, LIMIT, || {
        let h = rt::spawn(|| run_blocking(|| -> u8 { panic!("lookup exploded") }));
        let e = h.join().unwrap_err();
        assert_eq!(e.panic_message(), Some("lookup exploded"));
    });
}

#[test]
fn run_blocking_on_a_plain_thread_just_calls() {
    let me = std::thread::current().id();
    let ran_on = run_blocking(move || std::thread::current().id()).unwrap();
    assert_eq!(ran_on, me);
}

#[test]
fn run_blocking_reuses_its_helper_threads() {
    with_runtime(1, LIMIT, || {
        let threads: std::collections::HashSet<_> = (0..100)
            .map(|_| run_blocking(|| std::thread::current().id()).unwrap())
            .collect();
        // One call at a time: the thread that ran a call is idle when the
        // next one comes. (Other tests' calls may share the pool meanwhile.)
        assert!(
            threads.len() <= 10,
            "100 calls in a row ran on {} threads",
            threads.len()
        );
    });
}

#[test]
fn concurrent_blocking_calls_each_get_a_thread() {
    with_runtime(1, LIMIT, || {
        // Each call waits until all four are running at once: this finishes
        // only if the pool runs them on four threads in parallel, even with
        // idle threads left from earlier calls.
        let barrier = Arc::new(std::sync::Barrier::new(4));
        let calls: Vec<_> = (0..4)
            .map(|i| {
                let b = barrier.clone();
                rt::spawn(move || run_blocking(move || b.wait().is_leader() as usize + i))
            })
            .collect();
        let sum: usize = calls.into_iter().map(|h| h.join().unwrap().unwrap()).sum();
        assert_eq!(sum, 1 + 6, "one leader plus the indexes");
    });
}
