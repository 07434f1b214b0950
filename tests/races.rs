//! Races across workers, end to end: scaled-down runs of the stress scenarios
//! run in session 3 (the first of them found a double close of an fd number;
//! the lost wake and the budget have their own tests in the crates). Each
//! scenario is repeated many times with the interleaving left to the
//! machine; a hang fails at `LIMIT` with a task dump.

mod util;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use netpark::net::{self, TcpListener, TcpStream};

/// A cheap deterministic pseudo-random sequence (xorshift).
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// A listener whose accept-loop task hands every accepted conn to the
/// returned receiver; call from a task.
fn accepted_conns() -> (SocketAddr, mpsc::Receiver<TcpStream>) {
    let ln = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    let (tx, rx) = mpsc::channel();
    netpark::spawn(move || {
        while let Ok((c, _)) = ln.accept() {
            let _ = tx.send(c);
        }
    });
    (addr, rx)
}

#[test]
fn acceptors_and_dialers_all_return_when_the_listener_closes_under_them() {
    util::with_runtime(3, || {
        let mut seed = 3;
        for _ in 0..60 {
            let ln = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
            let addr = ln.local_addr().unwrap();
            let acceptors: Vec<_> = (0..4)
                .map(|_| {
                    let ln = ln.clone();
                    netpark::spawn(move || loop {
                        if let Err(e) = ln.accept() {
                            assert!(net::is_closed(&e), "{e}");
                            // Calls after the close fail the same way and
                            // touch no fd (this once closed another
                            // task's socket, which then waited forever).
                            assert!(net::is_closed(&ln.accept().unwrap_err()));
                            return;
                        }
                    })
                })
                .collect();
            let dialers: Vec<_> = (0..4)
                .map(|_| {
                    netpark::spawn(move || {
                        for _ in 0..5 {
                            let _ = TcpStream::connect(addr);
                        }
                    })
                })
                .collect();
            netpark::sleep(Duration::from_micros(next(&mut seed) % 500)).unwrap();
            ln.close().unwrap();
            for h in dialers.into_iter().chain(acceptors) {
                h.join().unwrap();
            }
        }
    });
}

