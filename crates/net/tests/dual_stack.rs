//! IPv4/IPv6 choices follow Go: "tcp" with a wildcard host is dual-stack,
//! "tcp6" is IPv6-only, "tcp4" is IPv4.

mod util;

use netpark_net::{dial, listen, Addr};
use util::with_runtime;

fn port(a: &Addr) -> u16 {
    match a {
        Addr::Inet(s) => s.port(),
        Addr::Unix(_) => panic!("not inet"),
    }
}

#[test]
fn tcp_on_an_empty_host_accepts_ipv4_and_ipv6() {
    with_runtime(1, || {
        let l = listen("tcp", ":0").unwrap();
        let p = port(&l.addr());
        assert!(l.addr().to_string().starts_with("[::]:"), "{}", l.addr());
        let c4 = dial("tcp", &format!("127.0.0.1:{p}")).unwrap();
        let _a4 = l.accept().unwrap();
        let c6 = dial("tcp", &format!("[::1]:{p}")).unwrap();
        let _a6 = l.accept().unwrap();
        drop((c4, c6));
    });
}

#[test]
fn tcp6_is_ipv6_only() {
    with_runtime(1, || {
        let l = listen("tcp6", "[::]:0").unwrap();
        let p = port(&l.addr());
        let _c6 = dial("tcp6", &format!("[::1]:{p}")).unwrap();
        let e = dial("tcp4", &format!("127.0.0.1:{p}")).unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}");
    });
}

#[test]
fn tcp4_on_an_empty_host_binds_ipv4_any() {
    with_runtime(1, || {
        let l = listen("tcp4", ":0").unwrap();
        assert!(l.addr().to_string().starts_with("0.0.0.0:"), "{}", l.addr());
        let l2 = listen("tcp", "127.0.0.1:").unwrap();
        assert!(
            l2.addr().to_string().starts_with("127.0.0.1:"),
            "{}",
            l2.addr()
        );
        let l3 = listen("tcp", "[::1]:0").unwrap();
        assert!(l3.addr().to_string().starts_with("[::1]:"), "{}", l3.addr());
    });
}
