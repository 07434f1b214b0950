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
