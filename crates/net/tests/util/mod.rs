//! Helpers shared by the net crate's integration tests.

#![allow(dead_code)]

use std::io;
use std::net::SocketAddr;

use std::time::Duration;

use netpark_net::TcpListener;
use netpark_runtime::Runtime;

pub const LIMIT: Duration = Duration::from_secs(60);

/// Runs `f` as the first task of a fresh runtime; fails with a task dump
/// instead of hanging past `LIMIT`.
pub fn with_runtime<T: Send + 'static>(
    workers: usize,
    f: impl FnOnce() -> T + Send + 'static,
) -> T {
    within(LIMIT, move || {
        let rt = Runtime::builder()
            .workers(workers)
            .name("nettest")
            .build()
            .expect("runtime starts");
        rt.block_on(f)
    })
}

#[path = "../../../runtime/tests/util/within.rs"]
mod within;
pub use within::within;

/// A listener on an ephemeral loopback port.
pub fn local_listener() -> (TcpListener, SocketAddr) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let a = l.local_addr().unwrap();
    (l, a)
}

/// Asserts that an error has the kind and message Go would give.
pub fn assert_err(e: &io::Error, kind: io::ErrorKind, text: &str) {
    assert_eq!(e.kind(), kind, "kind of {e}");
    assert!(e.to_string().contains(text), "expected {text:?} in {e:?}");
}

/// Asserts the fd is non-blocking and close-on-exec.
pub fn assert_nonblocking_cloexec(fd: std::os::fd::RawFd) {
    // SAFETY: F_GETFL/F_GETFD on a live fd.
    let fl = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    // SAFETY: as above.
    let fdfl = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    assert!(fl & libc::O_NONBLOCK != 0, "fd {fd} is blocking");
    assert!(fdfl & libc::FD_CLOEXEC != 0, "fd {fd} lacks FD_CLOEXEC");
}

/// Whether `fd` names an open file in this process.
pub fn is_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the descriptor flags of `fd`, if it exists.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

/// The device and inode `fd` names (a socket's are unique while it is open), or `None`
/// when `fd` is not open: with it a test can tell "our socket is closed"
/// from "its number now names another file" (another thread of the
/// process, the runtime's monitor reading `/proc` among them, may take a
/// freed number at once).
pub fn inode(fd: i32) -> Option<(u64, u64)> {
    // SAFETY: an all-zero `stat` is a valid value for the kernel to fill.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fstat writes only into `st`, which outlives the call.
    (unsafe { libc::fstat(fd, &mut st) } == 0).then_some((st.st_dev, st.st_ino))
}

/// Number of open fds of this process.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Deterministic pseudo-random bytes (xorshift), so a copy that drops,
/// repeats or reorders any byte is caught.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

/// FNV-1a over the bytes: a checksum for comparing large copies.
pub fn checksum(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ x as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A connected loopback TCP pair: (dialed end, accepted end).
pub fn tcp_pair() -> (netpark_net::TcpStream, netpark_net::TcpStream) {
    let (l, addr) = local_listener();
    let c = netpark_net::TcpStream::connect(addr).expect("connect");
    let (s, _) = l.accept().expect("accept");
    (c, s)
}

/// A file in the temp dir holding `data`, removed when dropped.
pub struct TempFile {
    pub path: std::path::PathBuf,
}

impl TempFile {
    pub fn with(name: &str, data: &[u8]) -> TempFile {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let path = std::env::temp_dir().join(format!(
            "netpark-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, data).expect("write temp file");
        TempFile { path }
    }

    pub fn open(&self) -> std::fs::File {
        std::fs::File::open(&self.path).expect("open temp file")
    }

    pub fn create(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .write(true)
            .truncate(true)
            .open(&self.path)
            .expect("open temp file for writing")
    }

    pub fn read(&self) -> Vec<u8> {
        std::fs::read(&self.path).expect("read temp file")
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads `s` to its end on the calling task.
pub fn read_all(mut s: impl io::Read) -> Vec<u8> {
    let mut v = Vec::new();
    s.read_to_end(&mut v).expect("read to end");
    v
}

/// Three tasks writing 8 MiB each to one connection whose peer never
/// reads: once this returns, one is parked on the full socket and two on
/// its write lock. Returns the connection, the peer (keep it open) and the
/// writers.
pub fn blocked_and_queued_writers() -> (
    std::sync::Arc<netpark_net::TcpStream>,
    netpark_net::TcpStream,
    Vec<netpark_runtime::JoinHandle<io::Result<()>>>,
) {
    let (l, addr) = local_listener();
    let c = std::sync::Arc::new(netpark_net::TcpStream::connect(addr).unwrap());
    let (peer, _) = l.accept().unwrap();
    c.set_send_buffer_size(4096).unwrap();
    let writers = (0..3)
        .map(|_| {
            let c = c.clone();
            netpark_runtime::spawn(move || c.write_all(&vec![7u8; 8 << 20]))
        })
        .collect();
    let start = std::time::Instant::now();
    loop {
        let dump = netpark_runtime::dump();
        if dump.contains("waiting: write fd")
            && dump.matches("waiting: sync.Mutex.Lock").count() == 2
        {
            return (c, peer, writers);
        }
        assert!(start.elapsed() < Duration::from_secs(10), "{dump}");
        netpark_runtime::sleep(Duration::from_millis(5)).unwrap();
    }
}
