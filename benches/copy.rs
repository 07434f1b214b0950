//! Zero-copy against the buffer loop, tokio and std, side by side in one run.
//!
//! ```text
//! cargo bench --bench copy                 # 1 GiB per run, 3 rounds
//! COPY_MB=256 ROUNDS=2 cargo bench --bench copy
//! ```
//!
//! Two workloads over loopback, each variant run in turn, round after round
//! (A B C D A B C D …), so drift on this shared 2-core machine hits all alike:
//!
//! - **file → socket**: a file in the page cache sent to a reader thread.
//!   netpark `io::copy` (sendfile), netpark's 32 KiB buffer loop (the same
//!   file behind a reader that does not opt in), `tokio::io::copy` from a
//!   `tokio::fs::File`, and `std::io::copy` between std types (std's own
//!   sendfile path) on a plain thread.
//! - **socket → socket proxy**: a bulk sender thread → the proxy → a sink
//!   thread. netpark `io::copy` (splice through a pooled pipe), netpark's
//!   buffer loop, and tokio's `copy_bidirectional` (current_thread).
//!
//! The figure for a variant is the CPU of the side under test (the sender of
//! the file, the proxy), in CPU-seconds per GB, split into user and system
//! time: process CPU from `getrusage(RUSAGE_SELF)` minus what the load
//! threads measure of themselves (`RUSAGE_THREAD`). Throughput is printed
//! beside it; on loopback the receiving thread often caps it.

use std::io::{Read, Write};
use std::net::{TcpListener as StdListener, TcpStream as StdStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use netpark::io;

const GB: f64 = 1e9;

/// User and system CPU seconds.
#[derive(Clone, Copy, Default, Debug)]
struct Cpu {
    user: f64,
    sys: f64,
}

impl std::ops::Sub for Cpu {
    type Output = Cpu;
    fn sub(self, o: Cpu) -> Cpu {
        Cpu {
            user: self.user - o.user,
            sys: self.sys - o.sys,
        }
    }
}

fn rusage(who: libc::c_int) -> Cpu {
    // SAFETY: rusage is plain old data that the kernel fills in.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: ru is a valid rusage buffer.
    unsafe { libc::getrusage(who, &mut ru) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    Cpu {
        user: s(ru.ru_utime),
        sys: s(ru.ru_stime),
    }
}

fn process_cpu() -> Cpu {
    rusage(libc::RUSAGE_SELF)
}

fn thread_cpu() -> Cpu {
    rusage(libc::RUSAGE_THREAD)
}

/// A load thread's result: bytes moved and its own CPU.
struct Load {
    bytes: u64,
    cpu: Cpu,
}

/// Reads a socket to its end on a plain thread, discarding the bytes.
fn sink_thread(l: StdListener) -> std::thread::JoinHandle<Load> {
    std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let start = thread_cpu();
        let mut buf = vec![0u8; 1 << 20];
        let mut bytes = 0u64;
        loop {
            match s.read(&mut buf).unwrap() {
                0 => break,
                n => bytes += n as u64,
            }
        }
        Load {
            bytes,
            cpu: thread_cpu() - start,
        }
    })
}

/// Sends `total` bytes on a plain thread, then closes.
fn sender_thread(addr: std::net::SocketAddr, total: u64) -> std::thread::JoinHandle<Load> {
    std::thread::spawn(move || {
        let mut s = StdStream::connect(addr).unwrap();
        let start = thread_cpu();
        let buf = vec![0x5au8; 1 << 20];
        let mut left = total;
        while left > 0 {
            let n = left.min(buf.len() as u64) as usize;
            s.write_all(&buf[..n]).unwrap();
            left -= n as u64;
        }
        drop(s);
        Load {
            bytes: total,
            cpu: thread_cpu() - start,
        }
    })
}

/// One measured run: seconds, bytes, CPU of the side under test.
struct Run {
    secs: f64,
    bytes: u64,
    cpu: Cpu,
}

/// A file reader that does not opt in: forces the buffer loop.
struct Opaque(std::fs::File);

impl Read for Opaque {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

/// A socket reader/writer that does not opt in: forces the buffer loop.
struct Plain<'a>(&'a netpark::net::TcpStream);

