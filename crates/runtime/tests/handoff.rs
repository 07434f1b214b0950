//! Go's hand-off: a worker held by one task (a blocking call, a busy loop)
//! strands none of its unstarted tasks. The monitor moves them to a peer, or
//! to a spare worker it starts when no peer can take them; the spare retires
//! when its tasks end; nothing runs twice or is lost when the stuck worker
//! wakes in the middle of a hand-off.

mod util;

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_runtime::{self as rt, Runtime};
use util::{within, LIMIT};

fn runtime(workers: usize, name: &str) -> Runtime {
    Runtime::builder()
        .workers(workers)
        .name(name)
        .build()
        .expect("runtime starts")
}

/// The program: the root task spawns, then blocks its worker in a
/// foreign call (a std thread's join) that only returns once the spawned
/// task has run.
fn root_blocks_on_its_own_spawn(workers: usize) {
    within(LIMIT, move || {
        let rt = runtime(workers, "blockroot");
        let v = rt.block_on(|| {
            let h = rt::spawn(|| {
                rt::sleep(Duration::from_millis(20)).ok();
                7
            });
            std::thread::spawn(move || h.join().ok()).join().unwrap()
        });
        assert_eq!(v, Some(7));
    });
}

#[test]
fn a_root_task_blocked_on_its_spawn_ends_with_one_worker() {
    root_blocks_on_its_own_spawn(1);
}

#[test]
fn a_root_task_blocked_on_its_spawn_ends_with_two_workers() {
    root_blocks_on_its_own_spawn(2);
}

/// 50 spawns, then the spawner holds its worker in `std::thread::sleep`:
/// all 50 must have run by the time the sleep ends.
fn burst_finishes_while_the_spawner_sleeps(workers: usize) {
    within(LIMIT, move || {
        let rt = runtime(workers, "burst");
        let done = rt.block_on(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..50 {
                let d = done.clone();
                rt::spawn(move || {
                    rt::sleep(Duration::from_millis(1)).ok();
                    d.fetch_add(1, Ordering::SeqCst);
                });
            }
            std::thread::sleep(Duration::from_millis(400));
            done.load(Ordering::SeqCst)
        });
        assert_eq!(done, 50, "tasks left unfinished behind a sleeping spawner");
    });
}

#[test]
fn a_burst_of_50_finishes_while_the_spawner_sleeps_with_one_worker() {
    burst_finishes_while_the_spawner_sleeps(1);
}

#[test]
fn a_burst_of_50_finishes_while_the_spawner_sleeps_with_two_workers() {
    burst_finishes_while_the_spawner_sleeps(2);
}

#[test]
fn pinned_spawns_are_handed_off_too() {
    within(LIMIT, || {
        let rt = runtime(1, "pinned");
        let done = rt.block_on(|| {
            let done = Arc::new(AtomicUsize::new(0));
            for _ in 0..10 {
                let d = done.clone();
                rt::task::Builder::new()
                    .same_worker()
                    .spawn(move || {
                        d.fetch_add(1, Ordering::SeqCst);
                    })
                    .unwrap();
            }
            std::thread::sleep(Duration::from_millis(300));
            done.load(Ordering::SeqCst)
        });
        assert_eq!(done, 10);
    });
}

#[test]
fn spawns_from_a_thread_run_while_every_worker_is_stuck() {
    within(LIMIT, || {
        let rt = runtime(1, "outside");
        let handle = rt.handle().clone();
        let ran = rt.block_on(move || {
            let spawner = std::thread::spawn(move || {
                // Let the monitor mark the one worker stuck first.
                std::thread::sleep(Duration::from_millis(60));
                let hs: Vec<_> = (0..10).map(|i| handle.spawn(move || i)).collect();
                hs.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
            });
            // Held until the thread's tasks have all run elsewhere.
            spawner.join().unwrap()
        });
        assert_eq!(ran, 45);
    });
}

fn spare_threads(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .filter(|c| c.trim_end().starts_with(prefix))
        .count()
}

