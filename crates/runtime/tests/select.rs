//! `Select`: Go's select over sends and receives of different types, with
//! fairness, timeout, default, close and cancel; and a stress with a tally.

mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_runtime as rt;
use netpark_runtime::sync::{channel, Select};
use util::with_runtime;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn a_ready_case_is_chosen_at_random_and_none_starves() {
    with_runtime(1, LIMIT, || {
        let (a_tx, a_rx) = channel::<u8>(1);
        let (b_tx, b_rx) = channel::<u8>(1);
        let mut counts = [0u32; 2];
        for _ in 0..10_000 {
            // Both ready (a send fails only while the last value waits).
            let _ = a_tx.try_send(0);
            let _ = b_tx.try_send(1);
            let i = Select::new()
                .recv(&a_rx, |v| v.unwrap())
                .recv(&b_rx, |v| v.unwrap())
                .wait()
                .unwrap();
            counts[i as usize] += 1;
        }
        assert!(counts[0] > 4_000 && counts[1] > 4_000, "{counts:?}");
    });
}

#[test]
fn default_runs_when_nothing_is_ready_and_timeout_after_its_time() {
    with_runtime(1, LIMIT, || {
        let (_tx, rx) = channel::<u8>(0);
        let r = Select::new()
            .recv(&rx, |_| "recv")
            .default(|| "default")
            .wait()
            .unwrap();
        assert_eq!(r, "default");
        let start = Instant::now();
        let r = Select::new()
            .recv(&rx, |_| "recv")
            .timeout(Duration::from_millis(50), || "timeout")
            .wait()
            .unwrap();
        assert_eq!(r, "timeout");
        assert!(start.elapsed() >= Duration::from_millis(40));
    });
}

#[test]
fn a_parked_select_is_woken_by_a_send_on_any_of_its_channels() {
    with_runtime(2, LIMIT, || {
        let (n_tx, n_rx) = channel::<u32>(0);
        let (s_tx, s_rx) = channel::<String>(0);
        let sender = rt::spawn(move || {
            rt::sleep(Duration::from_millis(20)).unwrap();
            s_tx.send("late".to_string()).unwrap();
            drop(n_tx);
        });
        let got = Select::new()
            .recv(&n_rx, |n| format!("n {n:?}"))
            .recv(&s_rx, |s| format!("s {}", s.unwrap()))
            .wait()
            .unwrap();
        assert_eq!(got, "s late");
        sender.join().unwrap();
        // The other channel is closed now: its case fires with RecvError.
        let got = Select::new().recv(&n_rx, |n| n.is_err()).wait().unwrap();
        assert!(got);
    });
}

#[test]
fn a_send_case_fires_once_and_an_unfired_one_keeps_its_value() {
    with_runtime(2, LIMIT, || {
        let (a_tx, a_rx) = channel::<u32>(0);
        let (b_tx, b_rx) = channel::<u32>(0);
        let receiver = rt::spawn(move || a_rx.recv().unwrap());
        let which = Select::new()
            .send(&a_tx, 1, |r| {
                r.unwrap();
                'a'
            })
            .send(&b_tx, 2, |r| {
                r.unwrap();
                'b'
            })
            .wait()
            .unwrap();
        assert_eq!(which, 'a');
        assert_eq!(receiver.join().unwrap(), 1);
        assert!(b_rx.try_recv().is_err(), "the unfired send sent nothing");
    });
}

#[test]
fn cancel_stops_a_parked_select() {
    with_runtime(2, LIMIT, || {
        let (tx, rx) = channel::<u32>(0);
        let sel = rt::spawn(move || Select::new().recv(&rx, |v| v.ok()).wait());
        rt::sleep(Duration::from_millis(20)).unwrap();
        assert!(rt::dump().contains("select"), "{}", rt::dump());
        sel.cancel();
        assert!(sel.join().unwrap().is_err());
        // Nothing of the select is left on the channel.
        assert!(tx.try_send(1).is_err());
    });
}

