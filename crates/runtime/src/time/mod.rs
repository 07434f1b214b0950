//! Sleeping (Go's `time.Sleep`), and Go's timer channels (`time.After`,
//! `time.Tick`) for a `Select` case or a plain receive. Deadlines on fds
//! live in `PollDesc`.
//!
//! A timer channel is fed by a small task of the caller's runtime (a
//! thread outside one) that sleeps and sends; it shows in `dump()` by its
//! name, `time.After` or `time.Tick`.

pub(crate) mod timers;

use std::io;
use std::time::{Duration, Instant};

use crate::sync::{channel, Receiver, TrySendError};
use crate::task::park::{self, WaitReason};

/// How far away a deadline that does not fit in an `Instant` is put: about
/// 30 years, which no wait outlives.
const FOREVER: Duration = Duration::from_secs(30 * 365 * 24 * 3600);

/// `t + d`; when that does not fit in an `Instant` (a `Duration::MAX`
/// timeout, meaning "no timeout"), a deadline 30 years after `t` instead of
/// std's overflow panic. std's own timeouts (`recv_timeout`,
/// `set_read_timeout`, `thread::sleep`) take `Duration::MAX` the same way,
/// and every timeout in netpark goes through here.
pub fn deadline_from(t: Instant, d: Duration) -> Instant {
    t.checked_add(d)
        .or_else(|| t.checked_add(FOREVER))
        .unwrap_or(t)
}

/// [`deadline_from`] now: the deadline of a timeout `d` starting now.
pub fn deadline_after(d: Duration) -> Instant {
    deadline_from(Instant::now(), d)
}

/// Suspends the caller for at least `d` (a task parks; a thread sleeps).
/// `Duration::MAX` sleeps until cancelled.
///
/// # Errors
///
/// `Interrupted` ("task cancelled") when the task is cancelled meanwhile.
pub fn sleep(d: Duration) -> io::Result<()> {
    sleep_until(deadline_after(d))
}

/// Suspends the caller until `deadline` (returns at once if it has passed).
///
/// # Errors
///
/// `Interrupted` ("task cancelled") when the task is cancelled meanwhile.
pub fn sleep_until(deadline: Instant) -> io::Result<()> {
    loop {
        if Instant::now() >= deadline {
            return park::check_cancelled();
        }
        park::park(WaitReason::Sleep(deadline), Some(deadline))?;
    }
}

/// A channel that gets the time once, `d` from now (Go's `time.After`);
/// closed after that one value. Meant as a `Select` case:
///
/// ```
/// use std::time::Duration;
/// use netpark_runtime::sync::{channel, Select};
/// netpark_runtime::run(|| {
///     let (_tx, rx) = channel::<u32>(0); // nothing ever comes
///     let late = netpark_runtime::time::after(Duration::from_millis(5));
///     let what = Select::new()
///         .recv(&rx, |_| "a value")
///         .recv(&late, |_| "timed out")
///         .wait()
///         .unwrap();
///     assert_eq!(what, "timed out");
/// });
/// ```
///
/// The feeding task sleeps until `d` has passed even if the receiver is
/// dropped first (Go's timer did the same before 1.23); for a wait that is
/// usually cut short, `Select::timeout` costs no task.
pub fn after(d: Duration) -> Receiver<Instant> {
    let (tx, rx) = channel(1);
    let when = deadline_after(d);
    feed("time.After", move || {
        if sleep_until(when).is_ok() {
            let _ = tx.try_send(Instant::now());
        }
    });
    rx
}

/// A channel that gets the time every `period` (Go's `time.Tick`). A tick
/// the receiver has not taken by the next one is dropped, so a slow
/// receiver gets no burst (Go's ticker does the same); the ticks stop, and
/// the feeding task ends, once the receiver is dropped. A zero `period`
/// gives a channel that never delivers, as Go's `Tick` gives a nil one.
pub fn tick(period: Duration) -> Receiver<Instant> {
    if period.is_zero() {
        return never();
    }
    let (tx, rx) = channel(1);
    feed("time.Tick", move || {
        let mut next = deadline_after(period);
        while sleep_until(next).is_ok() {
            match tx.try_send(Instant::now()) {
                Ok(()) | Err(TrySendError::Full(_)) => {}
                Err(_) => return, // the receiver is gone
            }
            next = deadline_from(next, period);
            // Fell behind (a stalled host): skip the missed ticks.
            let now = Instant::now();
            if next <= now {
                next = deadline_from(now, period);
            }
        }
    });
    rx
}

/// A receiver that never gets a value and never closes (Go's nil channel):
/// one process-wide channel whose sender lives forever and never sends.
fn never() -> Receiver<Instant> {
    static NEVER: std::sync::OnceLock<(crate::sync::Sender<Instant>, Receiver<Instant>)> =
        std::sync::OnceLock::new();
    NEVER.get_or_init(|| channel(0)).1.clone()
}

/// Runs a timer channel's feeder: a named task of the caller's runtime, or
/// a plain thread outside one (or when no task stack can be mapped). If
/// neither can start, the feeder is dropped with its `Sender`, and the
/// receiver sees the channel closed: an error to its `recv`, not a panic.
fn feed(name: &'static str, f: impl FnOnce() + Send + 'static) {
    let slot = std::sync::Arc::new(parking_lot::Mutex::new(Some(f)));
    let body = move || {
        let f = slot.lock().take();
        if let Some(f) = f {
            f();
        }
    };
    if let Some(h) = crate::Handle::try_current() {
        if crate::task::Builder::new()
            .name(name)
            .spawn_on(&h, body.clone())
            .is_ok()
        {
            return;
        }
    }
    let _ = std::thread::Builder::new().name(name.into()).spawn(body);
}