#[test]
fn a_spare_worker_retires_when_its_tasks_end_and_dump_shows_the_stuck_worker() {
    within(LIMIT, || {
        let rt = runtime(1, "retire");
        let started = rt::stats().spare_workers_started;
        let handle = rt.handle().clone();
        let (during, spares_during) = rt.block_on(move || {
            let h = rt::spawn(|| rt::sleep(Duration::from_millis(30)).ok());
            // Block the only worker: the monitor starts a spare for `h`.
            let t = Instant::now();
            while !h.is_finished() && t.elapsed() < Duration::from_secs(10) {
                std::thread::sleep(Duration::from_millis(5));
            }
            let d = std::thread::spawn(move || handle.dump()).join().unwrap();
            (d, spare_threads("retire-spare"))
        });
        assert!(rt::stats().spare_workers_started > started);
        assert!(spares_during <= 1, "one spare at most: {spares_during}");
        assert!(
            during.contains("worker 0 [stuck] held by task") && during.contains("\"main\""),
            "{during}"
        );
        // The spare's task has ended: its thread goes away.
        let t = Instant::now();
        while spare_threads("retire-spare") > 0 {
            assert!(
                t.elapsed() < Duration::from_secs(10),
                "the spare worker did not retire:\n{}",
                rt.handle().dump()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!rt.handle().dump().contains("spare"));
        // And the slot can be used again.
        let v = rt.block_on(|| {
            let h = rt::spawn(|| 5);
            std::thread::spawn(move || h.join().unwrap())
                .join()
                .unwrap()
        });
        assert_eq!(v, 5);
    });
}

/// The stuck worker wakes while the monitor takes its tasks: with a 1 ms
/// threshold, the root task spawns a batch, then blocks for a random time
/// around it, again and again. Every task must run exactly once.
fn hand_off_races_the_owner(workers: usize) {
    within(LIMIT, move || {
        let rt = Runtime::builder()
            .workers(workers)
            .name("race")
            .stuck_threshold(Duration::from_millis(1))
            .build()
            .unwrap();
        const ROUNDS: usize = 300;
        const BATCH: usize = 8;
        let runs: Arc<Vec<AtomicU8>> =
            Arc::new((0..ROUNDS * BATCH).map(|_| AtomicU8::new(0)).collect());
        let r = runs.clone();
        let before = rt::stats().handoffs;
        rt.block_on(move || {
            let mut seed = 0x9e37_79b9_u32;
            for round in 0..ROUNDS {
                let hs: Vec<_> = (0..BATCH)
                    .map(|i| {
                        let r = r.clone();
                        let n = round * BATCH + i;
                        let b = rt::task::Builder::new();
                        let b = if i % 3 == 0 { b.same_worker() } else { b };
                        b.spawn(move || {
                            r[n].fetch_add(1, Ordering::SeqCst);
                        })
                        .unwrap()
                    })
                    .collect();
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                std::thread::sleep(Duration::from_micros(u64::from(seed % 2500)));
                for h in hs {
                    h.join().expect("every task runs");
                }
            }
        });
        assert!(
            rt::stats().handoffs > before,
            "the race was run: tasks were handed off"
        );
        let counts: Vec<u8> = runs.iter().map(|c| c.load(Ordering::SeqCst)).collect();
        assert!(
            counts.iter().all(|&c| c == 1),
            "a task ran {:?} times",
            counts.iter().find(|&&c| c != 1)
        );
    });
}

#[test]
fn a_stuck_worker_waking_mid_hand_off_runs_each_task_once_with_one_worker() {
    hand_off_races_the_owner(1);
}

#[test]
fn a_stuck_worker_waking_mid_hand_off_runs_each_task_once_with_two_workers() {
    hand_off_races_the_owner(2);
}

/// A spare worker that finds a wake in its inbox as it considers retiring
/// runs that task instead of sleeping on it. The wake came from a plain
/// thread while the spare was idle between two checks of its inbox; the
/// last check, made on the way to retiring, queued the task but let the
/// worker go to sleep with it queued, and a task holding a lock never ran
/// again (found by `ten_thousand_tasks_of_random_sync_ops_lose_and_double_nothing`
/// under CPU load).
#[test]
fn a_spare_worker_runs_a_wake_it_took_on_its_way_to_retiring() {
    within(LIMIT, || {
        let rt = runtime(1, "sparewake");
        let rounds = rt.block_on(|| {
            let (to_task, rx) = rt::sync::channel::<u32>(0);
            let (tx, from_task) = rt::sync::channel::<u32>(0);
            // Unstarted when the root blocks: the monitor hands it to a spare.
            let echo = util::spawn_echo(rx, tx);
            let driver = std::thread::spawn(move || {
                let mut seed = 0x2545_f491_4f6c_dd1du64;
                for i in 0..20_000u32 {
                    // Land some sends after the spare's spin has given up
                    // (10 µs), where it heads for retiring and sleep.
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    let until = Instant::now() + Duration::from_micros(seed % 40);
                    while Instant::now() < until {
                        std::hint::spin_loop();
                    }
                    to_task.send(i).unwrap();
                    assert_eq!(from_task.recv().unwrap(), i);
                }
                20_000u32
            });
            // Blocks the only worker until the driver is done.
            let n = driver.join().unwrap();
            echo.join().unwrap();
            n
        });
        assert_eq!(rounds, 20_000);
    });
}
