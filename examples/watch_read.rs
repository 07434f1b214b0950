//! Watch one blocking read go round: the trace lines of the runtime, from the
//! read that hits EAGAIN to the park, the epoll event, the wake and the retry.
//!
//! `cargo run --example watch_read`
//!
//! Each line is one step of the path described in ARCHITECTURE.md ("The path
//! of one read()"); `stats()` at the end counts the same steps.

use std::time::{Duration, Instant};

use netpark::net::{TcpListener, TcpStream};

/// Prints every `netpark` log line with the time since start and the thread.
struct Printer(Instant);

impl log::Log for Printer {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target() == "netpark"
    }
    fn log(&self, r: &log::Record<'_>) {
        if self.enabled(r.metadata()) {
            let t = std::thread::current();
            eprintln!(
                "{:>8.3} ms  {:<18} {}",
                self.0.elapsed().as_secs_f64() * 1e3,
                t.name().unwrap_or("?"),
                r.args()
            );
        }
    }
    fn flush(&self) {}
}

fn main() {
    let printer: &'static Printer = Box::leak(Box::new(Printer(Instant::now())));
    log::set_logger(printer).expect("no other logger");
    let rt = netpark::Runtime::builder()
        .workers(1)
        .name("watch")
        .build()
        .expect("runtime");
    rt.block_on(|| {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        let writer = netpark::spawn(move || {
            netpark::sleep(Duration::from_millis(5)).unwrap();
            eprintln!("--- writer task: sending 5 bytes");
            client.write_all(b"hello").unwrap();
            client
        });
        eprintln!(
            "--- main task: read() on fd {} (no data yet)",
            std::os::fd::AsRawFd::as_raw_fd(&server)
        );
        log::set_max_level(log::LevelFilter::Trace);
        let mut buf = [0u8; 16];
        let n = server.read(&mut buf).unwrap();
        log::set_max_level(log::LevelFilter::Off);
        eprintln!(
            "--- main task: read returned {n} bytes: {:?}",
            String::from_utf8_lossy(&buf[..n])
        );
        drop(writer.join().unwrap());
    });
    let s = netpark::stats();
    eprintln!(
        "--- stats: {} tasks spawned, {} parks, {} wakes, {} switches, {} epoll waits, {} fd events, {} timers",
        s.tasks_spawned, s.parks, s.wakes, s.switches, s.epoll_waits, s.events, s.timers_fired
    );
}
