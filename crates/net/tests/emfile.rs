//! EMFILE on accept: back off and recover, never spin.
//!
//! Runs in a child process, because lowering RLIMIT_NOFILE affects the whole
//! process and the other tests run in parallel.

use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant};

fn cpu_time() -> Duration {
    // SAFETY: getrusage fills a zeroed rusage for this process.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

fn child() {
    netpark_runtime::Runtime::builder()
        .workers(1)
        .build()
        .unwrap()
        .block_on(|| {
            let l = netpark_net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = l.local_addr().unwrap();
            // Queue three connections with plain blocking std clients.
            let clients: Vec<_> = (0..3)
                .map(|_| std::net::TcpStream::connect(addr).unwrap())
                .collect();
            let open = std::fs::read_dir("/proc/self/fd").unwrap().count() as u64;
            let lim = libc::rlimit {
                rlim_cur: open + 16,
                rlim_max: open + 64,
            };
            // SAFETY: setrlimit with a valid struct.
            assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) }, 0);
            // The limit bounds fd numbers, not their count: fill every free number,
            // then give exactly one back.
            let mut filler = Vec::new();
            while let Ok(f) = std::fs::File::open("/dev/null") {
                filler.push(f);
            }
            filler.pop();
            let (first, _) = l.accept().expect("one fd left for the first connection");
            // A naive loop that retries every error for 600 ms.
            let t = Instant::now();
            let cpu0 = cpu_time();
            let mut attempts = 0;
            let mut last = None;
            while t.elapsed() < Duration::from_millis(600) {
                attempts += 1;
                match l.accept() {
                    Ok(_) => panic!("no fd should be free"),
                    Err(e) => last = Some(e),
                }
            }
            let cpu = cpu_time() - cpu0;
            let e = last.unwrap();
            assert_eq!(netpark_net::os_error(&e), Some(libc::EMFILE), "{e}");
            assert!(e.to_string().contains("too many open files"), "{e}");
            assert!(
                attempts < 30,
                "accept backed off: {attempts} attempts in 600 ms"
            );
            assert!(
                cpu < Duration::from_millis(300),
                "no spinning: {cpu:?} CPU in 600 ms"
            );
            // Free an fd: the next accept recovers.
            drop(first);
            let (second, _) = l.accept().expect("accept recovers once an fd is free");
            drop(second);
            drop(clients);
            drop(filler);
            println!("EMFILE-CHILD-OK attempts={attempts} cpu={cpu:?}");
        });
}

#[test]
fn emfile_on_accept_backs_off_and_recovers_without_spinning() {
    if std::env::var_os("NETPARK_EMFILE_CHILD").is_some() {
        child();
        return;
    }
    let mut out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "emfile_on_accept_backs_off_and_recovers_without_spinning",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("NETPARK_EMFILE_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = String::new();
    let mut stderr = String::new();
    out.stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    out.stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    let status = out.wait().unwrap();
    assert!(
        status.success() && stdout.contains("EMFILE-CHILD-OK"),
        "child failed:\n{stdout}\n{stderr}"
    );
}
