//! Runtime micro-benchmarks, side by side with tokio and std::thread in one run.
//!
//! `cargo bench --bench runtime` prints ns/op for each peer and the ratio
//! tokio/netpark (above 1.0 means netpark is faster). Each figure is the best of
//! several rounds, since this machine is shared and noisy.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

fn best<F: FnMut() -> Duration>(ops: usize, mut f: F) -> f64 {
    (0..ROUNDS)
        .map(|_| f().as_nanos() as f64 / ops as f64)
        .fold(f64::INFINITY, f64::min)
}

fn netpark_rt(workers: usize) -> netpark::Runtime {
    netpark::Runtime::builder()
        .workers(workers)
        .name("bench")
        .build()
        .unwrap()
}

fn tokio_rt(workers: usize) -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap()
}

fn row(name: &str, np: f64, tk: f64, th: Option<f64>) {
    let th = th.map_or("-".to_string(), |v| format!("{v:.0}"));
    println!(
        "{name:<28} {np:>10.0} {tk:>10.0} {th:>12} {:>14.2}x",
        tk / np
    );
}

fn spawn_join(n: usize) -> (f64, f64, f64) {
    let rt = netpark_rt(2);
    let np = best(n, || {
        rt.block_on(move || {
            let t = Instant::now();
            for i in 0..n {
                let h = netpark::spawn(move || i);
                assert_eq!(h.join().unwrap(), i);
            }
            t.elapsed()
        })
    });
    let trt = tokio_rt(2);
    let tk = best(n, || {
        trt.block_on(async move {
            tokio::spawn(async move {
                let t = Instant::now();
                for i in 0..n {
                    let h = tokio::spawn(async move { i });
                    assert_eq!(h.await.unwrap(), i);
                }
                t.elapsed()
            })
            .await
            .unwrap()
        })
    });
    let th = best(n / 20, || {
        let t = Instant::now();
        for i in 0..n / 20 {
            assert_eq!(std::thread::spawn(move || i).join().unwrap(), i);
        }
        t.elapsed()
    });
    (np, tk, th)
}

fn yield_switch(n: usize) -> (f64, f64, f64) {
    // Two tasks on one worker yield to each other: every yield is one switch
    // out and one in; ns per yield.
    let rt = netpark_rt(1);
    let np = best(2 * n, || {
        rt.block_on(move || {
            let t = Instant::now();
            let other = netpark::spawn(move || {
                for _ in 0..n {
                    netpark::yield_now();
                }
            });
            for _ in 0..n {
                netpark::yield_now();
            }
            other.join().unwrap();
            t.elapsed()
        })
    });
    let trt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let tk = best(2 * n, || {
        trt.block_on(async move {
            let t = Instant::now();
            let local = tokio::task::LocalSet::new();
            local
                .run_until(async move {
                    let other = tokio::task::spawn_local(async move {
                        for _ in 0..n {
                            tokio::task::yield_now().await;
                        }
                    });
                    for _ in 0..n {
                        tokio::task::yield_now().await;
                    }
                    other.await.unwrap();
                })
                .await;
            t.elapsed()
        })
    });
    let th = best(n, || {
        let t = Instant::now();
        for _ in 0..n {
            std::thread::yield_now();
        }
        t.elapsed()
    });
    (np, tk, th)
}

/// Where the two players of a netpark ping-pong run.
#[derive(Clone, Copy, PartialEq)]
enum Players {
    /// A runtime of one worker.
    OneWorker,
    /// Two workers; the players start from a plain thread, so round-robin
    /// puts them on different workers and every wake crosses threads.
    Apart,
    /// Two workers; a task spawns both with `task::Builder::same_worker`.
    Together,
}

/// Two netpark tasks hand a ball back and forth: one park and one wake per hop.
fn netpark_ping_pong(n: usize, players: Players) -> f64 {
    let rt = netpark_rt(if players == Players::OneWorker { 1 } else { 2 });
    let cross = players == Players::Apart;
    best(n, || {
        let ball = Arc::new(AtomicUsize::new(0));
        let units: Arc<Mutex<[Option<netpark::Unparker>; 2]>> = Arc::new(Mutex::new([None, None]));
        let ready = Arc::new(AtomicUsize::new(0));
        let t = Instant::now();
        let bodies: Vec<_> = (0..2)
            .map(|me| {
                let (ball, units, ready) = (ball.clone(), units.clone(), ready.clone());
                move || {
                    units.lock().unwrap()[me] = Some(netpark::current_unparker());
                    ready.fetch_add(1, Ordering::SeqCst);
                    while ready.load(Ordering::SeqCst) < 2 {
                        netpark::yield_now();
                    }
                    let other = units.lock().unwrap()[1 - me].clone().unwrap();
                    loop {
                        let v = ball.load(Ordering::Acquire);
                        if v >= n {
                            other.unpark();
                            return std::thread::current().id();
                        }
                        if v % 2 == me {
                            ball.store(v + 1, Ordering::Release);
                            other.unpark();
                        } else {
                            netpark::park(netpark::WaitReason::Other, None).unwrap();
                        }
                    }
                }
            })
            .collect();
        let handles: Vec<_> = match players {
            // One task spawns both, so both start on its worker.
            Players::Together => rt.block_on(move || {
                bodies
                    .into_iter()
                    .map(|b| {
                        netpark::task::Builder::new()
                            .same_worker()
                            .spawn(b)
                            .unwrap()
                    })
                    .collect()
            }),
            _ => bodies.into_iter().map(|b| rt.spawn(b)).collect(),
        };
        let threads: Vec<_> = handles.into_iter().map(|p| p.join().unwrap()).collect();
        assert_eq!(
            threads[0] != threads[1],
            cross,
            "players placed as intended"
        );
        t.elapsed()
    })
}

