//! The direct switch (`Local::direct_switch`): a task that parks while its
//! worker's only queued task is the one it just woke runs that task itself,
//! on its own stack, and goes on if woken back. Values stay in order, the
//! worker's fds, timers and other tasks still get their turns, and a task
//! that ends inside a direct switch is finished and joined as usual.

mod util;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_runtime as rt;
use netpark_runtime::sync::channel;
use util::{assert_elapsed, spawn_echo, with_runtime, LIMIT};

/// Taken by every test here, so that the process-wide `direct_switches`
/// count a test reads moves only by its own switches.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs unbuffered round trips with an echoing task on the caller's worker
/// while `more(trips so far)` says so, checking each value; returns the
/// number made.
fn ping_pong_while(mut more: impl FnMut(u64) -> bool) -> u64 {
    let (ping_tx, ping_rx) = channel::<u64>(0);
    let (pong_tx, pong_rx) = channel::<u64>(0);
    let player = spawn_echo(ping_rx, pong_tx);
    let mut trips = 0;
    while more(trips) {
        ping_tx.send(trips).unwrap();
        assert_eq!(pong_rx.recv().unwrap(), trips);
        trips += 1;
    }
    drop(ping_tx);
    player.join().unwrap();
    trips
}

#[test]
fn a_one_worker_ping_pong_switches_directly_and_keeps_its_values_in_order() {
    let _serial = serial();
    with_runtime(1, LIMIT, || {
        let before = rt::stats().direct_switches;
        ping_pong_while(|i| i < 10_000);
        // One a round trip, but for the fairness tick's turns.
        let direct = rt::stats().direct_switches - before;
        assert!(
            (9_000..=10_000).contains(&direct),
            "{direct} direct switches"
        );
    });
}

#[test]
fn a_one_worker_ping_pong_lets_a_sleeper_on_its_worker_wake_on_time() {
    let _serial = serial();
    with_runtime(1, LIMIT, || {
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let sleeper = rt::spawn(move || {
            let t = Instant::now();
            rt::sleep(Duration::from_millis(20)).unwrap();
            d.store(true, Ordering::SeqCst);
            t.elapsed()
        });
        // The timer fires only from the worker loop's own turns: a ping-pong
        // that never gave them back would spin here until the test's limit.
        let trips = ping_pong_while(|_| !done.load(Ordering::SeqCst));
        assert_elapsed(
            sleeper.join().unwrap(),
            Duration::from_millis(20),
            Duration::from_secs(2),
        );
        assert!(trips > 0);
    });
}

#[test]
fn a_one_worker_ping_pong_lets_a_queued_task_run() {
    let _serial = serial();
    with_runtime(1, LIMIT, || {
        let stop = Arc::new(AtomicBool::new(false));
        let turns = Arc::new(AtomicU64::new(0));
        let (s, t) = (stop.clone(), turns.clone());
        let yielder = rt::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                t.fetch_add(1, Ordering::SeqCst);
                rt::yield_now();
            }
        });
        ping_pong_while(|i| i < 2_000);
        // With the yielder queued, a park finds more than one entry and
        // switches out to the loop, which runs the queue in order.
        assert!(turns.load(Ordering::SeqCst) >= 1_000, "{turns:?}");
        stop.store(true, Ordering::SeqCst);
        yielder.join().unwrap();
    });
}

#[test]
fn a_task_that_ends_inside_a_direct_switch_is_finished_and_joined() {
    let _serial = serial();
    with_runtime(1, LIMIT, || {
        let before = rt::stats().direct_switches;
        for i in 0..100 {
            let (tx, rx) = channel::<u64>(0);
            let doubler = rt::spawn(move || {
                let v = rx.recv().unwrap();
                if v % 10 == 1 {
                    panic!("ends by a panic");
                }
                v * 2
            });
            // Let it start and park in its receive.
            while !rt::dump().contains("chan receive") {
                rt::yield_now();
            }
            // The send finds it parked and queues it; the join parks with it
            // the only task queued, runs it here, and it ends (or panics)
            // inside that switch.
            tx.send(i).unwrap();
            match doubler.join() {
                Ok(v) => assert_eq!(v, i * 2),
                Err(_) => assert_eq!(i % 10, 1),
            }
        }
        let direct = rt::stats().direct_switches - before;
        assert!(direct >= 100, "{direct} direct switches");
    });
}
