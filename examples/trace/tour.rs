//! The guided tour: the seeds' client/server exchange (listen, accept, dial,
//! write "hello world! N", read, echo, close) with the runtime's trace
//! lines collected and each one named with Go's function beside ours.
//!
//! Shared by `examples/trace` and `tests/trace_tour.rs`.

use std::sync::Mutex;
use std::time::Instant;

use netpark::net::{self, TcpListener};

/// Go's names for the runtime's trace lines, by the line's first words.
/// ARCHITECTURE.md ("The path of one read()") walks the same steps.
pub const GO_NAMES: &[(&str, &str)] = &[
    (
        "poller ",
        "netpollinit (epoll_create1, and netpollBreak's eventfd) / pollServerInit",
    ),
    ("open fd", "pollOpen (a pollDesc from pollcache)"),
    ("register fd", "netpollopen (epoll_ctl ADD, edge-triggered)"),
    ("spawn task", "newproc (the go statement)"),
    (
        "wait Read",
        "pollDesc.waitRead -> runtime_pollWait -> netpollblock",
    ),
    (
        "wait Write",
        "pollDesc.waitWrite -> runtime_pollWait -> netpollblock",
    ),
    ("park task", "gopark (on an fd: gopark(netpollblockcommit))"),
    ("epoll event", "netpoll (epoll_wait) -> netpollready"),
    (
        "wake task",
        "goready (on an fd: netpollunblock, then goready)",
    ),
    ("task ", "goexit"),
    (
        "evict fd",
        "fdMutex close: increfAndClose -> pollUnblock (waiters get ErrNetClosing)",
    ),
    (
        "close fd",
        "FD.destroy -> pollClose (netpollclose: epoll_ctl DEL) -> close(2)",
    ),
    (
        "copy:",
        "io.Copy -> ReaderFrom (splice / sendFile) or copyBuffer",
    ),
];

/// One collected line: who logged it and what.
#[derive(Debug, Clone)]
pub struct Line {
    /// Microseconds since the tour started.
    pub at_us: u128,
    /// The thread (a worker's name, or `main`).
    pub thread: String,
    /// `netpark` for the runtime's lines, `tour` for the program's own.
    pub target: String,
    /// The text.
    pub text: String,
}

struct Collector {
    start: Instant,
    lines: Mutex<Vec<Line>>,
}

impl log::Log for Collector {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target() == "netpark" || m.target() == "tour"
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let t = std::thread::current();
            // The time is read under the lock, so lines are in time order.
            let mut lines = self.lines.lock().unwrap();
            lines.push(Line {
                at_us: self.start.elapsed().as_micros(),
                thread: t.name().unwrap_or("?").to_string(),
                target: r.target().to_string(),
                text: r.args().to_string(),
            });
        }
    }
    fn flush(&self) {}
}

/// Go's name for one of the runtime's lines.
pub fn go_name(text: &str) -> Option<&'static str> {
    GO_NAMES
        .iter()
        .find(|(prefix, _)| text.starts_with(prefix))
        .map(|&(_, go)| go)
}

/// Runs the exchange with every trace line collected; returns them.
pub fn run() -> Vec<Line> {
    let collector: &'static Collector = Box::leak(Box::new(Collector {
        start: Instant::now(),
        lines: Mutex::new(Vec::new()),
    }));
    log::set_logger(collector).expect("the tour's logger is the only one");
    log::set_max_level(log::LevelFilter::Trace);
    netpark::Runtime::builder()
        .workers(1)
        .name("tour")
        .build()
        .expect("runtime starts")
        .block_on(|| {
            log::info!(target: "tour", "server: net.Listen(\"tcp\", \"127.0.0.1:0\")");
            let ln = TcpListener::bind("127.0.0.1:0").expect("listen");
            let addr = ln.local_addr().unwrap();
            let server = netpark::spawn(move || {
                log::info!(target: "tour", "server: ln.Accept() (parks until a client dials)");
                let (conn, peer) = ln.accept().expect("accept");
                log::info!(target: "tour", "server: accepted {peer}");
                let mut buf = [0u8; 64];
                loop {
                    log::info!(target: "tour", "server: conn.Read() (parks: nothing has arrived)");
                    let n = conn.read(&mut buf).expect("server read");
                    if n == 0 {
                        log::info!(target: "tour", "server: read EOF, conn.Close()");
                        conn.close().expect("close");
                        return;
                    }
                    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
                    log::info!(target: "tour", "server: read {msg:?}, echo it back");
                    conn.write_all(&buf[..n]).expect("echo");
                }
            });
            log::info!(target: "tour", "client: net.Dial(\"tcp\", \"{addr}\")");
            let conn = net::dial("tcp", &addr.to_string()).expect("dial");
            for n in 1..=2 {
                let msg = format!("hello world! {n}");
                log::info!(target: "tour", "client: conn.Write({msg:?})");
                conn.write_all(msg.as_bytes()).expect("write");
                log::info!(target: "tour", "client: conn.Read() for the echo");
                let mut buf = [0u8; 64];
                let got = conn.read(&mut buf).expect("client read");
                log::info!(
                    target: "tour",
                    "client: read {:?}",
                    String::from_utf8_lossy(&buf[..got])
                );
            }
            log::info!(target: "tour", "client: conn.Close()");
            conn.close().expect("close");
            server.join().expect("server task");
        });
    log::set_max_level(log::LevelFilter::Off);
    let lines = collector.lines.lock().unwrap().clone();
    lines
}
