//! A spawn that cannot map a stack fails with an error that says why, and the
//! runtime goes on; a size past the address space is an error too. Runs in a child process whose address space is limited
//! (`RLIMIT_AS`), so the mapping fails without touching the machine's limits.

use std::io;
use std::process::Command;

use netpark_runtime::{error::ErrStackMap, task, Runtime};

const NAME: &str = "a_spawn_that_cannot_map_a_stack_says_why_and_the_runtime_goes_on";
const STACK: usize = 8 << 20;

/// Bytes of address space this process has mapped now.
fn vm_size() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmSize:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmSize in /proc/self/status");
    kb * 1024
}

fn child() {
    let rt = Runtime::builder().workers(1).build().unwrap();
    rt.block_on(|| {
        // What is mapped now plus 128 MiB: 8 MiB stacks run out after ~15.
        let limit = libc::rlimit {
            rlim_cur: vm_size() + (128 << 20),
            rlim_max: libc::RLIM_INFINITY,
        };
        // SAFETY: setrlimit reads the struct; lowering our own limit is allowed.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) }, 0);
        let mut held = Vec::new();
        let err = loop {
            match task::Builder::new().stack_size(STACK).spawn(|| 1) {
                Ok(h) => held.push(h),
                Err(e) => break e,
            }
            assert!(held.len() < 100, "128 MiB held 100 stacks of 8 MiB");
        };
        let msg = err.to_string();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory, "{msg}");
        assert!(
            msg.starts_with("cannot map a task stack of 8388608 bytes: "),
            "{msg}"
        );
        assert!(msg.contains("vm.max_map_count"), "{msg}");
        let inner = err.get_ref().and_then(|e| e.downcast_ref::<ErrStackMap>());
        let os = inner
            .and_then(|e| std::error::Error::source(e))
            .and_then(|e| e.downcast_ref::<io::Error>())
            .and_then(io::Error::raw_os_error);
        assert_eq!(os, Some(libc::ENOMEM), "the OS error is kept as the source");
        // The tasks that did get a stack run; their stacks are unmapped as
        // they end, and spawning works again.
        let n = held.len();
        assert_eq!(
            held.into_iter().map(|h| h.join().unwrap()).sum::<usize>(),
            n
        );
        let again = task::Builder::new().stack_size(STACK).spawn(|| 7).unwrap();
        assert_eq!(again.join().unwrap(), 7);
    });
    println!("child done: spawn failed cleanly and recovered");
}

#[test]
fn a_spawn_that_cannot_map_a_stack_says_why_and_the_runtime_goes_on() {
    if std::env::var_os("NETPARK_STACK_CHILD").is_some() {
        child();
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", NAME, "--nocapture", "--test-threads=1"])
        .env("NETPARK_STACK_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("child done"),
        "child failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
}

/// Whether this kernel takes `MADV_GUARD_INSTALL` (Linux 6.13).
fn kernel_has_guard_markers() -> bool {
    const MADV_GUARD_INSTALL: libc::c_int = 102;
    // SAFETY: a scratch anonymous page, advised, then unmapped; nothing else
    // refers to it.
    unsafe {
        let page = libc::sysconf(libc::_SC_PAGESIZE) as usize;
        let p = libc::mmap(
            std::ptr::null_mut(),
            page,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED);
        let ok = libc::madvise(p, page, MADV_GUARD_INSTALL) == 0;
        libc::munmap(p, page);
        ok
    }
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

/// Mappings, not memory, are what a process with many tasks runs out of
/// first; a guard marker keeps the guard page inside the stack's mapping.
#[test]
fn a_task_stack_takes_at_most_one_mapping_where_the_kernel_has_guard_markers() {
    if !kernel_has_guard_markers() {
        eprintln!("kernel without MADV_GUARD_INSTALL: stacks take two mappings");
        return;
    }
    const TASKS: usize = 2000;
    let rt = Runtime::builder().workers(1).build().unwrap();
    let (before, after) = rt.block_on(|| {
        let before = mappings();
        let parked: Vec<_> = (0..TASKS)
            .map(|_| {
                task::Builder::new()
                    .stack_size(64 * 1024)
                    .spawn(|| {
                        netpark_runtime::sleep(std::time::Duration::from_millis(200)).unwrap();
                    })
                    .unwrap()
            })
            .collect();
        // Let every task start and park in its sleep.
        netpark_runtime::sleep(std::time::Duration::from_millis(50)).unwrap();
        let after = mappings();
        eprintln!("{TASKS} parked tasks: {before} -> {after} mappings");
        for p in parked {
            p.join().unwrap();
        }
        (before, after)
    });
    // Other mappings may come and go meanwhile (the count can even drop when
    // neighbours merge), so only an increase is checked.
    let added = after.saturating_sub(before);
    assert!(added <= TASKS + 16, "{TASKS} stacks added {added} mappings");
}

#[test]
fn sizes_and_counts_past_the_address_space_are_errors_not_overflow_panics() {
    let e = netpark_runtime::Runtime::builder()
        .stack_size(usize::MAX)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    assert!(
        e.to_string().contains("larger than the address space"),
        "{e}"
    );
    let e = netpark_runtime::Runtime::builder()
        .max_spare_workers(usize::MAX)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::InvalidInput, "{e}");
    netpark_runtime::Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(|| {
            let e = netpark_runtime::task::Builder::new()
                .stack_size(usize::MAX - 1)
                .spawn(|| ())
                .unwrap_err();
            assert!(
                e.to_string().contains("larger than the address space"),
                "{e}"
            );
            // The runtime goes on.
            netpark_runtime::spawn(|| 1).join().unwrap()
        });
}
