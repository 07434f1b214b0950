//! Every way a socket ends gives its poll-cache slot back once its handle
//! is gone: close then drop, drop alone, and handing the fd to std
//! (`into_std`), which keeps the fd open. Alone
//! in its test binary, so no other test's sockets move the count.

use std::time::Duration;

use netpark_net::{TcpListener, TcpStream};

fn live() -> u64 {
    netpark_runtime::stats().poll_descs_live
}

#[test]
fn closed_dropped_and_into_std_sockets_all_give_their_poll_slot_back() {
    netpark_runtime::run(|| {
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        let base = live();
        let mut kept = Vec::new();
        for i in 0..300 {
            let c = TcpStream::connect(addr).unwrap();
            let (s, _) = ln.accept().unwrap();
            assert_eq!(live(), base + 2);
            match i % 3 {
                0 => {
                    // Closed: the slot goes when the handle drops, below.
                    c.close().unwrap();
                    s.close().unwrap();
                    drop((c, s));
                }
                1 => drop((c, s)),
                _ => {
                    // The fds stay open in std's hands, out of netpark's poll cache.
                    let c = c.into_std().unwrap();
                    let s = s.into_std().unwrap();
                    c.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    kept.push((c, s));
                }
            }
            assert_eq!(live(), base, "round {i} (kind {}) kept its slot", i % 3);
        }
        // The std halves still talk to each other.
        use std::io::{Read, Write};
        let (c, s) = &mut kept[0];
        s.write_all(b"ok").unwrap();
        let mut buf = [0u8; 2];
        c.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"ok");
    });
}
