//! TCP streams over real loopback traffic.

mod util;

use std::io::{self, Read};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use netpark_net::{os_error, Dialer, TcpListener, TcpStream};
use netpark_runtime as rt;
use util::{assert_nonblocking_cloexec, local_listener, with_runtime};

#[test]
fn accepted_and_dialed_sockets_are_nonblocking_cloexec_with_go_defaults() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        assert_nonblocking_cloexec(std::os::fd::AsRawFd::as_raw_fd(&l));
        let client = rt::spawn(move || TcpStream::connect(addr).unwrap());
        let (s, peer) = l.accept().unwrap();
        let c = client.join().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
        assert_eq!(s.peer_addr().unwrap(), c.local_addr().unwrap());
        for conn in [&s, &c] {
            assert_nonblocking_cloexec(std::os::fd::AsRawFd::as_raw_fd(conn));
            assert!(conn.nodelay().unwrap(), "TCP_NODELAY on, as Go");
            assert!(conn.keepalive().unwrap(), "keep-alive on, as Go");
        }
    });
}

#[test]
fn half_close_delivers_eof_and_the_other_direction_still_works() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let server = rt::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut got = Vec::new();
            (&s).read_to_end(&mut got).unwrap();
            s.write_all(&got).unwrap();
            got.len()
        });
        let c = TcpStream::connect(addr).unwrap();
        c.write_all(b"half-closed").unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        (&c).read_to_end(&mut back).unwrap();
        assert_eq!(back, b"half-closed");
        assert_eq!(server.join().unwrap(), 11);
    });
}

#[test]
fn peer_reset_during_read_is_connection_reset_with_go_text() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let server = rt::spawn(move || {
            let (s, _) = l.accept().unwrap();
            rt::sleep(Duration::from_millis(30)).unwrap();
            // SO_LINGER 0: close sends RST.
            s.set_linger(Some(Duration::ZERO)).unwrap();
            drop(s);
        });
        let c = TcpStream::connect(addr).unwrap();
        let mut buf = [0u8; 16];
        let e = c.read(&mut buf).unwrap_err();
        server.join().unwrap();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionReset);
        assert_eq!(os_error(&e), Some(libc::ECONNRESET));
        let want = format!(
            "read tcp {}->{}: connection reset by peer",
            c.local_addr().unwrap(),
            addr
        );
        assert_eq!(e.to_string(), want);
    });
}

#[test]
fn writing_to_a_reset_peer_returns_an_error_not_sigpipe() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let server = rt::spawn(move || {
            let (s, _) = l.accept().unwrap();
            // Reset only once the client is connected and has spoken.
            (&s).read_exact(&mut [0u8; 1]).unwrap();
            s.set_linger(Some(Duration::ZERO)).unwrap();
        });
        let c = TcpStream::connect(addr).unwrap();
        c.write_all(b"!").unwrap();
        server.join().unwrap();
        rt::sleep(Duration::from_millis(20)).unwrap();
        let chunk = vec![1u8; 64 * 1024];
        let mut err = None;
        for _ in 0..100 {
            if let Err(e) = c.write(&chunk) {
                err = Some(e);
                break;
            }
        }
        let e = err.expect("writes to a reset peer fail");
        assert!(
            matches!(os_error(&e), Some(libc::EPIPE) | Some(libc::ECONNRESET)),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with(&format!("write tcp {}->{addr}: ", c.local_addr().unwrap())),
            "{e}"
        );
    });
}

#[test]
fn connect_refused_reads_like_go() {
    with_runtime(1, || {
        // A port with no listener: bind one, note it, close it.
        let (l, addr) = local_listener();
        drop(l);
        let e = TcpStream::connect(addr).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::ConnectionRefused);
        assert_eq!(os_error(&e), Some(libc::ECONNREFUSED));
        assert_eq!(
            e.to_string(),
            format!("dial tcp {addr}: connect: connection refused")
        );
    });
}

#[test]
fn connect_to_a_full_backlog_times_out() {
    with_runtime(2, || {
        let l = netpark_net::ListenConfig::new()
            .backlog(0)
            .listen_tcp("tcp4", "127.0.0.1:0")
            .unwrap();
        let addr = l.local_addr().unwrap();
        // Fill the accept queue (backlog 0 still admits one) and never accept.
        let mut held = Vec::new();
        let mut timed_out = None;
        for _ in 0..16 {
            match Dialer::new()
                .timeout(Duration::from_millis(200))
                .dial("tcp", &addr.to_string())
            {
                Ok(c) => held.push(c),
                Err(e) => {
                    timed_out = Some(e);
                    break;
                }
            }
        }
        let e = timed_out.expect("a dial to a full backlog times out");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(e.to_string(), format!("dial tcp {addr}: i/o timeout"));
        assert!(netpark_net::is_timeout(&e));
        drop(l);
    });
}

#[test]
fn connect_timeout_succeeds_against_a_listener() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
        let (s, _) = l.accept().unwrap();
        c.write_all(b"x").unwrap();
        let mut b = [0u8; 1];
        (&s).read_exact(&mut b).unwrap();
        assert_eq!(&b, b"x");
    });
}

