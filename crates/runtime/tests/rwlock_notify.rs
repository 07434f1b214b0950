//! `RwLock` (writers not starved), `Notify` and `Condvar` with `Mutex`.

mod util;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_runtime as rt;
use netpark_runtime::sync::{Condvar, Mutex, Notify, RwLock};
use util::with_runtime;

const LIMIT: Duration = Duration::from_secs(60);

#[test]
fn readers_share_and_a_writer_is_alone() {
    with_runtime(2, LIMIT, || {
        let l = Arc::new(RwLock::new(0u64));
        let inside = Arc::new(AtomicU64::new(0));
        let max_readers = Arc::new(AtomicU64::new(0));
        let tasks: Vec<_> = (0..20)
            .map(|i| {
                let (l, inside, max) = (l.clone(), inside.clone(), max_readers.clone());
                rt::spawn(move || {
                    if i % 5 == 0 {
                        let mut g = l.write().unwrap();
                        assert_eq!(
                            inside.load(Ordering::SeqCst),
                            0,
                            "a reader inside with the writer"
                        );
                        rt::sleep(Duration::from_millis(2)).unwrap();
                        *g += 1;
                    } else {
                        let _g = l.read().unwrap();
                        let n = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        max.fetch_max(n, Ordering::SeqCst);
                        rt::sleep(Duration::from_millis(5)).unwrap();
                        inside.fetch_sub(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        tasks.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(*l.read().unwrap(), 4);
        assert!(
            max_readers.load(Ordering::SeqCst) > 1,
            "readers never shared"
        );
    });
}

#[test]
fn a_writer_is_not_starved_by_a_stream_of_readers() {
    with_runtime(2, LIMIT, || {
        let l = Arc::new(RwLock::new(()));
        let stop = Arc::new(AtomicBool::new(false));
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let (l, stop) = (l.clone(), stop.clone());
                rt::spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        let _g = l.read().unwrap();
                        rt::sleep(Duration::from_millis(1)).unwrap();
                    }
                })
            })
            .collect();
        rt::sleep(Duration::from_millis(20)).unwrap();
        let start = Instant::now();
        drop(l.write().unwrap());
        let waited = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        readers.into_iter().for_each(|t| t.join().unwrap());
        assert!(
            waited < Duration::from_millis(500),
            "writer waited {waited:?}"
        );
    });
}

#[test]
fn a_cancelled_queued_writer_lets_the_readers_behind_it_in() {
    with_runtime(2, LIMIT, || {
        let l = Arc::new(RwLock::new(()));
        let held = l.read().unwrap();
        let l2 = l.clone();
        let writer = rt::spawn(move || l2.write().map(drop));
        rt::sleep(Duration::from_millis(20)).unwrap();
        let l3 = l.clone();
        let reader = rt::spawn(move || l3.read().map(drop));
        rt::sleep(Duration::from_millis(20)).unwrap();
        writer.cancel();
        assert!(writer.join().unwrap().is_err());
        reader.join().unwrap().unwrap();
        drop(held);
        drop(l.write().unwrap());
    });
}

#[test]
fn try_read_and_try_write_take_what_is_free_and_never_queue() {
    with_runtime(2, LIMIT, || {
        let mut l = RwLock::new(1u32);
        *l.get_mut() += 1;
        let l = Arc::new(l);
        {
            let a = l.try_read().expect("a free lock grants a read");
            let b = l.try_read().expect("readers share");
            assert_eq!(*a + *b, 4);
            assert!(l.try_write().is_none(), "a write granted beside readers");
        }
        {
            let mut w = l.try_write().expect("a free lock grants a write");
            *w += 1;
            assert!(l.try_read().is_none(), "a read granted beside the writer");
            assert!(l.try_write().is_none(), "two writers");
        }
        // A writer queued behind a reader stops new readers, a try too
        // (writers not starved).
        let held = l.read().unwrap();
        let l2 = l.clone();
        let writer = rt::spawn(move || {
            *l2.write().unwrap() += 10;
        });
        let queued = Instant::now();
        while !format!("{l:?}").contains("waiting: 1") {
            assert!(queued.elapsed() < LIMIT, "the writer never queued");
            rt::sleep(Duration::from_millis(1)).unwrap();
        }
        assert!(l.try_read().is_none(), "a read passed a queued writer");
        drop(held);
        writer.join().unwrap();
        // The refused tries left nothing queued: the lock is free again.
        assert!(format!("{l:?}").contains("waiting: 0"), "{l:?}");
        let l = Arc::try_unwrap(l).expect("the writer task is gone");
        assert_eq!(l.into_inner(), 13);
    });
}

#[test]
fn notify_stores_one_permit_and_wakes_waiters() {
    with_runtime(2, LIMIT, || {
        let n = Arc::new(Notify::new());
        n.notify_one();
        n.notified().unwrap(); // the permit
        let woken = Arc::new(AtomicU64::new(0));
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (n, w) = (n.clone(), woken.clone());
                rt::spawn(move || {
                    n.notified().unwrap();
                    w.fetch_add(1, Ordering::SeqCst);
                })
            })
            .collect();
        rt::sleep(Duration::from_millis(20)).unwrap();
        n.notify_one();
        rt::sleep(Duration::from_millis(20)).unwrap();
        assert_eq!(woken.load(Ordering::SeqCst), 1);
        n.notify_waiters();
        waiters.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(woken.load(Ordering::SeqCst), 3);
    });
}

