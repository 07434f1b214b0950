//! Code shared by the echo examples: flags, the server loop, and the client's
//! message and load modes. Not an example itself (no `main`).

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark::net::{self, TcpListener, TcpStream};

/// `--name value` flags and bare `--switch`es.
pub struct Flags {
    values: HashMap<String, String>,
}

impl Flags {
    /// Parses `std::env::args`; prints `usage` and exits on `--help`, and
    /// exits with an error on a flag `usage` does not list.
    pub fn parse(usage: &str) -> Flags {
        let mut values = HashMap::new();
        let mut args = std::env::args().skip(1).peekable();
        while let Some(a) = args.next() {
            if a == "--help" || a == "-h" {
                println!("{usage}");
                std::process::exit(0);
            }
            let Some(name) = a.strip_prefix("--") else {
                eprintln!("unexpected argument {a:?}\n\n{usage}");
                std::process::exit(2);
            };
            let (name, value) = match name.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => match args.peek() {
                    Some(v) if !v.starts_with("--") => (name.to_string(), args.next().unwrap()),
                    _ => (name.to_string(), "true".to_string()),
                },
            };
            if !usage.contains(&format!("--{name}")) {
                eprintln!("unknown flag --{name}\n\n{usage}");
                std::process::exit(2);
            }
            values.insert(name, value);
        }
        Flags { values }
    }

    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            None => default,
            Some(v) => v.parse().unwrap_or_else(|_| {
                eprintln!("bad value for --{name}: {v:?}");
                std::process::exit(2);
            }),
        }
    }

    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    pub fn str(&self, name: &str, default: &str) -> String {
        self.values
            .get(name)
            .cloned()
            .unwrap_or_else(|| default.to_string())
    }
}

/// Accepts forever, one task per connection, echoing with a 4 KiB buffer
/// of its own, or (`shared`) one borrowed from its worker while it reads.
pub fn serve(listener: Arc<TcpListener>, verbose: bool, shared: bool) {
    loop {
        let (conn, peer) = match listener.accept() {
            Ok(c) => c,
            Err(e) if net::is_closed(&e) => return,
            Err(e) => {
                eprintln!("echo_server: {e}");
                continue;
            }
        };
        if verbose {
            println!("server: accepted {peer}");
        }
        netpark::spawn(move || {
            let r = if shared {
                echo_shared(&conn)
            } else {
                echo(&conn, verbose)
            };
            if let Err(e) = r {
                if verbose {
                    eprintln!("echo_server: {e}");
                }
            }
        });
    }
}

// Not inlined into the task's closure, so that a `--shared-buffer`
// connection's frame does not carry this loop's 4 KiB buffer too (one
// closure calling either loop would get the larger frame, a whole page).
#[inline(never)]
fn echo(conn: &TcpStream, verbose: bool) -> io::Result<()> {
    let mut buf = [0u8; 4096];
    let peer = conn.peer_addr()?;
    loop {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            if verbose {
                println!("server: closed {peer}");
            }
            return Ok(());
        }
        if verbose {
            println!(
                "server: in {peer} {} n={n}",
                String::from_utf8_lossy(&buf[..n]).trim_end()
            );
        }
        let w = conn;
        w.write_all(&buf[..n])?;
        if verbose {
            println!("server: out {peer} n={n}");
        }
    }
}

thread_local! {
    /// The worker's one read buffer for `--shared-buffer` connections: a
    /// started task never leaves its worker, and no task holds it across a
    /// park, so one a worker is enough.
    static SHARED: std::cell::RefCell<Box<[u8; 4096]>> =
        std::cell::RefCell::new(Box::new([0u8; 4096]));
}

