//! Shutting a runtime down with tasks still parked.

mod util;

use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use netpark_runtime::{self as rt, JoinError, Mode, PollDesc, PollHandle, Runtime};
use util::{open_fds, pipe, within, LIMIT};

/// The fd-leak check counts the process's open fds, so the tests of this file
/// (each of which starts a runtime, with its epoll and eventfd) run one at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn shutdown_with_parked_tasks_neither_hangs_nor_leaks_fds() {
    let _serial = serial();
    within(LIMIT, || {
        let before = open_fds();
        let rt = Runtime::builder().workers(2).build().unwrap();
        let mut handles = Vec::new();
        for _ in 0..50 {
            handles.push(rt.spawn(|| rt::sleep(Duration::from_secs(3600)).map(|_| 0usize)));
            handles.push(rt.spawn(|| {
                // Owns a pipe and blocks reading it; the unwind must close it.
                let (r, _w) = pipe();
                let pd = std::sync::Arc::new(PollDesc::open(r.as_raw_fd()).unwrap());
                struct Closer(std::sync::Arc<PollHandle>);
                impl Drop for Closer {
                    fn drop(&mut self) {
                        self.0.evict();
                        self.0.close();
                    }
                }
                let _c = Closer(pd.clone());
                pd.prepare(Mode::Read).unwrap();
                pd.wait(Mode::Read).map(|_| 1usize)
            }));
        }
        std::thread::sleep(Duration::from_millis(100));
        drop(rt);
        for h in handles {
            assert!(
                matches!(h.join(), Err(JoinError::Shutdown)),
                "joiners of unwound tasks are told"
            );
        }
        let after = open_fds();
        assert!(
            after <= before,
            "fds leaked at shutdown: {before} before, {after} after"
        );
    });
}

#[test]
fn a_task_spawned_on_a_shut_down_runtime_never_runs_and_its_join_says_so() {
    let _serial = serial();
    let rt = Runtime::builder().workers(1).build().unwrap();
    let h = rt.handle().clone();
    rt.shutdown();
    let ran = Arc::new(AtomicBool::new(false));
    let r2 = ran.clone();
    let task = h.spawn(move || r2.store(true, Ordering::SeqCst));
    assert!(matches!(task.join(), Err(JoinError::Shutdown)));
    let task = rt::task::Builder::new().spawn_on(&h, || ()).unwrap();
    assert!(matches!(task.join(), Err(JoinError::Shutdown)));
    assert!(!ran.load(Ordering::SeqCst));
}

