//! Helpers shared by the runtime's integration tests.

#![allow(dead_code)]

use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::ThreadId;
use std::time::Duration;

use netpark_runtime::{current_unparker, park, yield_now, Runtime, Unparker, WaitReason};

/// Runs `f` on a fresh runtime with `workers` workers, failing the test (with
/// a task dump) instead of hanging if it takes longer than `limit`.
pub fn with_runtime<T: Send + 'static>(
    workers: usize,
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    within(limit, move || {
        let rt = Runtime::builder()
            .workers(workers)
            .name("test")
            .build()
            .expect("runtime starts");
        rt.block_on(f)
    })
}

mod within;
pub use within::within;

/// A non-blocking, close-on-exec pipe: (read end, write end).
pub fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new fds into the array.
    let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) };
    assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
    // SAFETY: both fds are new and owned by nobody else.
    unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
}

/// Number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Asserts `actual` lies in `[min, min + slack]`: timing tests assert a margin.
pub fn assert_elapsed(actual: Duration, min: Duration, slack: Duration) {
    assert!(actual >= min, "took {actual:?}, expected at least {min:?}");
    assert!(
        actual <= min + slack,
        "took {actual:?}, expected at most {:?}",
        min + slack
    );
}

pub const LIMIT: Duration = Duration::from_secs(60);

/// Two tasks hand a ball back and forth `hops` times, each parking with no
/// deadline while it is the other's turn (so one lost wake hangs them both).
/// Spawned from the calling plain thread, they go round-robin to the
/// runtime's workers: on a two-worker runtime every wake crosses workers.
/// Returns the threads the two players ran on.
pub fn ping_pong(rt: &Runtime, hops: usize) -> [ThreadId; 2] {
    let ball = Arc::new(AtomicUsize::new(0));
    let units: Arc<Mutex<[Option<Unparker>; 2]>> = Arc::new(Mutex::new([None, None]));
    let ready = Arc::new(AtomicUsize::new(0));
    let players: Vec<_> = (0..2)
        .map(|me| {
            let (ball, units, ready) = (ball.clone(), units.clone(), ready.clone());
            rt.spawn(move || {
                units.lock().unwrap()[me] = Some(current_unparker());
                ready.fetch_add(1, Ordering::SeqCst);
                while ready.load(Ordering::SeqCst) < 2 {
                    yield_now();
                }
                let other = units.lock().unwrap()[1 - me].clone().unwrap();
                loop {
                    let v = ball.load(Ordering::Acquire);
                    if v >= hops {
                        other.unpark();
                        return std::thread::current().id();
                    }
                    if v % 2 == me {
                        ball.store(v + 1, Ordering::Release);
                        other.unpark();
                    } else {
                        park(WaitReason::Other, None).unwrap();
                    }
                }
            })
        })
        .collect();
    let mut threads = players.into_iter().map(|p| p.join().unwrap());
    [threads.next().unwrap(), threads.next().unwrap()]
}

/// Spawns a task that sends back on `tx` every value it receives on `rx`,
/// until either channel closes (the far end of a channel ping-pong).
pub fn spawn_echo<T: Send + 'static>(
    rx: netpark_runtime::sync::Receiver<T>,
    tx: netpark_runtime::sync::Sender<T>,
) -> netpark_runtime::JoinHandle<()> {
    netpark_runtime::spawn(move || {
        for v in &rx {
            if tx.send(v).is_err() {
                break;
            }
        }
    })
}
