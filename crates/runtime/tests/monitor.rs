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

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is the empty set; CPU_SET and
    // sched_setaffinity only touch the live local set.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        assert_eq!(
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set),
            0,
            "sched_setaffinity: {}",
            std::io::Error::last_os_error()
        );
    }
}

/// A worker the OS does not run is not stuck: its task neither blocks nor
/// computes, so the monitor neither warns nor hands its spawn to a spare
/// (which would only compete for the same CPU). Here the worker's thread is
/// pinned to one CPU at the lowest priority (nice 19), beside a plain
/// thread that spins there at the default one for 300 ms, so it gets about
/// 2.5% of that CPU (6–8 ms measured) while its task is mid-turn: held
/// for six thresholds of 50 ms, with less than half of one of CPU.
#[test]
fn a_worker_the_os_does_not_run_is_not_taken_for_stuck() {
    const THRESHOLD: Duration = Duration::from_millis(50);
    if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
        eprintln!("skipped: the monitor needs a CPU the starved worker is not on");
        return;
    }
    within(LIMIT, || {
        let rt = Runtime::builder()
            .workers(1)
            .name("starved")
            .stuck_threshold(THRESHOLD)
            .build()
            .unwrap();
        let (ran_on, used) = rt.block_on(|| {
            // SAFETY: sched_getcpu has no preconditions.
            let cpu = unsafe { libc::sched_getcpu() };
            let cpu = usize::try_from(cpu).expect("sched_getcpu");
            // Started before the worker lowers its priority: a thread
            // inherits its creator's nice value.
            let go = std::sync::Arc::new(std::sync::Barrier::new(2));
            let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (g, d) = (go.clone(), done.clone());
            let hog = std::thread::spawn(move || {
                pin_to(cpu);
                g.wait();
                let t = Instant::now();
                while t.elapsed() < Duration::from_millis(300) {
                    std::hint::spin_loop();
                }
                d.store(true, std::sync::atomic::Ordering::Release);
            });
            pin_to(cpu);
            // SAFETY: raising one's own thread's nice value needs no
            // privilege; `who` is this thread's id.
            let r =
                unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, 19) };
            assert_eq!(r, 0, "setpriority: {}", std::io::Error::last_os_error());
            // Unstarted while the root holds the worker: a spare would take it.
            let child = rt::spawn(|| std::thread::current().name().map(String::from));
            go.wait();
            // The root's turn, starved of its CPU until the hog is done.
            let cpu0 = thread_cpu();
            while !done.load(std::sync::atomic::Ordering::Acquire) {
                std::hint::spin_loop();
            }
            let used = thread_cpu() - cpu0;
            hog.join().unwrap();
            (child.join().unwrap(), used)
        });
        if used >= THRESHOLD / 2 {
            // The scheduler ran the worker after all: it computed, and the
            // monitor was right to take it for stuck. Nothing to check.
            eprintln!("inconclusive: the worker got {used:?} of CPU");
            return;
        }
        assert_eq!(
            ran_on.as_deref(),
            Some("starved-worker-0"),
            "the spawn stayed on its worker: no spare was started"
        );
    });
}

/// The calling thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec into a live local.
    let r = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(r, 0);
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}
