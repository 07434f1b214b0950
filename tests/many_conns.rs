//! A thousand concurrent connections through one echo server, with content checks.

mod util;

use std::io::Read;
use std::sync::Arc;

use netpark::net;

#[test]
fn a_thousand_connections_echo_their_own_bytes() {
    util::raise_fd_limit();
    let (conns, bytes) = util::with_runtime(2, || {
        let ln = Arc::new(net::listen_tcp("tcp4", "127.0.0.1:0").unwrap());
        let addr = ln.local_addr().unwrap();
        let server_ln = ln.clone();
        let server = netpark::spawn(move || {
            let mut handlers = Vec::new();
            while let Ok((c, _)) = server_ln.accept() {
                handlers.push(netpark::spawn(move || {
                    let mut buf = [0u8; 4096];
                    loop {
                        match c.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => c.write_all(&buf[..n]).unwrap(),
                        }
                    }
                }));
            }
            for h in handlers {
                h.join().unwrap();
            }
        });
        const N: usize = 1000;
        let clients: Vec<_> = (0..N)
            .map(|i| {
                netpark::spawn(move || {
                    let mut c = net::dial("tcp", &addr.to_string()).unwrap();
                    let mut total = 0;
                    for round in 0..5u8 {
                        let msg: Vec<u8> = (0..(64 + i % 200))
                            .map(|k| {
                                (i as u8)
                                    .wrapping_mul(31)
                                    .wrapping_add(k as u8)
                                    .wrapping_add(round)
                            })
                            .collect();
                        c.write_all(&msg).unwrap();
                        let mut back = vec![0u8; msg.len()];
                        c.read_exact(&mut back).unwrap();
                        assert_eq!(
                            back, msg,
                            "connection {i} round {round} got someone else's bytes"
                        );
                        total += msg.len();
                    }
                    total
                })
            })
            .collect();
        let bytes: usize = clients.into_iter().map(|h| h.join().unwrap()).sum();
        ln.close().unwrap();
        server.join().unwrap();
        (N, bytes)
    });
    assert_eq!(conns, 1000);
    assert!(bytes > 1000 * 5 * 64);
}
