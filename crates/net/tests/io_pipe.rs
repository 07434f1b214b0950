//! `io::pipe`: Go's synchronous in-memory pipe, between tasks and threads.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use netpark_net::io;
use netpark_runtime as rt;
use util::{pattern, with_runtime};

#[test]
fn a_write_returns_only_once_the_reader_took_all_of_it() {
    with_runtime(2, || {
        let (r, w) = io::pipe();
        let done = Arc::new(AtomicBool::new(false));
        let d = done.clone();
        let writer = rt::spawn(move || {
            (&w).write_all(&[7u8; 100]).unwrap();
            d.store(true, Ordering::SeqCst);
        });
        let mut buf = [0u8; 60];
        let n = r.read(&mut buf).unwrap();
        assert_eq!(n, 60);
        rt::sleep(Duration::from_millis(30)).unwrap();
        assert!(!done.load(Ordering::SeqCst), "40 bytes are still offered");
        let n = r.read(&mut buf).unwrap();
        assert_eq!(n, 40);
        writer.join().unwrap();
        assert!(done.load(Ordering::SeqCst));
    });
}

#[test]
fn partial_reads_with_a_seven_byte_buffer_see_every_byte_in_order() {
    with_runtime(2, || {
        let data = pattern(100_003, 1);
        let (r, mut w) = io::pipe();
        let sent = data.clone();
        let writer = rt::spawn(move || {
            for piece in sent.chunks(1000) {
                w.write_all(piece).unwrap();
            }
        });
        let mut got = Vec::new();
        let mut buf = [0u8; 7];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            assert!(n <= 7);
            got.extend_from_slice(&buf[..n]);
        }
        writer.join().unwrap();
        assert_eq!(got, data);
    });
}

#[test]
fn concurrent_writes_never_interleave() {
    with_runtime(2, || {
        let (mut r, w) = io::pipe();
        let writers: Vec<_> = (0..4u8)
            .map(|id| {
                let w = w.clone();
                rt::spawn(move || {
                    for seq in 0..100u8 {
                        let mut msg = vec![id; 1000];
                        msg[1] = seq;
                        (&w).write_all(&msg).unwrap();
                    }
                })
            })
            .collect();
        drop(w);
        let mut all = Vec::new();
        r.read_to_end(&mut all).unwrap();
        for h in writers {
            h.join().unwrap();
        }
        assert_eq!(all.len(), 400 * 1000);
        let mut next = [0u8; 4];
        for msg in all.chunks(1000) {
            let id = msg[0];
            assert!(
                msg[2..].iter().all(|&b| b == id),
                "a message was interleaved"
            );
            assert_eq!(msg[1], next[id as usize], "writer {id} out of order");
            next[id as usize] += 1;
        }
        assert_eq!(next, [100; 4]);
    });
}

#[test]
fn several_readers_share_the_bytes_in_order() {
    with_runtime(2, || {
        let (r, w) = io::pipe();
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let r = r.clone();
                rt::spawn(move || {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 13];
                    loop {
                        match r.read(&mut buf).unwrap() {
                            0 => return got,
                            n => got.extend_from_slice(&buf[..n]),
                        }
                    }
                })
            })
            .collect();
        drop(r);
        // Bytes are numbered so the union can be checked.
        let data: Vec<u8> = (0..30_000u32).map(|i| (i % 251) as u8).collect();
        (&w).write_all(&data).unwrap();
        w.close();
        let total: usize = readers.into_iter().map(|h| h.join().unwrap().len()).sum();
        assert_eq!(total, data.len());
    });
}

#[test]
fn close_gives_the_reader_eof_and_the_writer_an_error() {
    with_runtime(2, || {
        // Writer closes: the reader sees end of file, then the writer's
        // own writes fail.
        let (r, w) = io::pipe();
        w.close();
        assert_eq!(r.read(&mut [0u8; 4]).unwrap(), 0);
        let e = w.write(b"x").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
        assert_eq!(e.to_string(), "io: read/write on closed pipe");

        // Reader closes: a parked write fails, and later ones.
        let (r, w) = io::pipe();
        let writer = rt::spawn(move || w.write(b"never taken"));
        rt::sleep(Duration::from_millis(20)).unwrap();
        r.close();
        let e = writer.join().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BrokenPipe);
        assert_eq!(
            r.read(&mut [0u8; 4]).unwrap_err().kind(),
            ErrorKind::BrokenPipe,
            "a read after the reader's own close"
        );
    });
}

#[test]
fn close_with_error_hands_the_error_to_the_other_side() {
    with_runtime(2, || {
        let (r, w) = io::pipe();
        let reader = rt::spawn(move || r.read(&mut [0u8; 4]));
        rt::sleep(Duration::from_millis(20)).unwrap();
        w.close_with_error(std::io::Error::new(ErrorKind::InvalidData, "bad record"));
        let e = reader.join().unwrap().unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (ErrorKind::InvalidData, "bad record".into())
        );

        let (r, w) = io::pipe();
        r.close_with_error(std::io::Error::new(ErrorKind::ConnectionAborted, "gave up"));
        // The first error of a side wins.
        r.close_with_error(std::io::Error::other("second"));
        let e = w.write(b"x").unwrap_err();
        assert_eq!(
            (e.kind(), e.to_string()),
            (ErrorKind::ConnectionAborted, "gave up".into())
        );
    });
}

