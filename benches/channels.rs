//! Channels side by side in one run: `netpark::sync::channel` against
//! tokio's `mpsc` and `oneshot`, `crossbeam-channel` between threads and
//! `std::sync::mpsc`.
//!
//! `cargo bench --bench channels` prints ns per round trip (ping-pong) and
//! per message (throughput), best of 5 rounds, and netpark's ratio to each.

use std::time::{Duration, Instant};

const ROUNDS: usize = 5;

fn best(ops: usize, mut f: impl FnMut() -> Duration) -> f64 {
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

/// Unbuffered round trips between two netpark tasks.
fn netpark_ping_pong(rt: &netpark::Runtime, n: usize, same_worker: bool) -> f64 {
    best(n, || {
        rt.block_on(move || {
            let (ping, ping_rx) = netpark::sync::channel::<usize>(0);
            let (pong, pong_rx) = netpark::sync::channel::<usize>(0);
            let b = netpark::task::Builder::new();
            let b = if same_worker { b.same_worker() } else { b };
            let player = b
                .spawn(move || {
                    for v in &ping_rx {
                        pong.send(v).unwrap();
                    }
                })
                .unwrap();
            let t = Instant::now();
            for i in 0..n {
                ping.send(i).unwrap();
                pong_rx.recv().unwrap();
            }
            let d = t.elapsed();
            drop(ping);
            player.join().unwrap();
            d
        })
    })
}

fn tokio_ping_pong(rt: &tokio::runtime::Runtime, n: usize) -> f64 {
    best(n, || {
        rt.block_on(async move {
            tokio::spawn(async move {
                let (ping, mut ping_rx) = tokio::sync::mpsc::channel::<usize>(1);
                let (pong, mut pong_rx) = tokio::sync::mpsc::channel::<usize>(1);
                let player = tokio::spawn(async move {
                    while let Some(v) = ping_rx.recv().await {
                        pong.send(v).await.unwrap();
                    }
                });
                let t = Instant::now();
                for i in 0..n {
                    ping.send(i).await.unwrap();
                    pong_rx.recv().await.unwrap();
                }
                let d = t.elapsed();
                drop(ping);
                player.await.unwrap();
                d
            })
            .await
            .unwrap()
        })
    })
}

fn tokio_oneshot_ping_pong(rt: &tokio::runtime::Runtime, n: usize) -> f64 {
    best(n, || {
        rt.block_on(async move {
            tokio::spawn(async move {
                let (ping, mut ping_rx) =
                    tokio::sync::mpsc::unbounded_channel::<tokio::sync::oneshot::Sender<usize>>();
                let player = tokio::spawn(async move {
                    while let Some(reply) = ping_rx.recv().await {
                        let _ = reply.send(1);
                    }
                });
                let t = Instant::now();
                for _ in 0..n {
                    let (tx, rx) = tokio::sync::oneshot::channel();
                    ping.send(tx).unwrap();
                    rx.await.unwrap();
                }
                let d = t.elapsed();
                drop(ping);
                player.await.unwrap();
                d
            })
            .await
            .unwrap()
        })
    })
}

fn crossbeam_ping_pong(n: usize) -> f64 {
    best(n, || {
        let (ping, ping_rx) = crossbeam_channel::bounded::<usize>(0);
        let (pong, pong_rx) = crossbeam_channel::bounded::<usize>(0);
        let player = std::thread::spawn(move || {
            for v in ping_rx {
                pong.send(v).unwrap();
            }
        });
        let t = Instant::now();
        for i in 0..n {
            ping.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        let d = t.elapsed();
        drop(ping);
        player.join().unwrap();
        d
    })
}

fn std_ping_pong(n: usize) -> f64 {
    best(n, || {
        let (ping, ping_rx) = std::sync::mpsc::sync_channel::<usize>(0);
        let (pong, pong_rx) = std::sync::mpsc::sync_channel::<usize>(0);
        let player = std::thread::spawn(move || {
            for v in ping_rx {
                pong.send(v).unwrap();
            }
        });
        let t = Instant::now();
        for i in 0..n {
            ping.send(i).unwrap();
            pong_rx.recv().unwrap();
        }
        let d = t.elapsed();
        drop(ping);
        player.join().unwrap();
        d
    })
}

/// 4 producers and `consumers` consumers through a channel of 1,024.
fn netpark_throughput(rt: &netpark::Runtime, per: usize, consumers: usize) -> f64 {
    best(4 * per, || {
        rt.block_on(move || {
            let (tx, rx) = netpark::sync::channel::<usize>(1024);
            let t = Instant::now();
            let ps: Vec<_> = (0..4)
                .map(|_| {
                    let tx = tx.clone();
                    netpark::spawn(move || {
                        for i in 0..per {
                            tx.send(i).unwrap();
                        }
                    })
                })
                .collect();
            drop(tx);
            let cs: Vec<_> = (0..consumers)
                .map(|_| {
                    let rx = rx.clone();
                    netpark::spawn(move || rx.iter().count())
                })
                .collect();
            drop(rx);
            ps.into_iter().for_each(|p| p.join().unwrap());
            let n: usize = cs.into_iter().map(|c| c.join().unwrap()).sum();
            assert_eq!(n, 4 * per);
            t.elapsed()
        })
    })
}

fn tokio_throughput(rt: &tokio::runtime::Runtime, per: usize) -> f64 {
    best(4 * per, || {
        rt.block_on(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<usize>(1024);
            let t = Instant::now();
            for _ in 0..4 {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for i in 0..per {
                        tx.send(i).await.unwrap();
                    }
                });
            }
            drop(tx);
            let c = tokio::spawn(async move {
                let mut n = 0;
                while rx.recv().await.is_some() {
                    n += 1;
                }
                n
            });
            assert_eq!(c.await.unwrap(), 4 * per);
            t.elapsed()
        })
    })
}

