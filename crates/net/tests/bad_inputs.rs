//! Bad input gets a clear, Go-shaped error: never a panic or a hang.

mod util;

use std::io;

use netpark_net::{dial, listen};
use util::with_runtime;

#[test]
fn a_table_of_bad_addresses_each_gives_a_clear_error() {
    with_runtime(1, || {
        let cases: &[(&str, &str, io::ErrorKind, &str)] = &[
            (
                "tcp",
                "256.1.1.1:80",
                io::ErrorKind::NotFound,
                "dial tcp: lookup 256.1.1.1: no such host",
            ),
            (
                "tcp",
                "localhost:99999",
                io::ErrorKind::InvalidInput,
                "dial tcp: address 99999: invalid port",
            ),
            (
                "tcp9",
                "127.0.0.1:80",
                io::ErrorKind::InvalidInput,
                "dial tcp9: unknown network tcp9",
            ),
            (
                "tcp",
                "",
                io::ErrorKind::InvalidInput,
                "dial tcp: missing address",
            ),
            (
                "tcp",
                "localhost",
                io::ErrorKind::InvalidInput,
                "dial tcp: address localhost: missing port in address",
            ),
            (
                "tcp",
                "::1:80",
                io::ErrorKind::InvalidInput,
                "dial tcp: address ::1:80: too many colons in address",
            ),
            (
                "tcp",
                "[::1:80",
                io::ErrorKind::InvalidInput,
                "dial tcp: address [::1:80: missing ']' in address",
            ),
            (
                "tcp",
                "127.0.0.1:http-ish",
                io::ErrorKind::InvalidInput,
                "dial tcp: address http-ish: unknown port",
            ),
            (
                "tcp4",
                "[::1]:80",
                io::ErrorKind::InvalidInput,
                "dial tcp4: address ::1: no suitable address found",
            ),
            (
                "ip4",
                "127.0.0.1:80",
                io::ErrorKind::InvalidInput,
                "dial ip4: unknown network ip4",
            ),
            (
                "udp6",
                "127.0.0.1:53",
                io::ErrorKind::InvalidInput,
                "dial udp6: address 127.0.0.1: no suitable address found",
            ),
        ];
        for (net, addr, kind, text) in cases {
            let e = dial(net, addr).unwrap_err();
            assert_eq!(e.kind(), *kind, "{net} {addr:?}: {e}");
            assert_eq!(e.to_string(), *text, "{net} {addr:?}");
        }
        let e = listen("tcp9", ":0").unwrap_err();
        assert_eq!(e.to_string(), "listen tcp9: unknown network tcp9");
        let e = listen("tcp", "localhost:99999").unwrap_err();
        assert_eq!(e.to_string(), "listen tcp: address 99999: invalid port");
        let e = listen("tcp", "").unwrap_err();
        assert_eq!(e.to_string(), "listen tcp: missing address");
    });
}

#[test]
fn listening_on_a_busy_port_is_address_in_use() {
    with_runtime(1, || {
        let a = netpark_net::listen_tcp("tcp4", "127.0.0.1:0").unwrap();
        let addr = a.local_addr().unwrap();
        let cfg = netpark_net::ListenConfig::new().reuse_addr(false);
        let e = cfg.listen_tcp("tcp4", &addr.to_string()).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::AddrInUse);
        assert_eq!(netpark_net::os_error(&e), Some(libc::EADDRINUSE));
        assert_eq!(
            e.to_string(),
            format!("listen tcp4 {addr}: bind: address already in use")
        );
    });
}

#[test]
fn a_unix_path_that_is_too_long_is_rejected() {
    let long = format!("/tmp/{}", "x".repeat(200));
    let e = netpark_net::UnixListener::bind(&long).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
    assert!(e.to_string().contains("too long"), "{e}");
}

#[test]
fn the_control_callback_runs_before_bind_and_can_refuse() {
    with_runtime(1, || {
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(-1));
        let s2 = seen.clone();
        let l = netpark_net::ListenConfig::new()
            .control(move |fd| {
                s2.store(fd, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            })
            .listen_tcp("tcp", "127.0.0.1:0")
            .unwrap();
        assert_eq!(
            seen.load(std::sync::atomic::Ordering::SeqCst),
            std::os::fd::AsRawFd::as_raw_fd(&l)
        );
        let e = netpark_net::ListenConfig::new()
            .control(|_| {
                Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "refused by control",
                ))
            })
            .listen_tcp("tcp", "127.0.0.1:0")
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied);
        assert!(e.to_string().ends_with("refused by control"), "{e}");
    });
}

#[test]
fn split_join_and_lookup_follow_go() {
    use netpark_net::{join_host_port, lookup_ip, split_host_port};
    assert_eq!(split_host_port("[::1]:80").unwrap(), ("::1", "80"));
    assert_eq!(split_host_port(":8080").unwrap(), ("", "8080"));
    assert_eq!(
        split_host_port("example.com:443").unwrap(),
        ("example.com", "443")
    );
    for (bad, why) in [
        ("::1:80", "address ::1:80: too many colons in address"),
        (
            "example.com",
            "address example.com: missing port in address",
        ),
        ("[::1", "address [::1: missing ']' in address"),
    ] {
        let e = split_host_port(bad).unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (io::ErrorKind::InvalidInput, why.to_string())
        );
    }
    for (host, port) in [("::1", "80"), ("10.0.0.1", "1"), ("example.com", "443")] {
        let joined = join_host_port(host, port);
        assert_eq!(split_host_port(&joined).unwrap(), (host, port), "{joined}");
    }
    // Lookups: literals as they are, names on a helper thread inside a task.
    let ips = with_runtime(1, || {
        assert_eq!(
            lookup_ip("::1").unwrap(),
            vec!["::1".parse::<std::net::IpAddr>().unwrap()]
        );
        lookup_ip("localhost").unwrap()
    });
    assert!(ips.iter().all(|ip| ip.is_loopback()), "{ips:?}");
    let e = lookup_ip("256.1.1.1").unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (
            io::ErrorKind::NotFound,
            "lookup 256.1.1.1: no such host".into()
        )
    );
    assert_eq!(
        lookup_ip("").unwrap_err().kind(),
        io::ErrorKind::InvalidInput
    );
}
