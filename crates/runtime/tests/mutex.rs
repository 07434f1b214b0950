//! The task-aware `sync::Mutex`: held across parks, served in arrival order,
//! left by cancelled waiters, shared by tasks and plain threads.

mod util;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netpark_runtime::{self as rt, sync::Mutex};
use util::{with_runtime, within, LIMIT};

#[test]
fn a_lock_held_across_a_park_keeps_other_tasks_out() {
    let total = with_runtime(2, LIMIT, || {
        let count = Arc::new(Mutex::new(0usize));
        let inside = Arc::new(AtomicBool::new(false));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (count, inside) = (count.clone(), inside.clone());
                rt::spawn(move || {
                    for j in 0..200 {
                        let mut n = count.lock().unwrap();
                        assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                        let before = *n;
                        // Park while holding: a std Mutex here would block the
                        // worker for good once a second task on it asked for the lock.
                        if (i + j) % 2 == 0 {
                            rt::yield_now();
                        } else {
                            rt::sleep(Duration::ZERO).unwrap();
                        }
                        *n = before + 1;
                        inside.store(false, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        tasks.into_iter().for_each(|t| t.join().unwrap());
        let n = *count.lock().unwrap();
        n
    });
    assert_eq!(total, 8 * 200);
}

#[test]
fn waiters_get_the_lock_in_arrival_order() {
    let order = with_runtime(1, LIMIT, || {
        let lock = Arc::new(Mutex::new(Vec::new()));
        let held = lock.lock().unwrap();
        let tasks: Vec<_> = (0..5)
            .map(|i| {
                let lock = lock.clone();
                let t = rt::spawn(move || lock.lock().unwrap().push(i));
                // One worker, FIFO run queue: after one yield the new task
                // has run, found the lock held and queued itself.
                rt::yield_now();
                t
            })
            .collect();
        drop(held);
        tasks.into_iter().for_each(|t| t.join().unwrap());
        let v = lock.lock().unwrap().clone();
        v
    });
    assert_eq!(order, vec![0, 1, 2, 3, 4]);
}

#[test]
fn a_cancelled_waiter_gets_interrupted_and_the_lock_keeps_working() {
    with_runtime(2, LIMIT, || {
        let lock = Arc::new(Mutex::new(0));
        let held = lock.lock().unwrap();
        let waiting = Arc::new(AtomicBool::new(false));
        let (l2, w2) = (lock.clone(), waiting.clone());
        let waiter = rt::spawn(move || {
            w2.store(true, Ordering::SeqCst);
            l2.lock().map(|_| ()).unwrap_err()
        });
        while !waiting.load(Ordering::SeqCst) {
            rt::yield_now();
        }
        rt::sleep(Duration::from_millis(20)).unwrap();
        waiter.cancel();
        let e = waiter.join().unwrap();
        assert!(rt::error::is_cancelled(&e), "{e}");
        // The cancelled waiter left the queue: the release leaves the lock free.
        drop(held);
        assert!(lock.try_lock().is_some(), "lock free after the release");
        *lock.lock().unwrap() += 1;
        assert_eq!(*lock.lock().unwrap(), 1);
    });
}

#[test]
fn a_panic_while_holding_the_lock_releases_it() {
    with_runtime(1, LIMIT, || {
        let lock = Arc::new(Mutex::new(1));
        let l2 = lock.clone();
        let h = rt::spawn(move || {
            let _g = l2.lock().unwrap();
            rt::yield_now();
            panic!("boom while holding the lock");
        });
        assert!(h.join().unwrap_err().is_panic());
        assert_eq!(*lock.lock().unwrap(), 1);
    });
}

#[test]
fn plain_threads_and_tasks_share_one_lock() {
    within(LIMIT, || {
        let count = Arc::new(Mutex::new(0usize));
        let runtime = rt::Runtime::builder().workers(2).build().unwrap();
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let count = count.clone();
                runtime.spawn(move || {
                    for _ in 0..500 {
                        let mut n = count.lock().unwrap();
                        let v = *n;
                        rt::yield_now();
                        *n = v + 1;
                    }
                })
            })
            .collect();
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let count = count.clone();
                std::thread::spawn(move || {
                    for _ in 0..500 {
                        let mut n = count.lock().unwrap();
                        let v = *n;
                        std::thread::yield_now();
                        *n = v + 1;
                    }
                })
            })
            .collect();
        tasks.into_iter().for_each(|t| t.join().unwrap());
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*count.lock().unwrap(), 6 * 500);
    });
}