/// tokio's shape: a oneshot per hop, answered by a task on the other side.
fn tokio_ping_pong(n: usize, rt: &tokio::runtime::Runtime) -> f64 {
    best(n, || {
        rt.block_on(async move {
            let (to_b, mut b_rx) =
                tokio::sync::mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<()>>();
            let t = Instant::now();
            let b = tokio::spawn(async move {
                while let Some(reply) = b_rx.recv().await {
                    let _ = reply.send(());
                }
            });
            let a = tokio::spawn(async move {
                for _ in 0..n / 2 {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    to_b.send(tx).unwrap();
                    rx.await.unwrap();
                }
            });
            a.await.unwrap();
            b.await.unwrap();
            t.elapsed()
        })
    })
}

fn thread_ping_pong(n: usize) -> f64 {
    best(n, || {
        let pair = Arc::new((Mutex::new(0usize), std::sync::Condvar::new()));
        let p2 = pair.clone();
        let t = Instant::now();
        let play = move |pair: Arc<(Mutex<usize>, std::sync::Condvar)>, me: usize| {
            let (lock, cv) = &*pair;
            let mut v = lock.lock().unwrap();
            while *v < n {
                if *v % 2 == me {
                    *v += 1;
                    cv.notify_one();
                } else {
                    v = cv.wait(v).unwrap();
                }
            }
            cv.notify_one();
        };
        let other = std::thread::spawn(move || play(p2, 1));
        play(pair, 0);
        other.join().unwrap();
        t.elapsed()
    })
}

fn sleeps(n: usize, d: Duration) -> (f64, f64) {
    let rt = netpark_rt(1);
    let np = best(n, || {
        rt.block_on(move || {
            let t = Instant::now();
            for _ in 0..n {
                netpark::sleep(d).unwrap();
            }
            t.elapsed()
        })
    });
    // tokio rounds every sleep up to its 1 ms timer tick: fewer iterations.
    let m = n.min(200);
    let trt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tk = best(m, || {
        trt.block_on(async move {
            let t = Instant::now();
            for _ in 0..m {
                tokio::time::sleep(d).await;
            }
            t.elapsed()
        })
    });
    (np, tk)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing we need.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "{:<28} {:>10} {:>10} {:>12} {:>15}",
        "ns/op (best of 5)", "netpark", "tokio", "std::thread", "tokio/netpark"
    );
    let (np, tk, th) = spawn_join(100_000);
    row("spawn + join", np, tk, Some(th));
    let (np, tk, th) = yield_switch(1_000_000);
    row("yield (task switch)", np, tk, Some(th));
    // One worker each: against tokio's current_thread scheduler (its fastest)
    // and its multi-thread scheduler given one worker (the shape the issue
    // names), both tasks on the one thread in every case.
    let np = netpark_ping_pong(200_000, Players::OneWorker);
    let same = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    row(
        "ping-pong, one worker (hop)",
        np,
        tokio_ping_pong(200_000, &same),
        None,
    );
    row(
        "  tokio multi-thread, 1 worker",
        np,
        tokio_ping_pong(200_000, &tokio_rt(1)),
        None,
    );
    // Two workers each, tokio's default here. tokio keeps both tasks on one
    // thread (a woken task runs on its waker's); a netpark task never moves
    // once started, so where it starts decides.
    let multi = tokio_rt(2);
    let tk = tokio_ping_pong(200_000, &multi);
    row(
        "ping-pong, two workers, together",
        netpark_ping_pong(200_000, Players::Together),
        tk,
        None,
    );
    row(
        "ping-pong, two workers, apart",
        netpark_ping_pong(20_000, Players::Apart),
        tk,
        Some(thread_ping_pong(20_000)),
    );
    let (np, tk) = sleeps(100_000, Duration::ZERO);
    row("sleep(0)", np, tk, None);
    let (np, tk) = sleeps(200, Duration::from_micros(1));
    row("sleep(1us) (timer fires)", np, tk, None);
}
