//! Sleeps and timers: order, margins, zero.

mod util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_runtime as rt;
use util::{assert_elapsed, with_runtime, LIMIT};

#[test]
fn timers_fire_in_deadline_order() {
    let order = with_runtime(1, LIMIT, || {
        let order = Arc::new(parking_lot::Mutex::new(Vec::new()));
        let base = Instant::now() + Duration::from_millis(20);
        let hs: Vec<_> = [50u64, 10, 40, 0, 30, 20]
            .into_iter()
            .map(|ms| {
                let order = order.clone();
                rt::spawn(move || {
                    rt::sleep_until(base + Duration::from_millis(ms)).unwrap();
                    order.lock().push(ms);
                })
            })
            .collect();
        for h in hs {
            h.join().unwrap();
        }
        let v = order.lock().clone();
        v
    });
    assert_eq!(order, vec![0, 10, 20, 30, 40, 50]);
}

#[test]
fn sleep_lasts_at_least_its_duration() {
    with_runtime(1, LIMIT, || {
        let t = Instant::now();
        rt::sleep(Duration::from_millis(30)).unwrap();
        assert_elapsed(
            t.elapsed(),
            Duration::from_millis(30),
            Duration::from_secs(2),
        );
    });
}

#[test]
fn sleep_zero_and_past_deadlines_return_at_once() {
    with_runtime(1, LIMIT, || {
        let t = Instant::now();
        for _ in 0..1000 {
            rt::sleep(Duration::ZERO).unwrap();
        }
        rt::sleep_until(t - Duration::from_secs(1)).unwrap();
        assert!(t.elapsed() < Duration::from_secs(1));
    });
}

#[test]
fn sleep_outside_a_runtime_sleeps_the_thread() {
    let t = Instant::now();
    rt::sleep(Duration::from_millis(10)).unwrap();
    assert_elapsed(
        t.elapsed(),
        Duration::from_millis(10),
        Duration::from_secs(2),
    );
}

#[test]
fn a_busy_worker_still_fires_timers() {
    with_runtime(1, LIMIT, || {
        let sleeper = rt::spawn(|| {
            let t = Instant::now();
            rt::sleep(Duration::from_millis(10)).unwrap();
            t.elapsed()
        });
        // Keep the only worker busy with a yielding loop for 200 ms.
        let spinner = rt::spawn(|| {
            let t = Instant::now();
            while t.elapsed() < Duration::from_millis(200) {
                rt::yield_now();
            }
        });
        let slept = sleeper.join().unwrap();
        spinner.join().unwrap();
        assert!(
            slept < Duration::from_millis(150),
            "timer starved by a yielding task: {slept:?}"
        );
    });
}

#[test]
fn short_sleeps_are_not_rounded_up_to_a_millisecond() {
    // epoll_pwait2 takes a nanosecond timeout: ten 100 µs sleeps take about
    // 1–2 ms, where millisecond rounding would make them take at least 10 ms.
    // Best of three rounds, since this machine is shared.
    with_runtime(1, LIMIT, || {
        let best = (0..3)
            .map(|_| {
                let t = Instant::now();
                for _ in 0..10 {
                    rt::sleep(Duration::from_micros(100)).unwrap();
                }
                t.elapsed()
            })
            .min()
            .unwrap();
        assert!(
            best >= Duration::from_millis(1),
            "slept too little: {best:?}"
        );
        assert!(
            best < Duration::from_millis(8),
            "ten 100 µs sleeps took {best:?}"
        );
    });
}

#[test]
fn after_sends_the_time_once_after_its_duration_then_closes() {
    with_runtime(2, LIMIT, || {
        let start = Instant::now();
        let rx = rt::time::after(Duration::from_millis(30));
        assert!(rx.try_recv().is_err(), "fired at once");
        let at = rx.recv().unwrap();
        assert!(at >= start + Duration::from_millis(30), "fired early");
        assert!(rx.recv().is_err(), "a second value, or never closed");
        // As a Select case, beside a channel that never delivers.
        let (_tx, never) = rt::sync::channel::<u8>(0);
        let late = rt::time::after(Duration::from_millis(10));
        let which = rt::sync::Select::new()
            .recv(&never, |_| "value")
            .recv(&late, |_| "after")
            .wait()
            .unwrap();
        assert_eq!(which, "after");
    });
    // Outside a runtime a thread feeds it.
    let start = Instant::now();
    let at = rt::time::after(Duration::from_millis(10)).recv().unwrap();
    assert!(at >= start + Duration::from_millis(10));
}

#[test]
fn tick_spaces_its_ticks_drops_the_ones_not_taken_and_stops_with_its_receiver() {
    with_runtime(2, LIMIT, || {
        let period = Duration::from_millis(10);
        let start = Instant::now();
        let ticks = rt::time::tick(period);
        for k in 1..=5 {
            // The k-th tick is never early (a late one may be followed by
            // the next one soon, as Go's fixed-rate ticker's is).
            let t = ticks.recv().unwrap();
            assert!(t >= start + period * k, "tick {k} came early");
        }
        // Ten periods not taken leave at most one tick waiting, not ten.
        rt::sleep(period * 10).unwrap();
        let mut queued = 0;
        while ticks.try_recv().is_ok() {
            queued += 1;
        }
        assert!(queued <= 1, "{queued} ticks piled up for a slow receiver");
        assert!(rt::dump().contains("time.Tick"), "{}", rt::dump());
        drop(ticks);
        let start = Instant::now();
        while rt::dump().contains("time.Tick") {
            assert!(start.elapsed() < LIMIT, "the ticker outlived its receiver");
            rt::sleep(period).unwrap();
        }
    });
}

#[test]
fn a_duration_max_timeout_means_no_timeout_and_never_panics() {
    use netpark_runtime::sync::{channel, Condvar, Mutex, Select};
    with_runtime(2, LIMIT, || {
        let forever = Duration::MAX;
        let (tx, rx) = channel::<u8>(1);
        tx.send_timeout(1, forever).unwrap();
        assert_eq!(rx.recv_timeout(forever).unwrap(), 1);
        tx.send(2).unwrap();
        let got = Select::new()
            .recv(&rx, |v| v.unwrap())
            .timeout(forever, || 0)
            .wait()
            .unwrap();
        assert_eq!(got, 2);
        // A receive that waits "forever" still gets a later value.
        let late = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5)).unwrap();
            tx.send(3).unwrap();
        });
        assert_eq!(rx.recv_timeout(forever).unwrap(), 3);
        late.join().unwrap();
        // A sleep of Duration::MAX lasts until it is cancelled.
        let sleeper = rt::spawn(move || rt::sleep(forever));
        rt::sleep(Duration::from_millis(5)).unwrap();
        sleeper.cancel();
        let e = sleeper.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Interrupted);
        assert!(rt::time::after(forever).try_recv().is_err());
        drop(rt::time::tick(forever));
        // A zero period is Go's nil channel: it never delivers, never closes.
        let zero = rt::time::tick(Duration::ZERO);
        assert_eq!(
            zero.recv_timeout(Duration::from_millis(20)),
            Err(rt::sync::TryRecvError::Empty)
        );
        let pair = Arc::new((Mutex::new(false), Condvar::new()));
        let p2 = pair.clone();
        let notifier = rt::spawn(move || {
            rt::sleep(Duration::from_millis(5)).unwrap();
            *p2.0.lock().unwrap() = true;
            p2.1.notify_all();
        });
        let mut g = pair.0.lock().unwrap();
        while !*g {
            g = pair.1.wait_timeout(g, forever).unwrap().0;
        }
        drop(g);
        notifier.join().unwrap();
    });
}
