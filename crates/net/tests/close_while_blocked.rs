//! `close` from another task wakes every task blocked on the socket.

mod util;

use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_net::{is_closed, TcpStream};
use netpark_runtime as rt;
use util::{local_listener, open_fds, with_runtime};

#[test]
fn close_wakes_a_blocked_reader() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let _s = l.accept().unwrap();
        let c2 = c.clone();
        let reader = rt::spawn(move || {
            let mut buf = [0u8; 8];
            c2.read(&mut buf)
        });
        rt::sleep(Duration::from_millis(30)).unwrap();
        let t = Instant::now();
        c.close().unwrap();
        let e = reader.join().unwrap().unwrap_err();
        assert!(is_closed(&e), "{e}");
        assert_eq!(
            e.to_string(),
            format!(
                "read tcp {}->{addr}: use of closed network connection",
                c.local_addr().unwrap()
            )
        );
        assert!(t.elapsed() < Duration::from_secs(2));
        // Later calls get the same error, and a second close too.
        assert!(is_closed(&c.read(&mut [0u8; 1]).unwrap_err()));
        assert!(is_closed(&c.close().unwrap_err()));
    });
}

#[test]
fn close_wakes_a_blocked_writer() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let _s = l.accept().unwrap();
        c.set_send_buffer_size(4096).unwrap();
        let c2 = c.clone();
        let writer = rt::spawn(move || -> std::io::Result<()> {
            let chunk = vec![0u8; 65536];
            loop {
                c2.write_all(&chunk)?;
            }
        });
        rt::sleep(Duration::from_millis(50)).unwrap();
        assert!(rt::dump().contains("waiting: write fd"), "{}", rt::dump());
        c.close().unwrap();
        let e: std::io::Error = writer.join().unwrap().unwrap_err();
        assert!(is_closed(&e), "{e}");
        assert!(e.to_string().starts_with("write tcp "), "{e}");
    });
}

#[test]
fn close_wakes_a_blocked_acceptor() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let l = Arc::new(l);
        let l2 = l.clone();
        let acceptor = rt::spawn(move || l2.accept().map(|_| ()));
        rt::sleep(Duration::from_millis(30)).unwrap();
        l.close().unwrap();
        let e = acceptor.join().unwrap().unwrap_err();
        assert!(is_closed(&e));
        assert_eq!(
            e.to_string(),
            format!("accept tcp {addr}: use of closed network connection")
        );
    });
}

#[test]
fn close_from_a_plain_thread_wakes_a_task() {
    let rt_ = rt::Runtime::builder().workers(1).build().unwrap();
    let (l, addr) = local_listener();
    let c = Arc::new(TcpStream::connect(addr).unwrap());
    let _s = l.accept().unwrap();
    let c2 = c.clone();
    let reader = rt_.spawn(move || c2.read(&mut [0u8; 4]));
    std::thread::sleep(Duration::from_millis(30));
    c.close().unwrap();
    let e = util::within(util::LIMIT, move || reader.join().unwrap()).unwrap_err();
    assert!(is_closed(&e));
}

#[test]
fn the_fd_is_closed_only_after_the_last_blocked_operation_leaves() {
    with_runtime(2, || {
        let before = open_fds();
        let (l, addr) = local_listener();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let (s, _) = l.accept().unwrap();
        drop(l);
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                rt::spawn(move || c.read(&mut [0u8; 4]).map(|_| ()))
            })
            .collect();
        rt::sleep(Duration::from_millis(30)).unwrap();
        c.close().unwrap();
        for r in readers {
            assert!(is_closed(&r.join().unwrap().unwrap_err()));
        }
        drop(c);
        drop(s);
        assert!(open_fds() <= before, "no fd leaked");
    });
}

#[test]
fn a_thread_blocked_on_a_socket_survives_the_runtime_that_registered_it() {
    util::within(util::LIMIT, || {
        let (l, addr) = local_listener();
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        let s = Arc::new(s);
        let rt_ = rt::Runtime::builder().workers(1).build().unwrap();
        // A task waits once, so the fd lands in that worker's epoll.
        let s2 = s.clone();
        rt_.block_on(move || {
            s2.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)))
                .unwrap();
            assert!(netpark_net::is_timeout(
                &s2.read(&mut [0u8; 1]).unwrap_err()
            ));
            s2.set_read_deadline(None).unwrap();
        });
        // A plain thread now blocks on it, registered in that same epoll.
        let s3 = s.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4];
            s3.read(&mut buf).map(|n| buf[..n].to_vec())
        });
        std::thread::sleep(Duration::from_millis(30));
        drop(rt_);
        std::thread::sleep(Duration::from_millis(30));
        c.write_all(b"late").unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), b"late");
    });
}

/// Go's `FD.Close` waits for the blocked operations to leave (its `csema`),
/// so once `close` returns the socket is shut: a listening port refuses
/// the next connect at once, from a task's close and from a thread's.
#[test]
fn a_listener_closed_under_a_blocked_accept_is_shut_when_close_returns() {
    for from_thread in [false, true] {
        let rt_ = rt::Runtime::builder().workers(2).build().unwrap();
        let (l, addr) = local_listener();
        let l = Arc::new(l);
        let l2 = l.clone();
        let acceptor = rt_.spawn(move || l2.accept().map(|_| ()));
        std::thread::sleep(Duration::from_millis(30));
        if from_thread {
            l.close().unwrap();
        } else {
            let l3 = l.clone();
            rt_.block_on(move || l3.close()).unwrap();
        }
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "still listening after close returned (from a thread: {from_thread})"
        );
        let e = util::within(util::LIMIT, move || acceptor.join().unwrap()).unwrap_err();
        assert!(is_closed(&e));
    }
}