#[test]
fn dropping_the_last_handle_closes_that_side() {
    with_runtime(1, || {
        let (r, w) = io::pipe();
        let w2 = w.clone();
        drop(w);
        let reader = rt::spawn(move || {
            let mut s = String::new();
            (&r).read_to_string(&mut s).map(|_| s)
        });
        (&w2).write_all(b"still open").unwrap();
        drop(w2);
        assert_eq!(reader.join().unwrap().unwrap(), "still open");

        let (r, w) = io::pipe();
        drop(r);
        assert_eq!(w.write(b"x").unwrap_err().kind(), ErrorKind::BrokenPipe);
    });
}

#[test]
fn a_write_taken_in_part_before_a_close_reports_the_part() {
    with_runtime(2, || {
        let (r, w) = io::pipe();
        let writer = rt::spawn(move || w.write(&[1u8; 10]));
        let mut buf = [0u8; 4];
        assert_eq!(r.read(&mut buf).unwrap(), 4);
        r.close();
        assert_eq!(writer.join().unwrap().unwrap(), 4);
    });
}

#[test]
fn cancel_withdraws_a_parked_write_and_a_parked_read() {
    with_runtime(2, || {
        let (r, w) = io::pipe();
        let w2 = w.clone();
        let writer = rt::spawn(move || w2.write(b"abc"));
        rt::sleep(Duration::from_millis(20)).unwrap();
        writer.cancel();
        let e = writer.join().unwrap().unwrap_err();
        assert!(netpark_net::is_cancelled(&e), "{e}");
        // Nothing of the cancelled write is left for the reader.
        let reader = rt::spawn(move || {
            let mut buf = [0u8; 8];
            let n = r.read(&mut buf).unwrap();
            buf[..n].to_vec()
        });
        (&w).write_all(b"next").unwrap();
        assert_eq!(reader.join().unwrap(), b"next");

        let (r, _w) = io::pipe();
        let reader = rt::spawn(move || r.read(&mut [0u8; 8]));
        rt::sleep(Duration::from_millis(20)).unwrap();
        reader.cancel();
        assert!(netpark_net::is_cancelled(
            &reader.join().unwrap().unwrap_err()
        ));
    });
}

#[test]
fn reader_and_writer_on_the_same_worker() {
    with_runtime(2, || {
        let (r, w) = io::pipe();
        let writer = rt::task::Builder::new()
            .same_worker()
            .spawn(move || {
                for i in 0..1000u32 {
                    (&w).write_all(&i.to_le_bytes()).unwrap();
                }
            })
            .unwrap();
        let mut buf = [0u8; 4];
        for i in 0..1000u32 {
            io::read_full(&mut &r, &mut buf).unwrap();
            assert_eq!(u32::from_le_bytes(buf), i);
        }
        writer.join().unwrap();
    });
}

/// Sends 10,000 numbers through a pipe, the writer on `spawn`'s side, and
/// checks each as the caller reads it.
fn ten_thousand_rounds<J>(spawn: impl FnOnce(Box<dyn FnOnce() + Send>) -> J, join: impl FnOnce(J)) {
    let (r, w) = io::pipe();
    let writer = spawn(Box::new(move || {
        for i in 0..10_000u32 {
            (&w).write_all(&i.to_le_bytes()).unwrap();
        }
    }));
    let mut buf = [0u8; 4];
    for i in 0..10_000u32 {
        io::read_full(&mut &r, &mut buf).unwrap();
        assert_eq!(u32::from_le_bytes(buf), i);
    }
    join(writer);
}

#[test]
fn no_lost_wake_up_over_ten_thousand_rounds_across_workers_and_threads() {
    // Tasks on two workers.
    with_runtime(2, || ten_thousand_rounds(rt::spawn, |h| h.join().unwrap()));
    // A task and a plain thread.
    with_runtime(1, || {
        ten_thousand_rounds(std::thread::spawn, |h| h.join().unwrap())
    });
    // Two plain threads, no runtime.
    ten_thousand_rounds(std::thread::spawn, |h| h.join().unwrap());
}

#[test]
fn copy_through_a_pipe_takes_the_buffer_loop_and_holds_nothing() {
    with_runtime(2, || {
        let data = pattern(1 << 20, 3);
        let (mut r, mut w) = io::pipe();
        let sent = data.clone();
        let writer = rt::spawn(move || io::copy(&mut w, &mut &sent[..]).unwrap());
        let mut got = Vec::new();
        io::copy(&mut got, &mut r).unwrap();
        assert_eq!(writer.join().unwrap(), 1 << 20);
        assert_eq!(got, data);
    });
}