#[test]
fn the_worker_runs_other_tasks_while_one_waits_for_the_lock() {
    with_runtime(1, LIMIT, || {
        let lock = Arc::new(Mutex::new(()));
        let held = lock.lock().unwrap();
        let l2 = lock.clone();
        let waiter = rt::spawn(move || drop(l2.lock().unwrap()));
        let ran = Arc::new(AtomicUsize::new(0));
        let r2 = ran.clone();
        // One worker: this task runs only if the waiter parked instead of
        // blocking the thread.
        rt::spawn(move || r2.fetch_add(1, Ordering::SeqCst))
            .join()
            .unwrap();
        assert_eq!(ran.load(Ordering::SeqCst), 1);
        drop(held);
        waiter.join().unwrap();
    });
}

#[test]
fn a_waiter_unwound_at_shutdown_leaves_the_queue() {
    within(LIMIT, || {
        let lock = Arc::new(Mutex::new(0));
        let held = lock.lock().unwrap(); // a plain thread holds it
        let runtime = rt::Runtime::builder().workers(1).build().unwrap();
        let (l2, queued) = (lock.clone(), Arc::new(AtomicBool::new(false)));
        let q2 = queued.clone();
        let _waiter = runtime.spawn(move || {
            q2.store(true, Ordering::SeqCst);
            let _g = l2.lock();
        });
        while !queued.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(20));
        // Shutdown unwinds the task parked in `lock`; it must leave the queue,
        // or the release below would hand the lock to a task that is gone.
        drop(runtime);
        drop(held);
        assert!(lock.try_lock().is_some(), "the lock is free again");
        *lock.lock().unwrap() += 1;
    });
}

/// A lock word kept beside a "closed" flag, as the net crate keeps its fd
/// write lock in the fd's reference word: LOCKED/CONTENDED in two bits,
/// refused once closed.
#[derive(Default)]
struct ClosableWord {
    bits: AtomicUsize,
    closed: AtomicBool,
}

const HELD: usize = 1;
const WAITERS: usize = 2;

impl rt::sync::LockWord for ClosableWord {
    fn try_lock(&self) -> std::io::Result<bool> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(rt::error::closed());
        }
        Ok(self
            .bits
            .compare_exchange(0, HELD, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok())
    }
    fn lock_or_contend(&self) -> std::io::Result<bool> {
        if self.try_lock()? {
            return Ok(true);
        }
        self.bits.fetch_or(WAITERS, Ordering::AcqRel);
        Ok(false)
    }
    fn try_unlock(&self) -> bool {
        self.bits
            .compare_exchange(HELD, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }
    fn uncontend(&self) {
        self.bits.store(HELD, Ordering::SeqCst);
    }
    fn unlock_contended(&self) {
        self.bits.store(0, Ordering::SeqCst);
    }
}

#[test]
fn a_lock_queue_serves_a_word_kept_elsewhere_and_its_refusal_queues_nobody() {
    with_runtime(2, LIMIT, || {
        let lock = Arc::new((rt::sync::LockQueue::new(), ClosableWord::default()));
        lock.0.lock(&lock.1).unwrap();
        // Two waiters queue behind the holder and get the lock in turn.
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let waiters: Vec<_> = (0..2)
            .map(|i| {
                let (lock, order) = (lock.clone(), order.clone());
                let h = rt::spawn(move || {
                    lock.0.lock(&lock.1).unwrap();
                    order.lock().unwrap().push(i);
                    lock.0.unlock(&lock.1);
                });
                // Queued before the next one comes.
                while rt::dump().matches("sync.Mutex.Lock").count() < i + 1 {
                    rt::sleep(Duration::from_millis(1)).unwrap();
                }
                h
            })
            .collect();
        assert_eq!(lock.1.bits.load(Ordering::SeqCst), HELD | WAITERS);
        lock.0.unlock(&lock.1);
        waiters.into_iter().for_each(|h| h.join().unwrap());
        assert_eq!(*order.lock().unwrap(), [0, 1]);
        assert_eq!(lock.1.bits.load(Ordering::SeqCst), 0, "free, nobody queued");
        // Refused: an error, the word untouched, nothing queued.
        lock.1.closed.store(true, Ordering::SeqCst);
        let e = lock.0.lock(&lock.1).unwrap_err();
        assert!(rt::error::is_closed(&e), "{e}");
        assert_eq!(lock.1.bits.load(Ordering::SeqCst), 0);
    });
}
