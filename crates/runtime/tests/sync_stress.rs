//! The 10,000-task random stress of the task-aware sync primitives:
//! producers and consumers pick their operations at random (send, timed
//! send, try-send, select over two channels; receive through a select over
//! every channel, some with a timeout), over channels of capacity 0, 1, 4
//! and 1,024, while some producers are cancelled in the middle of their
//! sends. A `WaitGroup` says when every producer is done, a `RwLock` and a
//! `Mutex` are taken on the way. At the end the tally must match exactly:
//! every value a producer saw accepted was received once, and no other.
//!
//! The locks are taken by producers only, and written rarely: a consumer
//! that waited for a write lock would stop the whole pipeline, and each
//! write waits until every reader granted before it has run, a pass of a
//! run queue thousands of tasks deep (a convoy Go's `RWMutex` has too).

mod util;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netpark_runtime as rt;
use netpark_runtime::sync::{
    channel, Mutex, Receiver, RwLock, Select, Sender, TrySendError, WaitGroup,
};
use util::with_runtime;

const TASKS: u64 = 10_000;
const CONSUMERS: u64 = 100;
const CAPS: [usize; 7] = [0, 0, 1, 1, 4, 16, 1024];

/// A small xorshift generator, seeded per task, so the test needs no crate.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        (self.next() % n) as usize
    }
}

/// What the producers saw accepted and the consumers received: counts,
/// sums, and one bit per value on each side.
struct Tally {
    sent_sum: AtomicU64,
    sent_n: AtomicU64,
    recv_sum: AtomicU64,
    recv_n: AtomicU64,
    sent_bits: Vec<AtomicU64>,
    recv_bits: Vec<AtomicU64>,
}

impl Tally {
    fn new() -> Tally {
        let words = (TASKS * 16 / 64 + 1) as usize;
        let bits = || (0..words).map(|_| AtomicU64::new(0)).collect();
        Tally {
            sent_sum: AtomicU64::new(0),
            sent_n: AtomicU64::new(0),
            recv_sum: AtomicU64::new(0),
            recv_n: AtomicU64::new(0),
            sent_bits: bits(),
            recv_bits: bits(),
        }
    }

    /// Sets `v`'s bit in `bits`; returns whether it was already set.
    fn mark(bits: &[AtomicU64], v: u64) -> bool {
        let bit = 1 << (v % 64);
        bits[(v / 64) as usize].fetch_or(bit, Ordering::Relaxed) & bit != 0
    }

    fn sent(&self, v: u64) {
        assert!(!Tally::mark(&self.sent_bits, v), "{v} accepted twice");
        self.sent_sum.fetch_add(v, Ordering::Relaxed);
        self.sent_n.fetch_add(1, Ordering::Relaxed);
    }

    fn received(&self, v: u64) {
        assert!(!Tally::mark(&self.recv_bits, v), "{v} received twice");
        self.recv_sum.fetch_add(v, Ordering::Relaxed);
        self.recv_n.fetch_add(1, Ordering::Relaxed);
    }
}

/// Marks a producer done however it ends (a cancel included).
struct Done(WaitGroup);

impl Drop for Done {
    fn drop(&mut self) {
        self.0.done();
    }
}

/// Sends `v` by a randomly chosen route; `Ok(true)` when it was accepted,
/// `Ok(false)` when the producer was cancelled and should stop.
fn send_somehow(rng: &mut Rng, txs: &[Sender<u64>], v: u64) -> bool {
    let a = &txs[rng.below(txs.len() as u64)];
    match rng.below(4) {
        0 => match a.send(v) {
            Ok(()) => true,
            Err(e) => {
                assert_eq!(e.0, v, "a failed send gives the value back");
                false
            }
        },
        1 => loop {
            match a.send_timeout(v, Duration::from_micros(100)) {
                Ok(()) => return true,
                Err(TrySendError::Full(back)) => assert_eq!(back, v),
                Err(TrySendError::Cancelled(back)) => {
                    assert_eq!(back, v);
                    return false;
                }
                Err(TrySendError::Closed(_)) => panic!("closed while a sender lives"),
            }
        },
        2 => match a.try_send(v) {
            Ok(()) => true,
            Err(TrySendError::Full(back)) => match a.send(back) {
                Ok(()) => true,
                Err(_) => false,
            },
            Err(_) => false,
        },
        _ => {
            let b = &txs[rng.below(txs.len() as u64)];
            Select::new()
                .send(a, v, |r| r.is_ok())
                .send(b, v, |r| r.is_ok())
                .wait()
                // Err: cancelled while it waited, no case fired.
                .unwrap_or(false)
        }
    }
}