#[test]
fn one_task_reads_while_another_writes_the_same_connection() {
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let server = rt::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut buf = vec![0u8; 4096];
            loop {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                s.write_all(&buf[..n]).unwrap();
            }
        });
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        const TOTAL: usize = 4 << 20;
        let writer = {
            let c = c.clone();
            rt::spawn(move || {
                let chunk: Vec<u8> = (0..8192).map(|i| (i % 251) as u8).collect();
                let mut sent = 0;
                while sent < TOTAL {
                    c.write_all(&chunk).unwrap();
                    sent += chunk.len();
                }
                c.shutdown(Shutdown::Write).unwrap();
            })
        };
        let mut got = 0usize;
        let mut buf = vec![0u8; 65536];
        loop {
            let n = c.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            for (i, b) in buf[..n].iter().enumerate() {
                assert_eq!(
                    *b,
                    (((got + i) % 8192) % 251) as u8,
                    "byte {} corrupted",
                    got + i
                );
            }
            got += n;
        }
        writer.join().unwrap();
        server.join().unwrap();
        assert_eq!(got, TOTAL);
    });
}

#[test]
fn works_from_a_plain_thread_with_no_runtime() {
    util::within(util::LIMIT, || {
        let (l, addr) = local_listener();
        let t = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut buf = [0u8; 5];
            (&s).read_exact(&mut buf).unwrap();
            s.write_all(&buf).unwrap();
        });
        let c = TcpStream::connect(addr).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        c.write_all(b"plain").unwrap();
        let mut buf = [0u8; 5];
        (&c).read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"plain");
        t.join().unwrap();
    });
}

#[test]
fn try_clone_and_std_conversions_keep_the_connection() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        let c2 = c.try_clone().unwrap();
        c.close().unwrap();
        c2.write_all(b"clone").unwrap();
        let mut std_s = s.into_std().unwrap();
        let mut buf = [0u8; 5];
        std_s.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"clone");
        let back = TcpStream::from_std(std_s).unwrap();
        back.write_all(b"!").unwrap();
        let mut one = [0u8; 1];
        (&c2).read_exact(&mut one).unwrap();
        assert_eq!(&one, b"!");
        let std_l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let nl = TcpListener::try_from(std_l).unwrap();
        assert!(nl.local_addr().unwrap().port() > 0);
    });
}

#[test]
fn peek_returns_data_without_consuming_it() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        c.write_all(b"peekaboo").unwrap();
        let mut buf = [0u8; 4];
        assert_eq!(s.peek(&mut buf).unwrap(), 4);
        let mut all = [0u8; 8];
        (&s).read_exact(&mut all).unwrap();
        assert_eq!(&all, b"peekaboo");
    });
}

#[test]
fn socket_options_round_trip() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = TcpStream::connect(addr).unwrap();
        let _s = l.accept().unwrap();
        c.set_nodelay(false).unwrap();
        assert!(!c.nodelay().unwrap());
        c.set_ttl(42).unwrap();
        assert_eq!(c.ttl().unwrap(), 42);
        c.set_linger(Some(Duration::from_secs(3))).unwrap();
        assert_eq!(c.linger().unwrap(), Some(Duration::from_secs(3)));
        c.set_keepalive(None).unwrap();
        assert!(!c.keepalive().unwrap());
        c.set_recv_buffer_size(1 << 16).unwrap();
        assert!(c.recv_buffer_size().unwrap() >= 1 << 16);
        c.set_send_buffer_size(1 << 16).unwrap();
        assert!(c.send_buffer_size().unwrap() >= 1 << 16);
        assert!(c.take_error().unwrap().is_none());
    });
}

#[test]
fn vectored_io_moves_every_slice() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = TcpStream::connect(addr).unwrap();
        let (s, _) = l.accept().unwrap();
        let n = c
            .write_vectored(&[io::IoSlice::new(b"ab"), io::IoSlice::new(b"cde")])
            .unwrap();
        assert_eq!(n, 5);
        let (mut a, mut b) = ([0u8; 2], [0u8; 3]);
        // One 5-byte segment on loopback arrives whole.
        let mut bufs = [io::IoSliceMut::new(&mut a), io::IoSliceMut::new(&mut b)];
        assert_eq!(s.read_vectored(&mut bufs).unwrap(), 5);
        assert_eq!((&a, &b), (b"ab", b"cde"));
    });
}

#[test]
fn dialing_a_host_name_from_a_task_resolves_it_off_the_worker() {
    // One worker: the name lookup runs on a helper thread while the dialing
    // task parks, and the accepting task on the same worker still runs.
    with_runtime(1, || {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let acceptor = rt::spawn(move || l.accept().map(|(_, peer)| peer));
        let c = TcpStream::connect(format!("localhost:{port}").as_str()).unwrap();
        let peer = acceptor.join().unwrap().unwrap();
        assert_eq!(peer, c.local_addr().unwrap());
    });
}
