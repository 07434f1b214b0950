//! With a logger at `trace` level, one blocking read can be watched going
//! round: register, park, wake. (Its own test binary: one logger per process.)

mod util;

use std::time::Duration;

use netpark_net::TcpStream;
use netpark_runtime as rt;

static LINES: parking_lot::Mutex<Vec<String>> = parking_lot::Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target() == "netpark"
    }
    fn log(&self, r: &log::Record<'_>) {
        if r.target() == "netpark" {
            LINES.lock().push(r.args().to_string());
        }
    }
    fn flush(&self) {}
}

#[test]
fn one_blocking_read_logs_register_park_wake_and_close() {
    log::set_logger(&Capture).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let fd = util::with_runtime(1, || {
        let (l, addr) = util::local_listener();
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&s);
        let writer = rt::spawn(move || {
            rt::sleep(Duration::from_millis(20)).unwrap();
            c.write_all(b"hi").unwrap();
            c
        });
        let mut buf = [0u8; 8];
        assert_eq!(s.read(&mut buf).unwrap(), 2);
        drop(writer.join().unwrap());
        drop(s);
        fd
    });
    let lines = LINES.lock().clone();
    let has = |p: &str| lines.iter().any(|l| l.contains(p));
    assert!(has(&format!("register fd {fd} ")), "{lines:#?}");
    assert!(
        has(&format!("on read fd {fd}")),
        "park line names the fd: {lines:#?}"
    );
    assert!(has("wake task"), "{lines:#?}");
    assert!(has(&format!("close fd {fd} ")), "{lines:#?}");
}