/// The `--shared-buffer` echo: wait for bytes holding no buffer, read them
/// into the worker's, write back what fits at once; a write that would
/// wait keeps its own copy of what is left, so the borrowed buffer is
/// never held across a park. A parked connection costs its stack's frames
/// of `wait_readable` and nothing more.
#[inline(never)]
fn echo_shared(conn: &TcpStream) -> io::Result<()> {
    /// What one turn with the borrowed buffer left to do.
    enum Step {
        /// The peer closed.
        End,
        /// Everything read was written back.
        Done,
        /// These bytes did not fit: written with a wait, from our own copy.
        Rest(Vec<u8>),
    }
    loop {
        conn.wait_readable()?;
        let step = SHARED.with(|b| -> io::Result<Step> {
            let mut buf = b.borrow_mut();
            let n = match conn.try_read(&mut buf[..]) {
                Ok(0) => return Ok(Step::End),
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Step::Done),
                Err(e) => return Err(e),
            };
            let mut done = 0;
            while done < n {
                match conn.try_write(&buf[done..n]) {
                    Ok(k) => done += k,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        return Ok(Step::Rest(buf[done..n].to_vec()))
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(Step::Done)
        })?;
        match step {
            Step::End => return Ok(()),
            Step::Done => {}
            Step::Rest(rest) => conn.write_all(&rest)?,
        }
    }
}

/// A small xorshift generator, so the examples need no extra crate.
pub struct Rng(u64);

impl Rng {
    pub fn seeded(salt: u64) -> Rng {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1);
        Rng(t ^ salt.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Totals of a message run.
#[derive(Default)]
pub struct Totals {
    pub messages: AtomicU64,
    pub bytes: AtomicU64,
}

/// Message mode: each of `conns` connections sends `count` messages
/// `hello world! <random>` (padded to `size`), reads each echo back and checks it.
pub fn run_messages(
    addr: &str,
    conns: usize,
    count: usize,
    size: usize,
    print: bool,
) -> io::Result<Arc<Totals>> {
    let totals = Arc::new(Totals::default());
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            let addr = addr.to_string();
            let totals = totals.clone();
            netpark::spawn(move || -> io::Result<()> {
                let mut conn = net::dial("tcp", &addr)?;
                let mut rng = Rng::seeded(i as u64 + 1);
                let mut reply = Vec::new();
                for _ in 0..count {
                    let mut msg = format!("hello world! {}", rng.next()).into_bytes();
                    if msg.len() < size {
                        msg.resize(size, b'.');
                    }
                    conn.write_all(&msg)?;
                    if print {
                        println!(
                            "client: out {} n={}",
                            String::from_utf8_lossy(&msg),
                            msg.len()
                        );
                    }
                    reply.resize(msg.len(), 0);
                    conn.read_exact(&mut reply)?;
                    if reply != msg {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "echo differs from what was sent",
                        ));
                    }
                    if print {
                        println!(
                            "client: in {} n={}",
                            String::from_utf8_lossy(&reply),
                            reply.len()
                        );
                    }
                    totals.messages.fetch_add(1, Ordering::Relaxed);
                    totals.bytes.fetch_add(msg.len() as u64, Ordering::Relaxed);
                }
                conn.close()
            })
        })
        .collect();
    for h in handles {
        h.join().map_err(|e| io::Error::other(e.to_string()))??;
    }
    Ok(totals)
}

/// Result of a load run.
pub struct Load {
    pub requests: u64,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

/// Load mode: `conns` connections in ping-pong (write `size` bytes, read them
/// back, verify) for `secs` seconds.
pub fn run_load(addr: &str, conns: usize, secs: f64, size: usize) -> io::Result<Load> {
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            let addr = addr.to_string();
            netpark::spawn(move || -> io::Result<Vec<u32>> {
                let mut conn = net::dial("tcp", &addr)?;
                let mut rng = Rng::seeded(i as u64 + 7);
                let msg: Vec<u8> = (0..size).map(|_| b'a' + (rng.next() % 26) as u8).collect();
                let mut reply = vec![0u8; size];
                let mut lat = Vec::with_capacity(1 << 16);
                loop {
                    let t = Instant::now();
                    if t >= end {
                        break;
                    }
                    conn.write_all(&msg)?;
                    conn.read_exact(&mut reply)?;
                    lat.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    if reply != msg {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "echo differs from what was sent",
                        ));
                    }
                }
                conn.close()?;
                Ok(lat)
            })
        })
        .collect();
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.join().map_err(|e| io::Error::other(e.to_string()))??);
    }
    let elapsed = start.elapsed();
    all.sort_unstable();
    let pct = |p: f64| -> Duration {
        if all.is_empty() {
            return Duration::ZERO;
        }
        let i = ((all.len() as f64 * p) as usize).min(all.len() - 1);
        Duration::from_micros(all[i] as u64)
    };
    Ok(Load {
        requests: all.len() as u64,
        elapsed,
        p50: pct(0.50),
        p99: pct(0.99),
    })
}

/// CPU time of a process, user and system apart, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuTime {
    /// Time in user mode: the process's own code (for a server: the runtime).
    pub user: Duration,
    /// Time in the kernel on the process's behalf (syscalls, softirqs it ran).
    pub system: Duration,
}

impl CpuTime {
    /// User plus system.
    pub fn total(&self) -> Duration {
        self.user + self.system
    }

    /// The time spent since `earlier`.
    pub fn since(&self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user.saturating_sub(earlier.user),
            system: self.system.saturating_sub(earlier.system),
        }
    }
}

/// The CPU time `pid` has used so far.
pub fn cpu_time(pid: u32) -> io::Result<CpuTime> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may contain spaces; fields resume after the last ')'.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as u64;
    let time = |t: u64| Duration::from_nanos(t * 1_000_000_000 / hz);
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after ')'.
    Ok(CpuTime {
        user: time(ticks(11)),
        system: time(ticks(12)),
    })
}

/// Prints `log` records of the given level and more urgent to stderr, one
/// line each.
pub struct StderrLog(pub log::LevelFilter);

impl log::Log for StderrLog {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= self.0
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            eprintln!("{} {}: {}", r.level(), r.target(), r.args());
        }
    }
    fn flush(&self) {}
}

/// Installs [`StderrLog`] at `level` (once per process).
pub fn log_to_stderr(level: log::LevelFilter) {
    let logger: &'static StderrLog = Box::leak(Box::new(StderrLog(level)));
    if log::set_logger(logger).is_ok() {
        log::set_max_level(level);
    }
}
