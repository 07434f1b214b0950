//! `Select` side by side in one run: netpark's against tokio's `select!`,
//! each a one-worker ping-pong whose every receive waits on two channels.
//!
//! `cargo bench --bench select` prints ns per round trip, the best of 7
//! interleaved rounds, and the ratio. A binary of its own: compiled into
//! `benches/channels.rs`, the select code changed how that binary's plain
//! ping-pong was inlined (846 → 934–982 instructions a round trip), and
//! that row is the one `benches/counts.sh` counts.

use std::time::{Duration, Instant};

const ROUNDS: usize = 7;
const TRIPS: usize = 100_000;

/// One round of `ops` operations timed by `f`: ns per operation.
fn per_op(ops: usize, mut f: impl FnMut() -> Duration) -> f64 {
    f().as_nanos() as f64 / ops as f64
}

/// A one-worker ping-pong over capacity-0 channels with each side's receive a
/// `Select` over its channel and a second one that never delivers, as a
/// server's loop waits on work and a quit channel: the select's poll, its
/// queueing on both channels and its claim, per hop.
fn netpark_select_ping_pong(rt: &netpark::Runtime, n: usize) -> f64 {
    use netpark::sync::Select;
    per_op(n, || {
        rt.block_on(move || {
            let (ping, ping_rx) = netpark::sync::channel::<usize>(0);
            let (pong, pong_rx) = netpark::sync::channel::<usize>(0);
            let (_quit, quit_rx) = netpark::sync::channel::<()>(0);
            let quit2 = quit_rx.clone();
            let player = netpark::task::Builder::new()
                .same_worker()
                .spawn(move || loop {
                    let got = Select::new()
                        .recv(&ping_rx, |v| v.ok())
                        .recv(&quit2, |_| None)
                        .wait()
                        .unwrap();
                    match got {
                        Some(v) => pong.send(v).unwrap(),
                        None => return,
                    }
                })
                .unwrap();
            let t = Instant::now();
            for i in 0..n {
                ping.send(i).unwrap();
                Select::new()
                    .recv(&pong_rx, |v| v.unwrap())
                    .recv(&quit_rx, |_| 0)
                    .wait()
                    .unwrap();
            }
            let d = t.elapsed();
            drop(ping);
            player.join().unwrap();
            d
        })
    })
}

/// [`netpark_select_ping_pong`] with tokio's `select!` over mpsc channels.
fn tokio_select_ping_pong(rt: &tokio::runtime::Runtime, n: usize) -> f64 {
    per_op(n, || {
        rt.block_on(async move {
            tokio::spawn(async move {
                let (ping, mut ping_rx) = tokio::sync::mpsc::channel::<usize>(1);
                let (pong, mut pong_rx) = tokio::sync::mpsc::channel::<usize>(1);
                let (_quit, mut quit_rx) = tokio::sync::mpsc::channel::<()>(1);
                let (_quit2, mut quit2_rx) = tokio::sync::mpsc::channel::<()>(1);
                let player = tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            v = ping_rx.recv() => match v {
                                Some(v) => pong.send(v).await.unwrap(),
                                None => return,
                            },
                            _ = quit2_rx.recv() => return,
                        }
                    }
                });
                let t = Instant::now();
                for i in 0..n {
                    ping.send(i).await.unwrap();
                    tokio::select! {
                        v = pong_rx.recv() => { v.unwrap(); }
                        _ = quit_rx.recv() => {}
                    }
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

fn main() {
    let np = netpark::Runtime::builder()
        .workers(1)
        .name("bench")
        .build()
        .unwrap();
    let tk = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (mut ours, mut theirs) = (f64::INFINITY, f64::INFINITY);
    for _ in 0..ROUNDS {
        ours = ours.min(netpark_select_ping_pong(&np, TRIPS));
        theirs = theirs.min(tokio_select_ping_pong(&tk, TRIPS));
    }
    println!(
        "select ping-pong, one worker (2 cases)       netpark {ours:>6.0} ns | tokio select! over mpsc(1) current_thread {theirs:>6.0} ns ({:.2}x)",
        theirs / ours
    );
}
