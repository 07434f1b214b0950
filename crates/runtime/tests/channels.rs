//! `sync::channel`, `WaitGroup` and `Once`: Go's semantics between tasks on
//! one worker, across workers, and with plain threads; nothing lost or
//! doubled by a close, a cancel or a timeout.

mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_runtime as rt;
use netpark_runtime::sync::{channel, Once, OnceLock, TryRecvError, TrySendError, WaitGroup};
use util::with_runtime;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn an_unbuffered_send_returns_once_a_receiver_has_the_value() {
    with_runtime(2, LIMIT, || {
        let (tx, rx) = channel::<u32>(0);
        let sent = Arc::new(AtomicU64::new(0));
        let s = sent.clone();
        let sender = rt::spawn(move || {
            tx.send(7).unwrap();
            s.store(1, Ordering::SeqCst);
        });
        rt::sleep(Duration::from_millis(30)).unwrap();
        assert_eq!(sent.load(Ordering::SeqCst), 0, "no receiver yet");
        assert!(rt::dump().contains("chan send"), "{}", rt::dump());
        assert_eq!(rx.recv().unwrap(), 7);
        sender.join().unwrap();
        assert_eq!(sent.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_buffered_channel_holds_cap_values_then_waits() {
    with_runtime(1, LIMIT, || {
        let (tx, rx) = channel::<u32>(2);
        tx.send(1).unwrap();
        tx.send(2).unwrap();
        assert_eq!((tx.len(), tx.capacity()), (2, 2));
        assert!(matches!(tx.try_send(3), Err(TrySendError::Full(3))));
        let start = Instant::now();
        assert!(matches!(
            tx.send_timeout(3, Duration::from_millis(50)),
            Err(TrySendError::Full(3))
        ));
        assert!(start.elapsed() >= Duration::from_millis(40));
        assert_eq!(rx.recv().unwrap(), 1);
        tx.send(3).unwrap();
        assert_eq!(rx.iter().take(2).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            rx.recv_timeout(Duration::from_millis(10)),
            Err(TryRecvError::Empty)
        );
    });
}

#[test]
fn ping_pong_on_one_worker_and_across_workers() {
    for same in [true, false] {
        with_runtime(2, LIMIT, move || {
            let (ping_tx, ping_rx) = channel::<u64>(0);
            let (pong_tx, pong_rx) = channel::<u64>(0);
            let b = rt::task::Builder::new();
            let b = if same { b.same_worker() } else { b };
            let player = b
                .spawn(move || {
                    for v in &ping_rx {
                        pong_tx.send(v + 1).unwrap();
                    }
                })
                .unwrap();
            for i in 0..10_000 {
                ping_tx.send(i).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), i + 1);
            }
            drop(ping_tx);
            player.join().unwrap();
        });
    }
}

#[test]
fn four_producers_four_consumers_exact_sums() {
    for cap in [0, 1, 1024] {
        with_runtime(2, LIMIT, move || {
            let (tx, rx) = channel::<u64>(cap);
            let producers: Vec<_> = (0..4u64)
                .map(|p| {
                    let tx = tx.clone();
                    rt::spawn(move || {
                        for i in 0..5_000u64 {
                            tx.send(p * 1_000_000 + i).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let consumers: Vec<_> = (0..4)
                .map(|_| {
                    let rx = rx.clone();
                    rt::spawn(move || rx.iter().fold((0u64, 0u64), |(n, s), v| (n + 1, s + v)))
                })
                .collect();
            drop(rx);
            for p in producers {
                p.join().unwrap();
            }
            let (n, sum) = consumers
                .into_iter()
                .map(|c| c.join().unwrap())
                .fold((0, 0), |(a, b), (n, s)| (a + n, b + s));
            let want: u64 = (0..4u64)
                .map(|p| (0..5_000u64).map(|i| p * 1_000_000 + i).sum::<u64>())
                .sum();
            assert_eq!((n, sum), (20_000, want), "cap {cap}");
        });
    }
}

#[test]
fn close_fails_parked_senders_with_their_value_and_drains_then_fails_receivers() {
    with_runtime(2, LIMIT, || {
        let (tx, rx) = channel::<u32>(1);
        tx.send(1).unwrap();
        let tx2 = tx.clone();
        let sender = rt::spawn(move || tx2.send(2));
        rt::sleep(Duration::from_millis(20)).unwrap();
        tx.close();
        assert_eq!(sender.join().unwrap().unwrap_err().0, 2);
        assert_eq!(tx.send(3).unwrap_err().0, 3, "a send after close");
        assert_eq!(rx.recv().unwrap(), 1, "the buffered value drains");
        assert!(rx.recv().is_err());

        let (tx, rx) = channel::<u32>(0);
        let rx2 = rx.clone();
        let receiver = rt::spawn(move || rx2.recv());
        rt::sleep(Duration::from_millis(20)).unwrap();
        assert!(rt::dump().contains("chan receive"), "{}", rt::dump());
        drop(tx); // the last sender: closes
        assert!(receiver.join().unwrap().is_err());
        drop(rx);
    });
}

#[test]
fn a_send_with_no_receiver_left_fails() {
    with_runtime(1, LIMIT, || {
        let (tx, rx) = channel::<u32>(0);
        drop(rx);
        assert_eq!(tx.send(5).unwrap_err().0, 5);
    });
}

#[test]
fn cancel_and_timeout_racing_sends_never_lose_or_double_a_value() {
    with_runtime(2, LIMIT, || {
        let (tx, rx) = channel::<u64>(0);
        let received = Arc::new(AtomicU64::new(0));
        let kept = Arc::new(AtomicU64::new(0));
        for round in 0..300u64 {
            let tx2 = tx.clone();
            let k = kept.clone();
            let sender =
                rt::spawn(
                    move || match tx2.send_timeout(round, Duration::from_micros(200)) {
                        Ok(()) => 1,
                        Err(e) => {
                            k.fetch_add(1, Ordering::Relaxed);
                            assert_eq!(e.into_inner(), round, "the value comes back");
                            0
                        }
                    },
                );
            let rx2 = rx.clone();
            let r = received.clone();
            let receiver = rt::spawn(move || {
                if let Ok(v) = rx2.recv_timeout(Duration::from_micros(150)) {
                    assert_eq!(v, round);
                    r.fetch_add(1, Ordering::Relaxed);
                }
            });
            if round % 3 == 0 {
                receiver.cancel();
            }
            let delivered = sender.join().unwrap();
            receiver.join().unwrap();
            let got = received.load(Ordering::Relaxed);
            let back = kept.load(Ordering::Relaxed);
            // Each value either arrived once or came back to its sender.
            assert_eq!(got + back, round + 1, "round {round}");
            assert!(delivered == 1 || back > 0);
        }
    });
}

#[test]
fn channels_work_between_tasks_and_plain_threads() {
    let (tx, rx) = channel::<u32>(0);
    let thread = std::thread::spawn(move || (0..1000).map(|_| rx.recv().unwrap()).sum::<u32>());
    with_runtime(1, LIMIT, move || {
        for i in 0..1000 {
            tx.send(i).unwrap();
        }
    });
    assert_eq!(thread.join().unwrap(), (0..1000).sum());
}

#[test]
fn a_wait_group_of_ten_thousand_tasks() {
    with_runtime(2, LIMIT, || {
        let wg = WaitGroup::new();
        let n = Arc::new(AtomicU64::new(0));
        for _ in 0..10_000 {
            wg.add(1);
            let (wg, n) = (wg.clone(), n.clone());
            rt::spawn(move || {
                n.fetch_add(1, Ordering::Relaxed);
                wg.done();
            });
        }
        wg.wait().unwrap();
        assert_eq!(n.load(Ordering::Relaxed), 10_000);
    });
}

#[test]
fn wait_group_go_counts_each_task_until_it_ends_even_by_a_panic_or_a_cancel() {
    with_runtime(2, LIMIT, || {
        let wg = WaitGroup::new();
        let n = Arc::new(AtomicU64::new(0));
        for i in 0..100u64 {
            let n = n.clone();
            wg.go(move || {
                rt::yield_now();
                assert!(i != 7, "task 7 panics");
                n.fetch_add(1, Ordering::Relaxed);
            });
        }
        // One that would wait forever, cancelled: its unwind is its done.
        let (_tx, rx) = channel::<u8>(0);
        let stuck = wg.go(move || {
            let _ = rx.recv();
            rt::sleep(Duration::from_secs(3600)).ok();
        });
        rt::sleep(Duration::from_millis(20)).unwrap();
        assert!(format!("{wg:?}").contains("count: 1"), "{wg:?}");
        stuck.cancel();
        wg.wait().unwrap();
        assert_eq!(n.load(Ordering::Relaxed), 99);
        assert!(format!("{wg:?}").contains("count: 0"), "{wg:?}");
    });
}

#[test]
fn wait_group_wait_parks_and_shows_in_dump() {
    with_runtime(2, LIMIT, || {
        let wg = WaitGroup::new();
        wg.add(1);
        let w = wg.clone();
        let waiter = rt::spawn(move || w.wait());
        rt::sleep(Duration::from_millis(20)).unwrap();
        assert!(rt::dump().contains("sync.WaitGroup.Wait"), "{}", rt::dump());
        wg.done();
        waiter.join().unwrap().unwrap();
    });
}

#[test]
#[should_panic(expected = "WaitGroup counter overflow")]
fn a_wait_group_counter_past_i64_max_panics_with_its_name_as_a_negative_one_does() {
    let wg = WaitGroup::new();
    wg.add(i64::MAX);
    wg.add(1);
}

#[test]
#[should_panic(expected = "negative WaitGroup counter")]
fn a_negative_wait_group_counter_panics_as_in_go() {
    WaitGroup::new().done();
}

#[test]
fn once_runs_its_function_once_and_parks_concurrent_callers() {
    with_runtime(2, LIMIT, || {
        let once = Arc::new(Once::new());
        let runs = Arc::new(AtomicU64::new(0));
        let callers: Vec<_> = (0..50)
            .map(|_| {
                let (once, runs) = (once.clone(), runs.clone());
                rt::spawn(move || {
                    once.call_once(|| {
                        rt::sleep(Duration::from_millis(20)).unwrap();
                        runs.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
                    // Every caller returns only after it ran.
                    assert_eq!(runs.load(Ordering::SeqCst), 1);
                })
            })
            .collect();
        for c in callers {
            c.join().unwrap();
        }
        assert!(once.is_done());
    });
}

/// Waits until `n` tasks show `reason` in `dump()`.
fn wait_in_dump(reason: &str, n: usize) {
    let start = Instant::now();
    while rt::dump().matches(reason).count() < n {
        assert!(start.elapsed() < LIMIT, "{}", rt::dump());
        rt::sleep(Duration::from_millis(1)).unwrap();
    }
}

#[test]
fn once_lock_makes_its_value_once_while_the_other_tasks_of_its_worker_park() {
    // One worker: with std's OnceLock the second caller would block the
    // worker's thread while the first, parked in its sleep, could never
    // be resumed.
    with_runtime(1, LIMIT, || {
        let cell = Arc::new(OnceLock::new());
        let runs = Arc::new(AtomicU64::new(0));
        let (release, released) = channel::<()>(0);
        let callers: Vec<_> = (0..20)
            .map(|i| {
                let (cell, runs, released) = (cell.clone(), runs.clone(), released.clone());
                rt::spawn(move || {
                    *cell
                        .get_or_init(|| {
                            runs.fetch_add(1, Ordering::SeqCst);
                            released.recv().ok(); // parks, holding the cell
                            i
                        })
                        .unwrap()
                })
            })
            .collect();
        wait_in_dump("sync.Once.Do", 19);
        release.send(()).unwrap();
        let got: Vec<u64> = callers.into_iter().map(|c| c.join().unwrap()).collect();
        assert_eq!(runs.load(Ordering::SeqCst), 1, "made more than once");
        assert!(
            got.iter().all(|&v| v == got[0]),
            "callers saw different values: {got:?}"
        );
        assert_eq!(cell.get(), Some(&got[0]));
    });
}

#[test]
fn a_panicking_once_lock_initialiser_leaves_it_empty_for_the_next_caller() {
    with_runtime(2, LIMIT, || {
        let cell = Arc::new(OnceLock::<u32>::new());
        let (release, released) = channel::<()>(0);
        let c2 = cell.clone();
        let first = rt::spawn(move || {
            c2.get_or_init(|| {
                released.recv().ok();
                panic!("the first initialiser panics")
            })
            .copied()
        });
        wait_in_dump("chan receive", 1);
        // A waiter parked behind the panicking one runs its own initialiser.
        let c3 = cell.clone();
        let second = rt::spawn(move || *c3.get_or_init(|| 7).unwrap());
        // A cancelled waiter leaves with Interrupted and takes nothing.
        let c4 = cell.clone();
        let cancelled = rt::spawn(move || c4.get_or_init(|| 99).copied());
        wait_in_dump("sync.Once.Do", 2);
        cancelled.cancel();
        assert_eq!(
            cancelled.join().unwrap().unwrap_err().kind(),
            std::io::ErrorKind::Interrupted
        );
        release.send(()).unwrap();
        assert!(first.join().is_err(), "the panic reached its caller");
        assert_eq!(second.join().unwrap(), 7);
        assert_eq!(*cell.get_or_init(|| 8).unwrap(), 7);
        let cell = Arc::try_unwrap(cell).unwrap();
        assert_eq!(cell.into_inner(), Some(7));
    });
}

/// Outside any runtime the same primitives park plain threads: channels of
/// each kind, a select, a `WaitGroup`, a `RwLock` and a `Condvar`.
#[test]
fn the_sync_primitives_work_between_plain_threads() {
    use netpark_runtime::sync::{Condvar, Mutex, RwLock, Select};
    util::within(LIMIT, || {
        // A OnceLock whose initialiser sleeps: the other threads park on it
        // and all see the one value.
        let cell = Arc::new(OnceLock::new());
        let runs = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..4u64)
            .map(|i| {
                let (cell, runs) = (cell.clone(), runs.clone());
                std::thread::spawn(move || {
                    *cell
                        .get_or_init(|| {
                            runs.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(20));
                            i
                        })
                        .unwrap()
                })
            })
            .collect();
        let got: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(runs.load(Ordering::SeqCst), 1);
        assert!(got.iter().all(|&v| v == got[0]), "{got:?}");
        for cap in [0, 1, 1024] {
            let (ping, ping_rx) = channel::<u32>(cap);
            let (pong, pong_rx) = channel::<u32>(cap);
            let echo = std::thread::spawn(move || {
                for v in &ping_rx {
                    pong.send(v + 1).unwrap();
                }
            });
            for i in 0..1000 {
                ping.send(i).unwrap();
                assert_eq!(pong_rx.recv().unwrap(), i + 1);
            }
            drop(ping);
            echo.join().unwrap();
        }
        // A select on a thread, fed by another thread.
        let (a, a_rx) = channel::<u32>(0);
        let (b, b_rx) = channel::<&str>(0);
        let feeder = std::thread::spawn(move || {
            a.send(7).unwrap();
            b.send("seven").unwrap();
        });
        let mut got = Vec::new();
        for _ in 0..2 {
            got.push(
                Select::new()
                    .recv(&a_rx, |v| format!("{}", v.unwrap()))
                    .recv(&b_rx, |v| v.unwrap().to_string())
                    .wait()
                    .unwrap(),
            );
        }
        feeder.join().unwrap();
        got.sort();
        assert_eq!(got, ["7", "seven"]);
        // WaitGroup, RwLock and Condvar between threads.
        let wg = WaitGroup::new();
        let lock = Arc::new(RwLock::new(0u32));
        let ready = Arc::new((Mutex::new(false), Condvar::new()));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                wg.add(1);
                let (wg, lock, ready) = (wg.clone(), lock.clone(), ready.clone());
                std::thread::spawn(move || {
                    {
                        let mut go = ready.0.lock().unwrap();
                        while !*go {
                            go = ready.1.wait(go).unwrap();
                        }
                    }
                    *lock.write().unwrap() += 1;
                    wg.done();
                })
            })
            .collect();
        *ready.0.lock().unwrap() = true;
        ready.1.notify_all();
        wg.wait().unwrap();
        assert_eq!(*lock.read().unwrap(), 8);
        threads.into_iter().for_each(|t| t.join().unwrap());
    });
}
