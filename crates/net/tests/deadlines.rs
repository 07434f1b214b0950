//! Deadlines (Go semantics) and timeouts (std semantics) on every operation.

mod util;

use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_net::{is_timeout, Dialer, TcpStream, UdpSocket};
use netpark_runtime as rt;
use util::{local_listener, with_runtime};

#[test]
fn read_deadline_expires_with_i_o_timeout_and_the_conn_stays_usable() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        c.set_read_deadline(Some(Instant::now() + Duration::from_millis(40)))
            .unwrap();
        let t = Instant::now();
        let e = c.read(&mut [0u8; 4]).unwrap_err();
        assert!(t.elapsed() >= Duration::from_millis(40));
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert!(is_timeout(&e));
        assert!(e.to_string().ends_with(": i/o timeout"), "{e}");
        // Still expired: fails at once until moved.
        assert!(is_timeout(&c.read(&mut [0u8; 4]).unwrap_err()));
        c.set_read_deadline(None).unwrap();
        s.write_all(b"ok").unwrap();
        let mut b = [0u8; 2];
        (&c).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"ok");
    });
}

#[test]
fn a_deadline_extended_by_another_task_while_blocked_is_honoured() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let _s = l.accept().unwrap();
        c.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)))
            .unwrap();
        let c2 = c.clone();
        let t = Instant::now();
        let reader = rt::spawn(move || c2.read(&mut [0u8; 4]));
        rt::sleep(Duration::from_millis(10)).unwrap();
        c.set_read_deadline(Some(Instant::now() + Duration::from_millis(150)))
            .unwrap();
        assert!(is_timeout(&reader.join().unwrap().unwrap_err()));
        assert!(
            t.elapsed() >= Duration::from_millis(150),
            "{:?}",
            t.elapsed()
        );
    });
}

#[test]
fn write_deadline_stops_a_blocked_writer() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = TcpStream::connect(addr).unwrap();
        let _s = l.accept().unwrap();
        c.set_write_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        let chunk = vec![0u8; 1 << 16];
        let e = loop {
            if let Err(e) = c.write(&chunk) {
                break e;
            }
        };
        assert!(is_timeout(&e), "{e}");
        assert!(e.to_string().starts_with("write tcp "), "{e}");
    });
}

#[test]
fn accept_deadline_expires() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        l.set_deadline(Some(Instant::now() + Duration::from_millis(30)))
            .unwrap();
        let e = l.accept().unwrap_err();
        assert!(is_timeout(&e));
        assert_eq!(e.to_string(), format!("accept tcp {addr}: i/o timeout"));
    });
}

#[test]
fn dial_deadline_in_the_past_fails_at_once() {
    with_runtime(1, || {
        let (_l, addr) = local_listener();
        let e = Dialer::new()
            .deadline(Instant::now() - Duration::from_secs(1))
            .dial("tcp", &addr.to_string())
            .unwrap_err();
        assert!(is_timeout(&e), "{e}");
    });
}

#[test]
fn std_read_timeout_applies_to_each_read() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let mut c = TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        assert!(
            c.set_read_timeout(Some(Duration::ZERO)).is_err(),
            "zero is rejected, as std"
        );
        c.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        assert_eq!(c.read_timeout().unwrap(), Some(Duration::from_millis(30)));
        for _ in 0..2 {
            let t = Instant::now();
            assert!(is_timeout(&c.read(&mut [0u8; 1]).unwrap_err()));
            assert!(t.elapsed() >= Duration::from_millis(30));
        }
        s.write_all(b"y").unwrap();
        let mut b = [0u8; 1];
        c.read_exact(&mut b).unwrap();
        c.set_read_timeout(None).unwrap();
    });
}

#[test]
fn udp_read_deadline_expires() {
    with_runtime(1, || {
        let u = UdpSocket::bind("127.0.0.1:0").unwrap();
        u.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)))
            .unwrap();
        let e = u.recv_from(&mut [0u8; 8]).unwrap_err();
        assert!(is_timeout(&e));
        assert!(e.to_string().starts_with("read udp 127.0.0.1:"), "{e}");
    });
}

#[test]
fn a_duration_max_timeout_means_no_timeout_and_never_panics() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = Dialer::new()
            .timeout(Duration::MAX)
            .dial("tcp", &addr.to_string())
            .unwrap();
        let (s, _) = l.accept().unwrap();
        s.set_read_timeout(Some(Duration::MAX)).unwrap();
        s.set_write_timeout(Some(Duration::MAX)).unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        assert_eq!(s.read(&mut b).unwrap(), 1);
        s.write_all(b"y").unwrap();
    });
}
