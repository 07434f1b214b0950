//! What the monitor asks the kernel about a worker's thread: its id, how much
//! CPU it has used, and whether it is asleep in the kernel.
//!
//! A worker that has not switched tasks for a threshold is held by its task
//! in one of three ways, and only two of them are the task's doing
//! (scheduler/monitor.rs):
//!
//! ```text
//!   thread state (/proc)  CPU time since       what it is            stuck?
//!   ────────────────────  ───────────────────  ────────────────────  ──────
//!   S, D (not R)          any                  a blocking call       yes
//!   R                     ≥ half a threshold   a long computation    yes
//!   R                     less                 the OS (or the host)  no
//!                                              runs something else
//! ```

use std::io;
use std::time::Duration;

/// The calling thread's kernel id.
pub(crate) fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions and cannot fail.
    unsafe { libc::gettid() }
}

/// CPU time the thread `tid` of this process has used (user and system).
///
/// # Errors
///
/// `EINVAL` when no such thread exists (it ended).
pub(crate) fn cpu_time(tid: i32) -> io::Result<Duration> {
    // The kernel's clock id for one thread's CPU time, as glibc's
    // `pthread_getcpuclockid` builds it (CPUCLOCK_SCHED | CPUCLOCK_PERTHREAD
    // over the inverted tid): taken from the tid, not a pthread_t, so a
    // thread that has ended is an error, never a dangling handle.
    let clock = ((!tid) << 3) | 6;
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a live local.
    unsafe { syscall!(clock_gettime(clock, &mut ts)) }?;
    Ok(Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Whether the thread `tid` of this process is runnable (`R` in
/// `/proc/self/task/TID/stat`: running, or waiting for a CPU) rather than
/// asleep in the kernel (`S`, `D`, or stopped).
///
/// # Errors
///
/// The thread ended, or `/proc` is not mounted.
pub(crate) fn is_runnable(tid: i32) -> io::Result<bool> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))?;
    // "TID (COMM) STATE ...": the name may hold spaces and parentheses, so
    // the state is the first field after the last ')'.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed stat line"))?;
    Ok(state == 'R')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spinning_thread_is_runnable_and_gains_cpu_time() {
        let (tx, rx) = std::sync::mpsc::channel();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let s = stop.clone();
        let t = std::thread::spawn(move || {
            tx.send(gettid()).unwrap();
            while !s.load(std::sync::atomic::Ordering::Relaxed) {
                std::hint::spin_loop();
            }
        });
        let tid = rx.recv().unwrap();
        let before = cpu_time(tid).unwrap();
        let start = std::time::Instant::now();
        while cpu_time(tid).unwrap() < before + Duration::from_millis(5) {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the spinner gets no CPU"
            );
            std::thread::yield_now();
        }
        // A spinner is R whenever we look (running, or waiting for a CPU).
        assert!(is_runnable(tid).unwrap());
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        t.join().unwrap();
    }

    #[test]
    fn a_sleeping_thread_is_not_runnable() {
        let (tx, rx) = std::sync::mpsc::channel();
        let (wake_tx, wake_rx) = std::sync::mpsc::channel::<()>();
        let t = std::thread::spawn(move || {
            tx.send(gettid()).unwrap();
            wake_rx.recv().unwrap();
        });
        let tid = rx.recv().unwrap();
        // Blocked in recv (a futex wait): S, once it has got there.
        let start = std::time::Instant::now();
        while is_runnable(tid).unwrap() {
            assert!(start.elapsed() < Duration::from_secs(30), "never slept");
            std::thread::sleep(Duration::from_millis(1));
        }
        wake_tx.send(()).unwrap();
        t.join().unwrap();
    }
}
