//! More sockets ready at once than the reactor wakes in one chunk
//! (reactor/mod.rs, "One turn"): the rest wait in the worker's event buffer
//! for their chunk, and every one is delivered.

mod util;

use std::io::Write;
use std::time::{Duration, Instant};

use netpark_runtime as rt;
use util::{local_listener, with_runtime};

#[test]
fn a_burst_of_more_ready_sockets_than_a_chunk_wakes_every_reader() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let n = 300;
        let mut clients = Vec::new();
        let mut readers = Vec::new();
        for i in 0..n {
            clients.push(std::net::TcpStream::connect(addr).unwrap());
            let (s, _) = l.accept().unwrap();
            readers.push(rt::spawn(move || {
                let mut b = [0u8; 8];
                let got = s.read(&mut b).unwrap();
                assert_eq!(&b[..got], &[i as u8, (i >> 8) as u8], "reader {i}");
            }));
        }
        let start = Instant::now();
        while rt::dump().matches("waiting: read fd").count() < n {
            assert!(start.elapsed() < Duration::from_secs(10), "{}", rt::dump());
            rt::sleep(Duration::from_millis(5)).unwrap();
        }
        // All at once, from a plain thread, while the worker is asleep in
        // epoll_wait: one wait reports far more than a chunk.
        let clients = std::thread::spawn(move || {
            for (i, c) in clients.iter_mut().enumerate() {
                c.write_all(&[i as u8, (i >> 8) as u8]).unwrap();
            }
            clients
        })
        .join()
        .unwrap();
        for r in readers {
            r.join().unwrap();
        }
        drop(clients);
    });
}
