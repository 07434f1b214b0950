//! Shutting a runtime down with tasks still parked.

mod util;

use std::os::fd::AsRawFd;
use std::time::Duration;

use netpark_runtime::{self as rt, JoinError, Mode, PollDesc, Runtime};
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
                let pd = PollDesc::open(r.as_raw_fd()).unwrap();
                struct Closer(std::sync::Arc<PollDesc>);
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
fn spawning_on_a_shut_down_runtime_is_an_error() {
    let _serial = serial();
    let rt = Runtime::builder().workers(1).build().unwrap();
    let h = rt.handle().clone();
    rt.shutdown();
    let e = rt::task::Builder::new().spawn_on(&h, || ()).unwrap_err();
    assert!(e.to_string().contains("shut down"), "{e}");
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