/// Destructors of a task that shutdown unwinds run on the worker thread with
/// nothing left to wake them: a spawn there used to panic inside the unwind
/// (aborting the process), and a wait would have blocked the worker forever.
#[test]
fn destructors_may_spawn_join_and_wait_while_shutdown_unwinds_their_task() {
    let _serial = serial();
    struct Cleanup {
        /// Read end of a pipe nobody writes to.
        fd: std::os::fd::OwnedFd,
        seen: Arc<Mutex<Vec<String>>>,
    }
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let mut seen = self.seen.lock().unwrap();
            let child = rt::spawn(|| 1);
            seen.push(format!(
                "join: {:?}",
                child.join().map_err(|e| e.to_string())
            ));
            seen.push(format!("sleep: {:?}", rt::sleep(Duration::from_secs(5))));
            let pd = PollDesc::open(self.fd.as_raw_fd()).unwrap();
            let waited = pd.prepare(Mode::Read).and_then(|_| pd.wait(Mode::Read));
            seen.push(format!("wait: {waited:?}"));
            pd.evict();
            pd.close();
        }
    }
    within(LIMIT, || {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let rt = Runtime::builder().workers(1).build().unwrap();
        let s2 = seen.clone();
        let (r, _w) = pipe();
        let parked = rt.spawn(move || {
            let _c = Cleanup { fd: r, seen: s2 };
            rt::sleep(Duration::from_secs(60))
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(rt);
        assert!(matches!(parked.join(), Err(JoinError::Shutdown)));
        let seen = seen.lock().unwrap().join("\n");
        assert!(seen.contains("join: Err(\"runtime shut down"), "{seen}");
        assert!(
            seen.contains("sleep: Err(Custom { kind: Other, error: ErrShutdown })"),
            "{seen}"
        );
        assert!(
            seen.contains("wait: Err(Custom { kind: Other, error: ErrShutdown })"),
            "{seen}"
        );
    });
}

#[test]
fn joiners_of_tasks_that_never_started_are_told_at_shutdown() {
    let _serial = serial();
    within(LIMIT, || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        let (queued, busy) = rt.block_on(|| {
            let queued: Vec<_> = (0..10).map(|i| rt::spawn(move || i)).collect();
            // The newest spawn runs first when this task ends, and holds the
            // only worker while the runtime is dropped: the others never start.
            let busy = rt::spawn(|| std::thread::sleep(Duration::from_millis(300)));
            (queued, busy)
        });
        drop(rt);
        // `busy` itself may or may not have started before the shutdown flag
        // was seen; either way its joiner returns.
        let _ = busy.join();
        // A hang here is the bug this test is for (the watchdog reports it).
        let told = queued
            .into_iter()
            .map(|h| h.join())
            .filter(|r| matches!(r, Err(JoinError::Shutdown)))
            .count();
        assert!(
            told >= 9,
            "joiners of tasks that never ran are told: {told} of 10"
        );
    });
}

/// Threads keep waking parked tasks (each wake a message to the owner's
/// inbox) while the runtime shuts down: shutdown neither hangs nor crashes,
/// and the wakes that arrive after it are dropped.
#[test]
fn wakes_from_threads_racing_with_shutdown_are_dropped_cleanly() {
    let _s = serial();
    within(LIMIT, || {
        for _ in 0..20 {
            let rt = Runtime::builder().workers(2).build().unwrap();
            let unparkers = Arc::new(Mutex::new(Vec::new()));
            for _ in 0..8 {
                let u = unparkers.clone();
                rt.spawn(move || {
                    u.lock().unwrap().push(rt::current_unparker());
                    loop {
                        if rt::park(rt::WaitReason::Other, None).is_err() {
                            return;
                        }
                    }
                });
            }
            while unparkers.lock().unwrap().len() < 8 {
                std::thread::yield_now();
            }
            let stop = Arc::new(AtomicBool::new(false));
            let wakers: Vec<_> = (0..2)
                .map(|_| {
                    let (u, stop) = (unparkers.lock().unwrap().clone(), stop.clone());
                    std::thread::spawn(move || {
                        while !stop.load(Ordering::SeqCst) {
                            u.iter().for_each(|u| u.unpark());
                        }
                        // A few more after the runtime is gone.
                        u.iter().for_each(|u| u.unpark());
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(5));
            rt.shutdown();
            stop.store(true, Ordering::SeqCst);
            for w in wakers {
                w.join().unwrap();
            }
        }
    });
}

#[test]
fn a_task_that_catches_the_shutdown_unwind_and_returns_does_not_abort_the_process() {
    let _s = serial();
    within(LIMIT, || {
        let rt = Runtime::builder().workers(1).build().unwrap();
        let caught = Arc::new(AtomicBool::new(false));
        let c = caught.clone();
        let h = rt.spawn(move || {
            // A server's catch_unwind around a handler that is parked when
            // the runtime goes away: it catches the runtime's unwind too,
            // then carries on to the task's normal end.
            let r = std::panic::catch_unwind(|| rt::sleep(Duration::from_secs(3600)));
            c.store(r.is_err() && rt::shutdown_unwinding(), Ordering::SeqCst);
            7
        });
        std::thread::sleep(Duration::from_millis(50));
        drop(rt);
        assert!(caught.load(Ordering::SeqCst), "the unwind reached the task");
        assert!(matches!(h.join(), Err(JoinError::Shutdown)));
    });
}
