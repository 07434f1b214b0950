//! Several tasks writing one connection at once (Go's fdMutex write lock):
//! each `write_all` reaches the peer in one piece, and `close` frees writers
//! queued behind a blocked one.

mod util;

use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_net::{is_closed, TcpStream};
use netpark_runtime as rt;
use util::{blocked_and_queued_writers, local_listener, with_runtime};

#[test]
fn a_write_all_is_not_split_by_a_write_that_starts_while_it_is_blocked() {
    // One worker makes the order exact: A fills the socket and parks; the
    // reader frees room; B runs before A is woken. Without the write lock B's
    // bytes would land in that room, in the middle of A's.
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let (mut s, _) = l.accept().unwrap();
        c.set_send_buffer_size(16 * 1024).unwrap();
        s.set_recv_buffer_size(16 * 1024).unwrap();
        const A: usize = 1 << 20;
        let ca = c.clone();
        let a = rt::spawn(move || ca.write_all(&vec![b'a'; A]));
        rt::yield_now();
        assert!(rt::dump().contains("waiting: write fd"), "{}", rt::dump());
        let mut got = vec![0u8; 32 * 1024];
        s.read_exact(&mut got).unwrap();
        let cb = c.clone();
        let b = rt::spawn(move || cb.write_all(b"BBBBBBBBBB"));
        rt::yield_now();
        got.resize(A + 10, 0);
        s.read_exact(&mut got[32 * 1024..]).unwrap();
        a.join().unwrap().unwrap();
        b.join().unwrap().unwrap();
        if let Some(at) = got[..A].iter().position(|&x| x != b'a') {
            panic!("B's write landed inside A's at offset {at}");
        }
        assert_eq!(&got[A..], b"BBBBBBBBBB");
    });
}

#[test]
fn concurrent_write_all_calls_from_many_tasks_arrive_whole() {
    const WRITERS: usize = 4;
    const EACH: usize = 256 * 1024;
    with_runtime(2, || {
        let (l, addr) = local_listener();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let (mut s, _) = l.accept().unwrap();
        c.set_send_buffer_size(16 * 1024).unwrap();
        s.set_recv_buffer_size(16 * 1024).unwrap();
        let writers: Vec<_> = (0..WRITERS)
            .map(|id| {
                let c = c.clone();
                rt::spawn(move || {
                    // Many writes each, so writers keep meeting at the lock.
                    for _ in 0..4 {
                        c.write_all(&vec![id as u8 + 1; EACH / 4])?;
                    }
                    Ok::<_, std::io::Error>(())
                })
            })
            .collect();
        let mut got = vec![0u8; WRITERS * EACH];
        s.read_exact(&mut got).unwrap();
        writers.into_iter().for_each(|w| w.join().unwrap().unwrap());
        let mut count = [0usize; WRITERS + 1];
        for (k, run) in got.chunks(EACH / 4).enumerate() {
            let id = run[0];
            if let Some(at) = run.iter().position(|&b| b != id) {
                panic!(
                    "writer {id}'s bytes were interleaved with writer {}'s at offset {}",
                    run[at],
                    k * EACH / 4 + at
                );
            }
            count[id as usize] += 1;
        }
        assert_eq!(&count[1..], &[4; WRITERS]);
    });
}

#[test]
fn close_fails_writers_queued_behind_a_blocked_one() {
    with_runtime(2, || {
        // One writer blocks on the full socket, the other two on its write lock.
        let (c, _peer, writers) = blocked_and_queued_writers();
        let t = Instant::now();
        c.close().unwrap();
        for w in writers {
            let e = w.join().unwrap().unwrap_err();
            assert!(is_closed(&e), "{e}");
            assert!(e.to_string().starts_with("write tcp "), "{e}");
        }
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    });
}

#[test]
fn a_cancelled_queued_writer_leaves_the_others_writing() {
    with_runtime(1, || {
        let (l, addr) = local_listener();
        let c = Arc::new(TcpStream::connect(addr).unwrap());
        let (mut s, _) = l.accept().unwrap();
        c.set_send_buffer_size(4096).unwrap();
        let c1 = c.clone();
        let first = rt::spawn(move || c1.write_all(&vec![1u8; 1 << 20]));
        rt::yield_now();
        let c2 = c.clone();
        let queued = rt::spawn(move || c2.write_all(&[2u8; 10]));
        rt::yield_now();
        queued.cancel();
        let e = queued.join().unwrap().unwrap_err();
        assert!(rt::error::is_cancelled(&e), "{e}");
        let mut got = vec![0u8; 1 << 20];
        s.read_exact(&mut got).unwrap();
        first.join().unwrap().unwrap();
        assert!(got.iter().all(|&b| b == 1));
        // The lock is free again: a new write goes straight through.
        c.write_all(b"after").unwrap();
        let mut tail = [0u8; 5];
        s.read_exact(&mut tail).unwrap();
        assert_eq!(&tail, b"after");
    });
}
