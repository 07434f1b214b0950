//! A task that overflows its stack stops the process with a message naming it.

use std::process::Command;

#[inline(never)]
fn recurse(n: u64) -> u64 {
    let pad = [n; 64];
    if n == 0 {
        return pad[0];
    }
    std::hint::black_box(recurse(n - 1)) + std::hint::black_box(pad)[3]
}

#[test]
fn stack_overflow_names_the_task_and_its_stack_size() {
    if std::env::var_os("NETPARK_OVERFLOW_CHILD").is_some() {
        netpark_runtime::run(|| {
            let h = netpark_runtime::task::Builder::new()
                .name("deep")
                .stack_size(64 * 1024)
                .spawn(|| recurse(u64::MAX))
                .unwrap();
            let _ = h.join();
        });
        unreachable!("the overflow aborts the process");
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stack_overflow_names_the_task_and_its_stack_size",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("NETPARK_OVERFLOW_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child should die");
    assert!(
        stderr.contains("task") && stderr.contains("\"deep\" overflowed its stack of 65536 bytes"),
        "stderr: {stderr}"
    );
}
