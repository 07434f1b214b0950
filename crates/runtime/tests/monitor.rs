//! The monitor (Go's sysmon): a task holding its worker is reported, and the
//! unstarted tasks queued behind it run elsewhere.

mod util;

use std::time::{Duration, Instant};

use netpark_runtime::{self as rt, Runtime};
use util::{within, LIMIT};

struct Capture;

static WARNINGS: parking_lot::Mutex<Vec<String>> = parking_lot::Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Warn
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.level() == log::Level::Warn {
            WARNINGS.lock().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

#[test]
fn a_task_stuck_in_a_busy_loop_is_reported_and_others_still_run() {
    let _ = log::set_logger(&Capture);
    log::set_max_level(log::LevelFilter::Warn);
    within(LIMIT, || {
        let rt = Runtime::builder()
            .workers(2)
            .stuck_threshold(Duration::from_millis(20))
            .build()
            .unwrap();
        let before = rt::stats().stuck_warnings;
        let ran_elsewhere = rt.block_on(move || {
            let hog = rt::task::Builder::new()
                .name("hog")
                .spawn(move || {
                    // Spawned from the hog, these queue on its worker before it spins.
                    let others: Vec<_> = (0..4)
                        .map(|_| rt::spawn(|| std::thread::current().id()))
                        .collect();
                    let me = std::thread::current().id();
                    let t = Instant::now();
                    // The hog stops itself: the task that spawned it shares its
                    // worker and cannot run until it does (started tasks never move).
                    while t.elapsed() < Duration::from_millis(200) {
                        std::hint::spin_loop();
                    }
                    (me, others)
                })
                .unwrap();
            let (hog_thread, others) = hog.join().unwrap();
            others
                .into_iter()
                .map(|h| h.join().unwrap())
                .filter(|t| *t != hog_thread)
                .count()
        });
        assert!(
            rt::stats().stuck_warnings > before,
            "the monitor counted the stuck task"
        );
        let w = WARNINGS.lock().clone();
        assert!(
            w.iter().any(|m| m.contains("\"hog\"")
                && m.contains("without yielding")
                && m.contains("ms")
                && m.contains("run_blocking")),
            "{w:?}"
        );
        assert_eq!(
            ran_elsewhere, 4,
            "every unstarted task behind the hog, runnext too, ran on the other worker"
        );
    });
}
