//! Sleeping (Go's `time.Sleep`). Deadlines on fds live in `PollDesc`.

pub(crate) mod timers;

use std::io;
use std::time::{Duration, Instant};

use crate::task::park::{self, WaitReason};

/// Suspends the caller for at least `d` (a task parks; a thread sleeps).
///
/// # Errors
///
/// `Interrupted` ("task cancelled") when the task is cancelled meanwhile.
pub fn sleep(d: Duration) -> io::Result<()> {
    sleep_until(Instant::now() + d)
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
