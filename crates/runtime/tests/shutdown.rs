//! Shutting a runtime down with tasks still parked.

mod util;

use std::os::fd::AsRawFd;
use std::time::Duration;

use netpark_runtime::{self as rt, JoinError, Mode, PollDesc, Runtime};
use util::{open_fds, pipe, within, LIMIT};

#[test]
fn shutdown_with_parked_tasks_neither_hangs_nor_leaks_fds() {
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
    let rt = Runtime::builder().workers(1).build().unwrap();
    let h = rt.handle().clone();
    rt.shutdown();
    let e = rt::task::Builder::new().spawn_on(&h, || ()).unwrap_err();
    assert!(e.to_string().contains("shut down"), "{e}");
}
