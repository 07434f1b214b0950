//! The write lock at close (Go's fdMutex): holding the lock holds the fd's
//! reference, so the writers a close interrupts, not the close, may be the
//! ones that shut the fd, and they do so before `close` returns.
//!
//! Each checks that its socket is shut right after `close` by its inode, not
//! its number, which another thread may take as soon as it is free.

mod util;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use netpark_net::{is_closed, TcpStream};
use netpark_runtime as rt;
use util::{blocked_and_queued_writers, inode, local_listener, with_runtime};

// The write lock holds the fd's reference for its holder (Go's fdMutex): the
// writer parked at close, and each queued writer handed the lock after it,
// drop that reference as they release, and the last of them shuts the fd
// before `close` returns.
#[test]
fn a_writer_holding_the_lock_at_close_shuts_the_fd_before_close_returns() {
    with_runtime(2, || {
        let (c, _peer, writers) = blocked_and_queued_writers();
        let fd = c.as_raw_fd();
        let ino = inode(fd);
        c.close().unwrap();
        assert_ne!(
            inode(fd),
            ino,
            "the socket is still open when close returned"
        );
        for w in writers {
            assert!(is_closed(&w.join().unwrap().unwrap_err()));
        }
        // The lock refuses after close rather than reporting it busy.
        let e = c.try_write(b"x").unwrap_err();
        assert!(is_closed(&e), "{e}");
        assert!(is_closed(&c.write_all(b"x").unwrap_err()));
    });
}

// Writers contending for the lock on two workers while another task closes
// the connection at a moment that moves from round to round: every writer
// ends (its whole message sent, or ErrClosed), nothing hangs, the fd is shut
// when close returns, and what the peer got is whole messages only.
#[test]
fn close_racing_contended_writers_ends_every_writer_and_shuts_the_fd() {
    with_runtime(2, || {
        for round in 0..40u64 {
            let (l, addr) = local_listener();
            let c = Arc::new(TcpStream::connect(addr).unwrap());
            let (mut s, _) = l.accept().unwrap();
            let ino = inode(c.as_raw_fd());
            let reader = std::thread::spawn(move || {
                let mut got = Vec::new();
                let _ = s.read_to_end(&mut got);
                got
            });
            let writers: Vec<_> = (0..6u8)
                .map(|w| {
                    let c = c.clone();
                    rt::spawn(move || {
                        let msg = vec![w; 1000 + 700 * w as usize];
                        let mut sent = 0;
                        loop {
                            match c.write_all(&msg) {
                                Ok(()) => sent += 1,
                                Err(e) if is_closed(&e) => return sent,
                                Err(e) => panic!("writer {w}: {e}"),
                            }
                            if sent % 3 == 0 {
                                rt::yield_now();
                            }
                        }
                    })
                })
                .collect();
            for _ in 0..round % 7 {
                rt::yield_now();
            }
            rt::sleep(Duration::from_micros(200 * (round % 5))).unwrap();
            c.close().unwrap();
            assert_ne!(
                inode(c.as_raw_fd()),
                ino,
                "round {round}: the socket is still open after close"
            );
            let sent: Vec<usize> = writers.into_iter().map(|w| w.join().unwrap()).collect();
            let got = reader.join().unwrap();
            // Whole messages, one writer's bytes at a time.
            let mut i = 0;
            let mut counted = [0usize; 6];
            while i < got.len() {
                let w = got[i] as usize;
                let len = 1000 + 700 * w;
                let end = (i + len).min(got.len());
                assert!(
                    got[i..end].iter().all(|&b| b as usize == w),
                    "round {round}: a message split at byte {i}"
                );
                // Only the last message may be cut short (by the close).
                counted[w] += 1;
                i = end;
            }
            for w in 0..6 {
                // A write cut by close may have sent part of its message
                // (it reports ErrClosed), so the peer sees at most `sent`.
                assert!(counted[w] <= sent[w] + 1, "round {round}: writer {w}");
            }
        }
    });
}
