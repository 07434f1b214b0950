//! A task whose operations never block still lets the other tasks of its
//! worker run (the cooperative budget, `netpark_runtime::task::coop`).

mod util;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use netpark_net::{is_timeout, UdpSocket};
use netpark_runtime::{self as rt, task::coop::BUDGET};
use util::with_runtime;

/// On the runtime's only worker, spawns `busy` (which gets a flag telling
/// whether the other task has run yet, and returns how many operations it
/// made before seeing it, `None` for never) and a task that sets the flag,
/// in an order that runs `busy` first. Without a budget `busy` would never
/// see the flag.
fn ops_before_the_other_task_ran(
    busy: impl FnOnce(Arc<AtomicBool>) -> Option<usize> + Send + 'static,
) {
    with_runtime(1, move || {
        let ran = Arc::new(AtomicBool::new(false));
        let r2 = ran.clone();
        let other = rt::spawn(move || r2.store(true, Ordering::SeqCst));
        // The newest spawn runs first; `other` waits in the queue.
        let busy = rt::spawn(move || busy(ran));
        let ops = busy.join().unwrap();
        other.join().unwrap();
        assert!(
            ops.is_some_and(|n| n <= BUDGET as usize + 1),
            "the other task ran after {ops:?} operations (budget {BUDGET})"
        );
    });
}

#[test]
fn a_task_whose_reads_always_succeed_lets_its_worker_run_others() {
    ops_before_the_other_task_ran(|ran| {
        // More datagrams queued than the budget: every recv succeeds at once.
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let to = rx.local_addr().unwrap();
        for i in 0..2 * BUDGET {
            tx.send_to(&i.to_le_bytes(), to).unwrap();
        }
        let mut buf = [0u8; 8];
        for ops in 1..=2 * BUDGET as usize {
            if ran.load(Ordering::SeqCst) {
                return Some(ops);
            }
            rx.recv_from(&mut buf).unwrap();
        }
        None
    });
}

#[test]
fn a_task_looping_on_an_expired_deadline_lets_its_worker_run_others() {
    ops_before_the_other_task_ran(|ran| {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_deadline(Some(Instant::now())).unwrap();
        let mut buf = [0u8; 8];
        for ops in 1..=100_000 {
            if ran.load(Ordering::SeqCst) {
                return Some(ops);
            }
            assert!(is_timeout(&s.recv_from(&mut buf).unwrap_err()));
        }
        None
    });
}