#[test]
fn a_reader_and_a_writer_on_one_conn_on_different_workers_move_every_byte() {
    util::with_runtime(2, || {
        let ln = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = ln.local_addr().unwrap();
        netpark::spawn(move || {
            while let Ok((c, _)) = ln.accept() {
                netpark::spawn(move || {
                    let mut buf = [0u8; 8192];
                    while let Ok(n @ 1..) = c.read(&mut buf) {
                        if c.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        const TOTAL: usize = 1 << 19;
        for round in 0..4u64 {
            let c = Arc::new(TcpStream::connect(addr).unwrap());
            let w = c.clone();
            let writer = netpark::spawn(move || {
                let mut seed = round + 1;
                let mut sent = 0;
                let mut buf = vec![0u8; 65536];
                while sent < TOTAL {
                    let len = (next(&mut seed) as usize % buf.len() + 1).min(TOTAL - sent);
                    for (j, b) in buf[..len].iter_mut().enumerate() {
                        *b = ((sent + j) % 251) as u8;
                    }
                    w.write_all(&buf[..len]).unwrap();
                    sent += len;
                }
            });
            let reader = netpark::spawn(move || {
                let mut got = 0;
                let mut buf = vec![0u8; 70000];
                while got < TOTAL {
                    let n = c.read(&mut buf).unwrap();
                    assert!(n > 0, "early EOF at {got}");
                    for (j, b) in buf[..n].iter().enumerate() {
                        assert_eq!(*b, ((got + j) % 251) as u8, "byte {}", got + j);
                    }
                    got += n;
                }
            });
            writer.join().unwrap();
            reader.join().unwrap();
        }
    });
}

#[test]
fn close_racing_with_a_blocked_read_or_write_always_wakes_it() {
    util::with_runtime(2, || {
        let (addr, rx) = accepted_conns();
        let mut seed = 11;
        for i in 0..200 {
            let c = Arc::new(TcpStream::connect(addr).unwrap());
            let peer = rx.recv().unwrap();
            let c2 = c.clone();
            // Alternately a reader that never gets data and a writer that
            // fills the send buffer of a peer that never reads.
            let blocked = netpark::spawn(move || {
                if i % 2 == 0 {
                    c2.read(&mut [0u8; 16]).unwrap_err()
                } else {
                    let buf = vec![7u8; 1 << 16];
                    loop {
                        if let Err(e) = c2.write_all(&buf) {
                            return e;
                        }
                    }
                }
            });
            let delay = Duration::from_micros(next(&mut seed) % 1000);
            netpark::spawn(move || {
                netpark::sleep(delay).unwrap();
                c.close().unwrap();
            })
            .join()
            .unwrap();
            let e = blocked.join().unwrap();
            assert!(net::is_closed(&e), "{e}");
            drop(peer);
        }
    });
}

#[test]
fn cancel_racing_with_the_wake_of_a_blocked_read_never_loses_the_task() {
    util::with_runtime(2, || {
        let (addr, rx) = accepted_conns();
        let done = Arc::new(AtomicUsize::new(0));
        let mut seed = 777;
        for i in 0..300 {
            let c = TcpStream::connect(addr).unwrap();
            let peer = rx.recv().unwrap();
            let d = done.clone();
            let reader = netpark::spawn(move || {
                let r = c.read(&mut [0u8; 16]);
                d.fetch_add(1, Ordering::Relaxed);
                r
            });
            let t = Instant::now();
            let spin = Duration::from_micros(next(&mut seed) % 100);
            while t.elapsed() < spin {
                netpark::yield_now();
            }
            if i % 2 == 0 {
                reader.cancel();
                let _ = peer.write_all(b"x");
            } else {
                let _ = peer.write_all(b"x");
                reader.cancel();
            }
            match reader.join().unwrap() {
                Ok(n) => assert_eq!(n, 1),
                Err(e) => assert!(net::is_cancelled(&e), "{e}"),
            }
        }
        assert_eq!(done.load(Ordering::Relaxed), 300);
    });
}

#[test]
fn runtimes_dropped_under_load_never_hang() {
    let ln = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = ln.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut keep = Vec::new();
        for c in ln.incoming() {
            keep.push(c);
            if keep.len() > 100 {
                keep.clear();
            }
        }
    });
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut seed = 42;
        for _ in 0..40 {
            let rt = netpark::Runtime::builder().workers(2).build().unwrap();
            let h = rt.handle().clone();
            for k in 0..8 {
                rt.spawn(move || match k % 4 {
                    0 => {
                        let c = TcpStream::connect(addr).unwrap();
                        let _ = c.read(&mut [0u8; 8]);
                    }
                    1 => {
                        let _ = netpark::sleep(Duration::from_secs(10));
                    }
                    2 => {
                        let child = netpark::spawn(|| netpark::sleep(Duration::from_secs(10)));
                        let _ = child.join();
                    }
                    _ => loop {
                        netpark::yield_now();
                    },
                });
            }
            let spawner = std::thread::spawn(move || {
                for _ in 0..50 {
                    let _ = h.spawn(netpark::yield_now);
                }
            });
            std::thread::sleep(Duration::from_micros(next(&mut seed) % 2000));
            drop(rt);
            spawner.join().unwrap();
        }
        let _ = tx.send(());
    });
    rx.recv_timeout(util::LIMIT)
        .expect("a runtime drop hung under load");
}

#[test]
fn connections_churning_on_two_workers_reuse_poll_slots_and_each_gets_its_own_bytes() {
    // Every closed connection frees its poll-cache slot and the next dial
    // or accept takes it back, on either worker, while the other
    // connections' events are in flight: an event for a slot's previous fd
    // must never stand in for the new fd's (a read of another connection's
    // bytes, or a wait that never wakes).
    util::with_runtime(2, || {
        let ln = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let addr = ln.local_addr().unwrap();
        let l2 = ln.clone();
        let server = netpark::spawn(move || {
            while let Ok((c, _)) = l2.accept() {
                netpark::spawn(move || {
                    let mut buf = [0u8; 8];
                    while let Ok(n) = c.read(&mut buf) {
                        if n == 0 || c.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let clients: Vec<_> = (0..8u64)
            .map(|k| {
                netpark::spawn(move || {
                    for i in 0..150u64 {
                        let c = TcpStream::connect(addr).unwrap();
                        let word = ((k << 32) | i).to_le_bytes();
                        c.write_all(&word).unwrap();
                        let mut got = [0u8; 8];
                        netpark::io::read_full(&mut &c, &mut got).unwrap();
                        assert_eq!(got, word, "client {k} round {i} read another's bytes");
                    }
                })
            })
            .collect();
        for h in clients {
            h.join().unwrap();
        }
        ln.close().unwrap();
        server.join().unwrap();
    });
}
