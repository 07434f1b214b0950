//! UDP sockets on the same poll cache.

mod util;

use netpark_net::UdpSocket;
use netpark_runtime as rt;
use util::with_runtime;

#[test]
fn datagrams_round_trip_between_tasks() {
    with_runtime(2, || {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let saddr = server.local_addr().unwrap();
        let echo = rt::spawn(move || {
            let mut buf = [0u8; 64];
            for _ in 0..3 {
                let (n, from) = server.recv_from(&mut buf).unwrap();
                server.send_to(&buf[..n], from).unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.connect(saddr).unwrap();
        assert_eq!(client.peer_addr().unwrap(), saddr);
        for msg in [&b"one"[..], b"two", b"three"] {
            client.send(msg).unwrap();
            let mut buf = [0u8; 64];
            let n = client.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], msg);
        }
        echo.join().unwrap();
    });
}

#[test]
fn go_style_listen_on_udp4_binds_ipv4() {
    with_runtime(1, || {
        let u = UdpSocket::listen("udp4", "127.0.0.1:0").unwrap();
        assert!(u.local_addr().unwrap().is_ipv4());
        let e = UdpSocket::listen("udp9", ":0").unwrap_err();
        assert_eq!(e.to_string(), "listen udp9: unknown network udp9");
    });
}

#[test]
fn dial_udp_is_a_conn_to_one_peer_each_write_one_datagram() {
    use netpark_net::{dial, Addr, Conn};
    with_runtime(2, || {
        let server = UdpSocket::listen("udp", "127.0.0.1:0").unwrap();
        let at = server.local_addr().unwrap();
        let c = dial("udp", &at.to_string()).unwrap();
        assert!(matches!(c, Conn::Udp(_)));
        assert_eq!(c.remote_addr(), Addr::Inet(at));
        let Addr::Inet(me) = c.local_addr() else {
            panic!("a udp conn has an inet address")
        };
        assert!(me.ip().is_loopback() && me.port() != 0, "{me}");
        c.write_all(b"ping").unwrap();
        c.write(b"two").unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = server.recv_from(&mut buf).unwrap();
        assert_eq!((&buf[..n], from), (&b"ping"[..], me));
        let (n, _) = server.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"two", "each write is its own datagram");
        // Replies come back through the Conn, one datagram a read, also
        // to a clone of it.
        server.send_to(b"pong", me).unwrap();
        assert_eq!(c.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"pong");
        let c2 = c.try_clone().unwrap();
        server.send_to(b"again", me).unwrap();
        assert_eq!(c2.read(&mut buf).unwrap(), 5);
        // A datagram from anyone else is not read by it.
        let other = UdpSocket::bind("127.0.0.1:0").unwrap();
        other.send_to(b"stranger", me).unwrap();
        server.send_to(b"peer", me).unwrap();
        assert_eq!(c.read(&mut buf).unwrap(), 4);
        assert_eq!(&buf[..4], b"peer");
        // Deadlines work as on a stream; there is no CloseWrite.
        c.set_read_deadline(Some(std::time::Instant::now()))
            .unwrap();
        assert!(netpark_net::is_timeout(&c.read(&mut buf).unwrap_err()));
        let e = c.shutdown(std::net::Shutdown::Write).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::Unsupported, "{e}");
        c.close().unwrap();
        assert!(netpark_net::is_closed(&c.write(b"x").unwrap_err()));
        // An empty host is this machine, as in Go; bad input reads like Go.
        let port = at.port();
        let local = dial("udp4", &format!(":{port}")).unwrap();
        assert_eq!(local.remote_addr(), Addr::Inet(at));
        for (addr, want) in [
            ("", "dial udp: missing address"),
            (
                "127.0.0.1",
                "dial udp: address 127.0.0.1: missing port in address",
            ),
        ] {
            let e = dial("udp", addr).unwrap_err();
            assert_eq!(e.to_string(), want);
        }
        let e = dial("udp9", "127.0.0.1:1").unwrap_err();
        assert_eq!(e.to_string(), "dial udp9: unknown network udp9");
    });
}
