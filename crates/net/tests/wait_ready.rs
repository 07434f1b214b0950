//! `wait_readable` / `wait_writable`: park without a buffer, see bytes that
//! came before the call, honour deadlines, close and cancel.

mod util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_net::{is_closed, is_timeout};
use netpark_runtime as rt;
use util::{tcp_pair, with_runtime};

#[test]
fn wait_readable_parks_until_bytes_come_then_a_read_gets_them() {
    with_runtime(2, || {
        let (a, b) = tcp_pair();
        let waiter = rt::spawn(move || {
            b.wait_readable().unwrap();
            let mut buf = [0u8; 16];
            let n = b.read(&mut buf).unwrap();
            // A short read, then wait again: the next bytes are seen.
            b.wait_readable().unwrap();
            let m = b.read(&mut buf[n..]).unwrap();
            buf[..n + m].to_vec()
        });
        rt::sleep(Duration::from_millis(20)).unwrap();
        assert!(rt::dump().contains("waiting: read fd"), "{}", rt::dump());
        a.write_all(b"hello").unwrap();
        rt::sleep(Duration::from_millis(20)).unwrap();
        a.write_all(b" world").unwrap();
        assert_eq!(waiter.join().unwrap(), b"hello world");
    });
}

#[test]
fn bytes_that_came_before_the_call_are_seen_at_once() {
    with_runtime(1, || {
        let (a, b) = tcp_pair();
        a.write_all(b"x").unwrap();
        rt::sleep(Duration::from_millis(10)).unwrap();
        let mut buf = [0u8; 1];
        // Drain the edge with a read, write more, and wait: no new edge is
        // needed to see what is already queued.
        b.read(&mut buf).unwrap();
        a.write_all(b"yz").unwrap();
        rt::sleep(Duration::from_millis(10)).unwrap();
        let start = Instant::now();
        b.wait_readable().unwrap();
        b.wait_readable().unwrap(); // still readable: returns at once again
        assert!(start.elapsed() < Duration::from_millis(100));
        let mut two = [0u8; 2];
        assert_eq!(b.read(&mut two).unwrap(), 2);
        // End of stream counts as readable too.
        drop(a);
        b.wait_readable().unwrap();
        assert_eq!(b.read(&mut two).unwrap(), 0);
    });
}

#[test]
fn wait_readable_honours_deadlines_close_and_cancel() {
    with_runtime(2, || {
        let (_a, b) = tcp_pair();
        b.set_read_deadline(Some(Instant::now() + Duration::from_millis(50)))
            .unwrap();
        let e = b.wait_readable().unwrap_err();
        assert!(is_timeout(&e), "{e}");
        b.set_read_deadline(None).unwrap();

        let b = Arc::new(b);
        let b2 = b.clone();
        let waiter = rt::spawn(move || b2.wait_readable());
        rt::sleep(Duration::from_millis(20)).unwrap();
        b.close().unwrap();
        assert!(is_closed(&waiter.join().unwrap().unwrap_err()));

        let (_c, d) = tcp_pair();
        let waiter = rt::spawn(move || d.wait_readable());
        rt::sleep(Duration::from_millis(20)).unwrap();
        waiter.cancel();
        assert!(netpark_net::is_cancelled(
            &waiter.join().unwrap().unwrap_err()
        ));
    });
}

#[test]
fn wait_writable_returns_at_once_on_an_empty_send_buffer_and_waits_on_a_full_one() {
    with_runtime(2, || {
        let (a, b) = tcp_pair();
        a.wait_writable().unwrap();
        a.set_send_buffer_size(4096).unwrap();
        let chunk = vec![0u8; 65536];
        // Fill it: writes with a deadline stop once nothing more fits.
        a.set_write_deadline(Some(Instant::now() + Duration::from_millis(100)))
            .unwrap();
        while a.write(&chunk).is_ok() {}
        let e = a.wait_writable().unwrap_err();
        assert!(is_timeout(&e), "{e}");
        a.set_write_deadline(None).unwrap();
        let a = Arc::new(a);
        let a2 = a.clone();
        let waiter = rt::spawn(move || a2.wait_writable());
        rt::sleep(Duration::from_millis(20)).unwrap();
        // The peer reads: room comes back.
        let mut buf = vec![0u8; 1 << 20];
        let _ = b.read(&mut buf).unwrap();
        let _ = b.read(&mut buf);
        waiter.join().unwrap().unwrap();
    });
}

#[test]
fn after_a_try_read_drains_the_socket_wait_readable_waits_for_the_next_bytes() {
    with_runtime(2, || {
        let (a, b) = tcp_pair();
        let mut buf = [0u8; 16];
        let e = b.try_read(&mut buf).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::WouldBlock);
        a.write_all(b"abc").unwrap();
        // Seen at once: an edge came after the drained read.
        b.wait_readable().unwrap();
        assert_eq!(b.try_read(&mut buf).unwrap(), 3); // short: drained again
        let writer = rt::spawn(move || {
            rt::sleep(Duration::from_millis(30)).unwrap();
            a.write_all(b"defg").unwrap();
            a
        });
        let start = Instant::now();
        b.wait_readable().unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(20),
            "waited for the next bytes"
        );
        assert_eq!(b.try_read(&mut buf).unwrap(), 4);
        let a = writer.join().unwrap();
        drop(a);
        // End of stream after a drained read is readable too.
        b.wait_readable().unwrap();
        assert_eq!(b.try_read(&mut buf).unwrap(), 0);
    });
}
