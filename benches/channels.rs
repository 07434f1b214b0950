//! Channels side by side in one run: `netpark::sync::channel` against
//! tokio's `mpsc` and `oneshot`, `crossbeam-channel` between threads and
//! `std::sync::mpsc`.
//!
//! `cargo bench --bench channels` prints ns per round trip (ping-pong) and
//! per message (throughput), the best of 7 rounds, and netpark's ratio to
//! each. A row's rounds are interleaved (netpark, then each peer, then
//! netpark again), so a slow spell of the machine falls on all of them.
//! Round trips between threads take about 50 µs, so they run a tenth as
//! many.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const ROUNDS: usize = 7;

/// One round of `ops` operations timed by `f`: ns per operation. The
/// rounds of a row's peers are interleaved by [`row`], so a slow spell of
/// this shared machine hits every peer alike.
fn per_op(ops: usize, mut f: impl FnMut() -> Duration) -> f64 {
    f().as_nanos() as f64 / ops as f64
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
    per_op(n, || {
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
    per_op(n, || {
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
    per_op(n, || {
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
    per_op(n, || {
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
    per_op(n, || {
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
    per_op(4 * per, || {
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

/// 4 producers and `consumers` consumers through tokio's mpsc of 1,024.
/// tokio's mpsc has one receiver, so more than one consumer share it
/// behind a `tokio::sync::Mutex`, as a tokio user would do for MPMC.
fn tokio_throughput(rt: &tokio::runtime::Runtime, per: usize, consumers: usize) -> f64 {
    per_op(4 * per, || {
        rt.block_on(async move {
            let (tx, rx) = tokio::sync::mpsc::channel::<usize>(1024);
            let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
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
            let cs: Vec<_> = (0..consumers)
                .map(|_| {
                    let rx = rx.clone();
                    tokio::spawn(async move {
                        let mut n = 0;
                        while rx.lock().await.recv().await.is_some() {
                            n += 1;
                        }
                        n
                    })
                })
                .collect();
            let mut n = 0;
            for c in cs {
                n += c.await.unwrap();
            }
            assert_eq!(n, 4 * per);
            t.elapsed()
        })
    })
}

fn crossbeam_throughput(per: usize, consumers: usize) -> f64 {
    per_op(4 * per, || {
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

/// The host's clock in GHz, from a chain of dependent 64-bit multiplies
/// (`imul`, 3 cycles each on x86-64 cores since Core 2 and on AMD's Zen),
/// written in assembly so the compiler cannot regroup them. (A chain of
/// adds would not do: recent Intel cores fold an add of a constant at
/// rename, in no cycle at all.) It turns the ns below into cycles, which is
/// what the code controls: this shared VM's clock has been seen anywhere
/// from about 2.5 to 3.5 GHz. `None` on other targets.
fn clock_ghz(n: u64) -> Option<f64> {
    #[cfg(target_arch = "x86_64")]
    {
        let m = std::hint::black_box(0x9E37_79B9_7F4A_7C15u64);
        let mut x = std::hint::black_box(1u64);
        let t = Instant::now();
        for _ in 0..n {
            // SAFETY: one register multiply; no memory, stack or flags
            // anyone relies on.
            unsafe {
                std::arch::asm!("imul {x}, {m}", x = inout(reg) x, m = in(reg) m,
                    options(pure, nomem, nostack))
            };
        }
        std::hint::black_box(x);
        Some(3.0 * n as f64 / t.elapsed().as_nanos() as f64)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = n;
        None
    }
}

/// ns per uncontended acquire and release of a lock word, as the channel's
/// spin lock does them (a compare-and-swap, then a plain release store): a
/// round trip takes four.
fn lock_ns(n: u32) -> f64 {
    let word = AtomicBool::new(false);
    let t = Instant::now();
    for _ in 0..n {
        let w = std::hint::black_box(&word);
        while w
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {}
        w.store(false, Ordering::Release);
    }
    t.elapsed().as_nanos() as f64 / f64::from(n)
}

/// ns per `yield_now` of a lone task on one worker: a switch to the worker
/// loop, a run-queue push and pop, and a switch back. A one-worker round
/// trip makes one such pair of switches (a direct switch into the other
/// task and its switch back: `Local::direct_switch`), without the loop.
fn yield_hop_ns(rt: &netpark::Runtime, n: usize) -> f64 {
    per_op(n, || {
        rt.block_on(move || {
            let t = Instant::now();
            for _ in 0..n {
                netpark::yield_now();
            }
            t.elapsed()
        })
    })
}

/// What one one-worker round trip is made of, in this host's cycles: the
/// four lock acquisitions and a pair of switches (through the worker loop)
/// beside the round trip itself (each the best of `ROUNDS` interleaved
/// rounds; the clock the fastest).
fn round_trip_parts(rt: &netpark::Runtime, n: usize) {
    let (mut ghz, mut trip, mut lock, mut hop) =
        (0.0f64, f64::INFINITY, f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        let Some(g) = clock_ghz(100_000_000) else {
            return;
        };
        ghz = ghz.max(g);
        trip = trip.min(netpark_ping_pong(rt, n, true));
        lock = lock.min(lock_ns(10_000_000));
        hop = hop.min(yield_hop_ns(rt, n));
    }
    let c = |ns: f64| ns * ghz;
    println!(
        "one-worker round trip in cycles (clock {ghz:.2} GHz by dependent multiplies; 120 ns is {:.0} cycles):",
        c(120.0)
    );
    println!(
        "  {:.0} ns = {:.0} cycles = 4 lock acquisitions {:.0} + a switch pair (a yield) {:.0} + the rest (channel, park, wake) {:.0}",
        trip,
        c(trip),
        c(4.0 * lock),
        c(hop),
        c(trip - 4.0 * lock - hop),
    );
}

/// A peer of a row: its name and one timed round.
type Peer<'a> = (&'a str, Box<dyn FnMut() -> f64 + 'a>);

/// Runs `ROUNDS` rounds of netpark and each peer in turn, keeps each one's
/// best, and prints them with the peer/netpark ratios.
fn row(name: &str, mut ours: impl FnMut() -> f64, mut peers: Vec<Peer<'_>>) {
    let mut best_ours = f64::INFINITY;
    let mut best_peers = vec![f64::INFINITY; peers.len()];
    for _ in 0..ROUNDS {
        best_ours = best_ours.min(ours());
        for (b, (_, f)) in best_peers.iter_mut().zip(peers.iter_mut()) {
            *b = b.min(f());
        }
    }
    let mut line = format!("{name:<44} netpark {best_ours:>8.0} ns");
    for ((p, _), v) in peers.iter().zip(best_peers) {
        line.push_str(&format!(" | {p} {v:>8.0} ns ({:.2}x)", v / best_ours));
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
    // For a profiler or an instruction count (benches/counts.sh): one
    // one-worker ping-pong alone, `ROUNDTRIPS` round trips (default 1e6).
    if let Ok(only) = std::env::var("ONLY") {
        let trips = std::env::var("ROUNDTRIPS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(n * 10);
        let ns = match only.as_str() {
            "netpark-ping-pong" => netpark_ping_pong(&np1, trips, true),
            "tokio-ping-pong" => tokio_ping_pong(&tk1, trips),
            "tokio-oneshot-ping-pong" => tokio_oneshot_ping_pong(&tk1, trips),
            other => panic!(
                "ONLY={other}: netpark-ping-pong, tokio-ping-pong or tokio-oneshot-ping-pong"
            ),
        };
        println!("{ns:.0} ns");
        return;
    }
    println!("channels: ns per round trip / per message, best of {ROUNDS}; (x) is peer/netpark, above 1 is netpark faster");
    row(
        "ping-pong, one worker (cap 0)",
        || netpark_ping_pong(&np1, n, true),
        vec![
            (
                "tokio mpsc(1) current_thread",
                Box::new(|| tokio_ping_pong(&tk1, n)),
            ),
            (
                "tokio oneshot",
                Box::new(|| tokio_oneshot_ping_pong(&tk1, n)),
            ),
        ],
    );
    row(
        "ping-pong, two workers (cap 0)",
        || netpark_ping_pong(&np2, n, false),
        vec![
            (
                "tokio mpsc(1) multi_thread(2)",
                Box::new(|| tokio_ping_pong(&tk2, n)),
            ),
            (
                "crossbeam bounded(0) threads",
                Box::new(|| crossbeam_ping_pong(n / 10)),
            ),
            (
                "std sync_channel(0) threads",
                Box::new(|| std_ping_pong(n / 10)),
            ),
        ],
    );
    row(
        "4 producers, 1 consumer, cap 1024",
        || netpark_throughput(&np2, per, 1),
        vec![
            (
                "tokio mpsc multi_thread(2)",
                Box::new(|| tokio_throughput(&tk2, per, 1)),
            ),
            (
                "crossbeam threads",
                Box::new(|| crossbeam_throughput(per, 1)),
            ),
        ],
    );
    row(
        "4 producers, 4 consumers, cap 1024",
        || netpark_throughput(&np2, per, 4),
        vec![
            (
                "tokio mpsc+Mutex multi_thread(2)",
                Box::new(|| tokio_throughput(&tk2, per, 4)),
            ),
            (
                "crossbeam threads",
                Box::new(|| crossbeam_throughput(per, 4)),
            ),
        ],
    );
    // Unoptimized (`cargo test --benches`), cycles would mean nothing.
    if !quick {
        round_trip_parts(&np1, n);
    }
}