fn crossbeam_throughput(per: usize, consumers: usize) -> f64 {
    best(4 * per, || {
        let (tx, rx) = crossbeam_channel::bounded::<usize>(1024);
        let t = Instant::now();
        let ps: Vec<_> = (0..4)
            .map(|_| {
                let tx = tx.clone();
                std::thread::spawn(move || {
                    for i in 0..per {
                        tx.send(i).unwrap();
                    }
                })
            })
            .collect();
        drop(tx);
        let cs: Vec<_> = (0..consumers)
            .map(|_| {
                let rx = rx.clone();
                std::thread::spawn(move || rx.iter().count())
            })
            .collect();
        ps.into_iter().for_each(|p| p.join().unwrap());
        let n: usize = cs.into_iter().map(|c| c.join().unwrap()).sum();
        assert_eq!(n, 4 * per);
        t.elapsed()
    })
}

fn row(name: &str, ours: f64, peers: &[(&str, f64)]) {
    let mut line = format!("{name:<44} netpark {ours:>8.0} ns");
    for (p, v) in peers {
        line.push_str(&format!(" | {p} {v:>8.0} ns ({:.2}x)", v / ours));
    }
    println!("{line}");
}

fn main() {
    // `cargo test --benches` runs this without `--bench`: keep it short.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n = if quick { 200 } else { 100_000 };
    let per = if quick { 200 } else { 250_000 };
    let np1 = netpark_rt(1);
    let np2 = netpark_rt(2);
    let tk1 = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let tk2 = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if std::env::var("ONLY").as_deref() == Ok("netpark-ping-pong") {
        // For a profiler: netpark's one-worker ping-pong alone.
        println!("{:.0} ns", netpark_ping_pong(&np1, n * 10, true));
        return;
    }
    println!("channels: ns per round trip / per message, best of {ROUNDS}; (x) is peer/netpark, above 1 is netpark faster");
    row(
        "ping-pong, one worker (cap 0)",
        netpark_ping_pong(&np1, n, true),
        &[
            ("tokio mpsc(1) current_thread", tokio_ping_pong(&tk1, n)),
            ("tokio oneshot", tokio_oneshot_ping_pong(&tk1, n)),
        ],
    );
    row(
        "ping-pong, two workers (cap 0)",
        netpark_ping_pong(&np2, n, false),
        &[
            ("tokio mpsc(1) multi_thread(2)", tokio_ping_pong(&tk2, n)),
            ("crossbeam bounded(0) threads", crossbeam_ping_pong(n)),
            ("std sync_channel(0) threads", std_ping_pong(n)),
        ],
    );
    row(
        "4 producers, 1 consumer, cap 1024",
        netpark_throughput(&np2, per, 1),
        &[
            ("tokio mpsc multi_thread(2)", tokio_throughput(&tk2, per)),
            ("crossbeam threads", crossbeam_throughput(per, 1)),
        ],
    );
    row(
        "4 producers, 4 consumers, cap 1024",
        netpark_throughput(&np2, per, 4),
        &[("crossbeam threads", crossbeam_throughput(per, 4))],
    );
}