impl Read for Plain<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

fn data_file(mb: u64) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("copy-{mb}m.bin"));
    let want = mb << 20;
    if std::fs::metadata(&path).map(|m| m.len()).ok() != Some(want) {
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk: Vec<u8> = (0..1 << 20).map(|i| (i * 7 % 251) as u8).collect();
        for _ in 0..mb {
            f.write_all(&chunk).unwrap();
        }
    }
    // Warm the page cache.
    std::io::copy(
        &mut std::fs::File::open(&path).unwrap(),
        &mut std::io::sink(),
    )
    .unwrap();
    path
}

fn file_to_socket(variant: &str, path: &PathBuf) -> Run {
    let l = StdListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let sink = sink_thread(l);
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    match variant {
        "netpark sendfile" | "netpark buffer" => {
            let zero = variant == "netpark sendfile";
            let path = path.clone();
            netpark::Runtime::builder()
                .workers(1)
                .build()
                .unwrap()
                .block_on(move || {
                    let c = netpark::net::TcpStream::connect(addr).unwrap();
                    let f = std::fs::File::open(&path).unwrap();
                    if zero {
                        io::copy(&mut &c, &mut &f).unwrap();
                    } else {
                        io::copy(&mut &c, &mut Opaque(f)).unwrap();
                    }
                });
        }
        "tokio io::copy" => {
            let path = path.clone();
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let mut f = tokio::fs::File::open(&path).await.unwrap();
                    tokio::io::copy(&mut f, &mut c).await.unwrap();
                });
        }
        "std io::copy" => {
            let mut c = StdStream::connect(addr).unwrap();
            let mut f = std::fs::File::open(path).unwrap();
            std::io::copy(&mut f, &mut c).unwrap();
        }
        _ => unreachable!(),
    }
    let load = sink.join().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    Run {
        secs,
        bytes: load.bytes,
        cpu: process_cpu() - cpu0 - load.cpu,
    }
}

fn proxy(variant: &str, total: u64) -> Run {
    let sink_l = StdListener::bind("127.0.0.1:0").unwrap();
    let upstream = sink_l.local_addr().unwrap();
    let sink = sink_thread(sink_l);
    let front = StdListener::bind("127.0.0.1:0").unwrap();
    let front_addr = front.local_addr().unwrap();
    let sender = sender_thread(front_addr, total);
    let cpu0 = process_cpu();
    let t0 = Instant::now();
    match variant {
        "netpark splice" | "netpark buffer" => {
            let zero = variant == "netpark splice";
            netpark::Runtime::builder()
                .workers(1)
                .build()
                .unwrap()
                .block_on(move || {
                    let front = netpark::net::TcpListener::from_std(front).unwrap();
                    let (client, _) = front.accept().unwrap();
                    let up = netpark::net::TcpStream::connect(upstream).unwrap();
                    if zero {
                        io::copy(&mut &up, &mut &client).unwrap();
                    } else {
                        io::copy(&mut &up, &mut Plain(&client)).unwrap();
                    }
                    up.shutdown(std::net::Shutdown::Write).unwrap();
                });
        }
        "tokio copy_bidirectional" => {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async move {
                    front.set_nonblocking(true).unwrap();
                    let front = tokio::net::TcpListener::from_std(front).unwrap();
                    let (mut client, _) = front.accept().await.unwrap();
                    let mut up = tokio::net::TcpStream::connect(upstream).await.unwrap();
                    tokio::io::copy_bidirectional(&mut client, &mut up)
                        .await
                        .unwrap();
                });
        }
        _ => unreachable!(),
    }
    let out = sink.join().unwrap();
    let inp = sender.join().unwrap();
    let secs = t0.elapsed().as_secs_f64();
    assert_eq!(out.bytes, total, "{variant} lost bytes");
    Run {
        secs,
        bytes: out.bytes,
        cpu: process_cpu() - cpu0 - out.cpu - inp.cpu,
    }
}