#[test]
fn condvar_wait_while_returns_once_the_condition_fails_and_wait_timeout_says_it_timed_out() {
    with_runtime(2, LIMIT, || {
        let shared = Arc::new((Mutex::new(0u32), Condvar::new()));
        let s2 = shared.clone();
        let producer = rt::spawn(move || {
            for _ in 0..5 {
                rt::sleep(Duration::from_millis(2)).unwrap();
                *s2.0.lock().unwrap() += 1;
                s2.1.notify_all();
            }
        });
        let (m, cv) = &*shared;
        let g = cv.wait_while(m.lock().unwrap(), |n| *n < 5).unwrap();
        assert_eq!(*g, 5);
        drop(g);
        producer.join().unwrap();

        let start = Instant::now();
        let (g, notified) = cv
            .wait_timeout(m.lock().unwrap(), Duration::from_millis(30))
            .unwrap();
        assert!(!notified, "nobody notified");
        assert!(start.elapsed() >= Duration::from_millis(30), "woke early");
        assert_eq!(*g, 5, "the mutex is held again");
    });
}

#[test]
fn condvar_with_mutex_passes_items_without_a_lost_wake_up() {
    with_runtime(2, LIMIT, || {
        let shared = Arc::new((Mutex::new(Vec::<u64>::new()), Condvar::new()));
        let s = shared.clone();
        let consumer = rt::spawn(move || {
            let (m, cv) = &*s;
            let mut got = 0u64;
            let mut sum = 0u64;
            let mut g = m.lock().unwrap();
            while got < 10_000 {
                while g.is_empty() {
                    g = cv.wait(g).unwrap();
                }
                for v in g.drain(..) {
                    sum += v;
                    got += 1;
                }
            }
            sum
        });
        let (m, cv) = &*shared;
        for i in 0..10_000u64 {
            m.lock().unwrap().push(i);
            cv.notify_one();
            if i % 100 == 0 {
                rt::yield_now();
            }
        }
        assert_eq!(consumer.join().unwrap(), (0..10_000u64).sum());
        // A deadline that passes says so.
        let g = m.lock().unwrap();
        let (_g, notified) = cv
            .wait_deadline(g, Some(Instant::now() + Duration::from_millis(20)))
            .unwrap();
        assert!(!notified);
    });
}

/// `dump()` names each lock wait as Go's goroutine dump does.
#[test]
fn parked_lock_waits_show_go_wait_reasons_in_dump() {
    with_runtime(2, LIMIT, || {
        let rw = Arc::new(RwLock::new(0u32));
        let m = Arc::new(Mutex::new(0u32));
        let cv = Arc::new(Condvar::new());
        let n = Arc::new(Notify::new());
        let held_rw = rw.write().unwrap();
        let held_m = m.lock().unwrap();
        let tasks = vec![
            {
                let rw = rw.clone();
                rt::spawn(move || drop(rw.read().unwrap()))
            },
            {
                let m = m.clone();
                rt::spawn(move || drop(m.lock().unwrap()))
            },
            {
                let n = n.clone();
                rt::spawn(move || n.notified().unwrap())
            },
        ];
        // A Condvar waiter needs the mutex first: a second mutex.
        let m2 = Arc::new(Mutex::new(false));
        let cond = {
            let (m2, cv) = (m2.clone(), cv.clone());
            rt::spawn(move || {
                let mut g = m2.lock().unwrap();
                while !*g {
                    g = cv.wait(g).unwrap();
                }
            })
        };
        let want = [
            "waiting: sync.RWMutex.RLock",
            "waiting: sync.Mutex.Lock",
            "waiting: Notify.notified",
            "waiting: sync.Cond.Wait",
        ];
        let start = Instant::now();
        loop {
            let dump = rt::dump();
            if want.iter().all(|w| dump.contains(w)) {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "{dump}");
            rt::sleep(Duration::from_millis(2)).unwrap();
        }
        drop(held_rw);
        // A writer queued behind a reader shows as RWMutex.Lock.
        let held_r = rw.read().unwrap();
        let writer = {
            let rw = rw.clone();
            rt::spawn(move || *rw.write().unwrap() += 1)
        };
        let start = Instant::now();
        while !rt::dump().contains("waiting: sync.RWMutex.Lock") {
            assert!(start.elapsed() < Duration::from_secs(10), "{}", rt::dump());
            rt::sleep(Duration::from_millis(2)).unwrap();
        }
        drop(held_r);
        drop(held_m);
        n.notify_one();
        *m2.lock().unwrap() = true;
        cv.notify_one();
        for t in tasks {
            t.join().unwrap();
        }
        writer.join().unwrap();
        cond.join().unwrap();
    });
}
