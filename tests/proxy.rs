//! examples/proxy against real clients: many connections with checksums
//! both ways, the half-close carried, an upstream that refuses or
//! vanishes, and the idle timeout.

mod util;

#[path = "../examples/proxy/relay.rs"]
mod relay;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Runs `f(listener)` as the root task of a one-worker runtime on a
/// background thread; returns the listener's address.
fn background(f: impl FnOnce(netpark::net::TcpListener) + Send + 'static) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        netpark::Runtime::builder()
            .workers(1)
            .build()
            .unwrap()
            .block_on(move || {
                let ln = netpark::net::TcpListener::bind("127.0.0.1:0").unwrap();
                tx.send(ln.local_addr().unwrap()).unwrap();
                f(ln)
            })
    });
    rx.recv().unwrap()
}

/// An upstream that echoes each connection until its client half-closes,
/// then closes.
fn echo_upstream() -> SocketAddr {
    background(|ln| loop {
        let Ok((c, _)) = ln.accept() else { return };
        netpark::spawn(move || {
            let _ = netpark::io::copy(&mut &c, &mut &c);
            let _ = c.shutdown(Shutdown::Write);
        });
    })
}

fn proxy_to(upstream: String, idle: Option<Duration>) -> SocketAddr {
    let cfg = Arc::new(relay::Config {
        upstream,
        idle,
        dial_timeout: Duration::from_secs(5),
    });
    background(move |ln| {
        let _ = relay::serve(ln, cfg);
    })
}

use util::pattern;

#[test]
fn two_hundred_connections_round_trip_exactly_with_the_half_close_carried() {
    util::raise_fd_limit();
    let proxy = proxy_to(echo_upstream().to_string(), None);
    let clients: Vec<_> = (0..200u64)
        .map(|i| {
            std::thread::spawn(move || {
                let data = pattern(64 * 1024 + i as usize, i);
                let mut s = TcpStream::connect(proxy).unwrap();
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let writer = {
                    let mut s = s.try_clone().unwrap();
                    let data = data.clone();
                    std::thread::spawn(move || {
                        s.write_all(&data).unwrap();
                        // The echo upstream stops only when this arrives.
                        s.shutdown(Shutdown::Write).unwrap();
                    })
                };
                let mut back = Vec::new();
                s.read_to_end(&mut back).unwrap();
                writer.join().unwrap();
                assert!(back == data, "connection {i}: {} bytes back", back.len());
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
}

#[test]
fn an_upstream_that_refuses_closes_the_client_promptly() {
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    }; // dropped: nothing listens there now
    let proxy = proxy_to(refused.to_string(), None);
    let start = Instant::now();
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn an_upstream_that_vanishes_closes_the_client() {
    let upstream = background(|ln| loop {
        let Ok((c, _)) = ln.accept() else { return };
        let mut buf = [0u8; 10];
        let _ = (&c).read_exact(&mut buf);
        let _ = c.set_linger(Some(Duration::ZERO));
        drop(c); // a reset
    });
    let proxy = proxy_to(upstream.to_string(), None);
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&[1u8; 10]).unwrap();
    let start = Instant::now();
    let mut buf = [0u8; 16];
    let n = s.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0);
    assert!(start.elapsed() < Duration::from_secs(3));
}

#[test]
fn an_idle_connection_is_closed_and_a_busy_one_is_not() {
    let proxy = proxy_to(
        echo_upstream().to_string(),
        Some(Duration::from_millis(300)),
    );
    // Idle: closed after about the timeout.
    let start = Instant::now();
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let n = s.read(&mut [0u8; 4]).unwrap_or(0);
    let took = start.elapsed();
    assert_eq!(n, 0);
    assert!(took >= Duration::from_millis(250), "{took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    // Busy for a second in small steps, each within the timeout: kept.
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    for i in 0..10u8 {
        s.write_all(&[i; 100]).unwrap();
        let mut back = [0u8; 100];
        s.read_exact(&mut back).unwrap();
        assert_eq!(back, [i; 100]);
        std::thread::sleep(Duration::from_millis(100));
    }
}