/// Prints one workload's table: the median run of each variant.
fn report(title: &str, variants: &[&str], runs: &[Vec<Run>], base: usize, peer: usize) {
    println!("\n{title}");
    println!(
        "{:<26} {:>9} {:>11} {:>10} {:>10}   {:>9} {:>9}",
        "variant", "MB/s", "CPU s/GB", "user", "sys", "tput vs", "CPU vs"
    );
    let med: Vec<&Run> = runs
        .iter()
        .map(|rs| {
            let mut v: Vec<&Run> = rs.iter().collect();
            v.sort_by(|a, b| {
                let ca = (a.cpu.user + a.cpu.sys) / a.bytes as f64;
                let cb = (b.cpu.user + b.cpu.sys) / b.bytes as f64;
                ca.total_cmp(&cb)
            });
            v[v.len() / 2]
        })
        .collect();
    let per_gb = |r: &Run| (r.cpu.user + r.cpu.sys) / (r.bytes as f64 / GB);
    let tput = |r: &Run| r.bytes as f64 / r.secs / 1e6;
    for (i, name) in variants.iter().enumerate() {
        let r = med[i];
        println!(
            "{:<26} {:>9.0} {:>11.3} {:>10.3} {:>10.3}   {:>8.2}x {:>8.2}x",
            name,
            tput(r),
            per_gb(r),
            r.cpu.user / (r.bytes as f64 / GB),
            r.cpu.sys / (r.bytes as f64 / GB),
            tput(r) / tput(med[base]),
            per_gb(r) / per_gb(med[base]),
        );
    }
    println!("  (the ratio columns are against {})", variants[base]);
    for (i, other) in variants.iter().enumerate().skip(1) {
        let mark = if i == peer {
            " (the peer to match)"
        } else {
            ""
        };
        println!(
            "  {} vs {other}: throughput {:.2}x, CPU per GB {:.2}x{mark}",
            variants[0],
            tput(med[0]) / tput(med[i]),
            per_gb(med[0]) / per_gb(med[i]),
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs us with no
    // arguments: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let mb: u64 = std::env::var("COPY_MB")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 8 } else { 1024 });
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(if quick { 1 } else { 3 });
    let path = data_file(mb);
    println!("copy benchmark: {mb} MiB per run, {rounds} round(s), loopback, 1 worker each");

    let file_variants = [
        "netpark sendfile",
        "netpark buffer",
        "tokio io::copy",
        "std io::copy",
    ];
    let proxy_variants = [
        "netpark splice",
        "netpark buffer",
        "tokio copy_bidirectional",
    ];
    let mut file_runs: Vec<Vec<Run>> = file_variants.iter().map(|_| Vec::new()).collect();
    let mut proxy_runs: Vec<Vec<Run>> = proxy_variants.iter().map(|_| Vec::new()).collect();
    // ONLY=substring runs just the matching variants (for a profiler).
    let only = std::env::var("ONLY").unwrap_or_default();
    if !only.is_empty() {
        for v in file_variants.iter().filter(|v| v.contains(&only)) {
            let r = file_to_socket(v, &path);
            println!(
                "{v}: {:.3} CPU s/GB",
                (r.cpu.user + r.cpu.sys) / (r.bytes as f64 / GB)
            );
        }
        for v in proxy_variants.iter().filter(|v| v.contains(&only)) {
            let r = proxy(v, mb << 20);
            println!(
                "{v}: {:.3} CPU s/GB",
                (r.cpu.user + r.cpu.sys) / (r.bytes as f64 / GB)
            );
        }
        return;
    }
    for _ in 0..rounds {
        for (i, v) in file_variants.iter().enumerate() {
            file_runs[i].push(file_to_socket(v, &path));
            std::thread::sleep(Duration::from_millis(50));
        }
        for (i, v) in proxy_variants.iter().enumerate() {
            proxy_runs[i].push(proxy(v, mb << 20));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    report(
        "file -> socket (sender's CPU)",
        &file_variants,
        &file_runs,
        1,
        3,
    );
    report(
        "socket -> socket proxy (proxy's CPU)",
        &proxy_variants,
        &proxy_runs,
        1,
        2,
    );
    let s = netpark::stats().copy;
    println!(
        "\nnetpark paths taken: splice {} B, sendfile {} B, buffer loop {} B",
        s.splice.bytes, s.sendfile.bytes, s.buffer.bytes
    );
}