#[test]
fn a_random_stress_of_selects_loses_and_doubles_nothing() {
    with_runtime(2, LIMIT, || {
        const PER: u64 = 2_000;
        let (a_tx, a_rx) = channel::<u64>(0);
        let (b_tx, b_rx) = channel::<u64>(4);
        let sum = Arc::new(AtomicU64::new(0));
        let count = Arc::new(AtomicU64::new(0));
        // Producers select between the two channels for each value.
        let producers: Vec<_> = (0..4u64)
            .map(|p| {
                let (a_tx, b_tx) = (a_tx.clone(), b_tx.clone());
                rt::spawn(move || {
                    for i in 0..PER {
                        let v = p * 1_000_000 + i;
                        Select::new()
                            .send(&a_tx, v, |r| r.unwrap())
                            .send(&b_tx, v, |r| r.unwrap())
                            .wait()
                            .unwrap();
                    }
                })
            })
            .collect();
        drop((a_tx, b_tx));
        // Consumers select between the channels, some with timeouts.
        let consumers: Vec<_> = (0..4)
            .map(|c| {
                let (a_rx, b_rx, sum, count) =
                    (a_rx.clone(), b_rx.clone(), sum.clone(), count.clone());
                rt::spawn(move || {
                    let (mut a_open, mut b_open) = (true, true);
                    while a_open || b_open {
                        let mut sel = Select::new();
                        if a_open {
                            sel = sel.recv(&a_rx, |v| (0, v.ok()));
                        }
                        if b_open {
                            sel = sel.recv(&b_rx, |v| (1, v.ok()));
                        }
                        if c % 2 == 0 {
                            sel = sel.timeout(Duration::from_micros(50), || (2, None));
                        }
                        match sel.wait().unwrap() {
                            (_, Some(v)) => {
                                sum.fetch_add(v, Ordering::Relaxed);
                                count.fetch_add(1, Ordering::Relaxed);
                            }
                            (0, None) => a_open = false,
                            (1, None) => b_open = false,
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        producers.into_iter().for_each(|p| p.join().unwrap());
        consumers.into_iter().for_each(|c| c.join().unwrap());
        let want: u64 = (0..4u64)
            .map(|p| (0..PER).map(|i| p * 1_000_000 + i).sum::<u64>())
            .sum();
        assert_eq!(count.load(Ordering::Relaxed), 4 * PER);
        assert_eq!(sum.load(Ordering::Relaxed), want);
    });
}

/// A select whose timeout expires just as a peer fires one of its cases
/// takes that case's outcome: a received value is kept, a sent one counted,
/// never dropped (the race the 10,000-task stress first hit).
#[test]
fn a_timeout_racing_a_peer_keeps_the_fired_case() {
    const N: u64 = 100_000;
    with_runtime(2, LIMIT, || {
        // Receives through a select with a short timeout, from a plain sender.
        let (tx, rx) = channel::<u64>(0);
        // Peers on plain threads, so they fire in parallel with the wait.
        let sender = std::thread::spawn(move || {
            for v in 1..=N {
                tx.send(v).unwrap();
            }
        });
        let (mut got, mut sum, mut round) = (0, 0, 0u64);
        while got < N {
            round += 1;
            let r = Select::new()
                .recv(&rx, |v| v.ok())
                .timeout(Duration::from_micros(round % 3), || None)
                .wait()
                .unwrap();
            if let Some(v) = r {
                got += 1;
                sum += v;
            }
        }
        sender.join().unwrap();
        assert_eq!(sum, N * (N + 1) / 2);

        // Sends through a select with a short timeout, to a plain receiver.
        let (tx, rx) = channel::<u64>(0);
        let receiver = std::thread::spawn(move || rx.iter().sum::<u64>());
        let (mut v, mut sent, mut round) = (1, 0, 0u64);
        while v <= N {
            round += 1;
            let ok = Select::new()
                .send(&tx, v, |r| r.is_ok())
                .timeout(Duration::from_micros(round % 3), || false)
                .wait()
                .unwrap();
            if ok {
                sent += v;
                v += 1;
            }
        }
        drop(tx);
        assert_eq!(receiver.join().unwrap(), sent);
        assert_eq!(sent, N * (N + 1) / 2);
    });
}