/// Receives through selects over every open channel until all are closed.
fn consume(i: u64, rxs: &[Receiver<u64>], tally: &Tally) {
    let mut open = vec![true; rxs.len()];
    while open.iter().any(|&o| o) {
        let mut sel = Select::new();
        for (k, rx) in rxs.iter().enumerate().filter(|(k, _)| open[*k]) {
            sel = sel.recv(rx, move |r| (k, r.ok()));
        }
        if i.is_multiple_of(3) {
            sel = sel.timeout(Duration::from_micros(200), || (usize::MAX, None));
        }
        match sel.wait().expect("consumers are not cancelled") {
            (_, Some(v)) => {
                tally.received(v);
            }
            (usize::MAX, None) => {}
            (k, None) => open[k] = false,
        }
    }
}

#[test]
fn ten_thousand_tasks_of_random_sync_ops_lose_and_double_nothing() {
    let (tally, locked, seen) = with_runtime(2, Duration::from_secs(120), || {
        let (txs, rxs): (Vec<_>, Vec<_>) = CAPS.iter().map(|&c| channel::<u64>(c)).unzip();
        let rxs = Arc::new(rxs);
        let tally = Arc::new(Tally::new());
        let seen = Arc::new(RwLock::new(0u64));
        let locked = Arc::new(Mutex::new(0u64));
        let wg = WaitGroup::new();
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|i| {
                let (rxs, tally) = (rxs.clone(), tally.clone());
                rt::spawn(move || consume(i, &rxs, &tally))
            })
            .collect();
        let producers: Vec<_> = (CONSUMERS..TASKS)
            .map(|i| {
                let (txs, tally, locked, seen) =
                    (txs.clone(), tally.clone(), locked.clone(), seen.clone());
                wg.add(1);
                let done = Done(wg.clone());
                rt::spawn(move || {
                    let _done = done;
                    let mut rng = Rng(i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
                    for k in 0..1 + rng.below(8) as u64 {
                        // Unique and non-zero, so a doubled value shows.
                        let v = i * 16 + k + 1;
                        if !send_somehow(&mut rng, &txs, v) {
                            return;
                        }
                        tally.sent(v);
                        // A few writers among many readers: a write waits
                        // for every granted reader to run, so many writes
                        // would make the test a convoy of lock hand-offs.
                        if k == 0 && i.is_multiple_of(64) {
                            match seen.write() {
                                Ok(mut g) => *g += 1,
                                Err(_) => return,
                            }
                        }
                        match rng.below(8) {
                            0 => match locked.lock() {
                                Ok(mut g) => *g += 1,
                                Err(_) => return,
                            },
                            1 => match seen.read() {
                                Ok(g) => assert!(*g <= TASKS / 64),
                                Err(_) => return,
                            },
                            2 => rt::yield_now(),
                            _ => {}
                        }
                    }
                })
            })
            .collect();
        drop(txs);
        // Cancel every 13th producer, while many of them are parked.
        for p in producers.iter().step_by(13) {
            p.cancel();
        }
        wg.wait().unwrap();
        for p in producers {
            p.join().expect("a producer neither panics nor is lost");
        }
        for c in consumers {
            c.join().expect("a consumer ends once every channel closed");
        }
        let locked = *locked.lock().unwrap();
        let seen = *seen.read().unwrap();
        (tally, locked, seen)
    });
    for (w, (s, r)) in tally.sent_bits.iter().zip(&tally.recv_bits).enumerate() {
        let (s, r) = (s.load(Ordering::Relaxed), r.load(Ordering::Relaxed));
        assert_eq!(
            s,
            r,
            "values {}..{}: accepted {s:#x}, received {r:#x}",
            w * 64,
            w * 64 + 64
        );
    }
    let sent_n = tally.sent_n.load(Ordering::Relaxed);
    assert_eq!(tally.recv_n.load(Ordering::Relaxed), sent_n);
    assert_eq!(
        tally.recv_sum.load(Ordering::Relaxed),
        tally.sent_sum.load(Ordering::Relaxed)
    );
    // Most producers were not cancelled: at least their first value went.
    assert!(sent_n >= (TASKS - CONSUMERS) * 12 / 13, "sent {sent_n}");
    assert!(
        locked > 0 && seen > 0,
        "the locks were used ({locked}, {seen})"
    );
}
