//! `io::copy` when things go wrong mid-copy: a peer that closes, deadlines,
//! `close` from another task, cancellation, fds netpark cannot poll, and
//! the traps from Go's history.

mod util;

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use netpark_net::io;
use netpark_net::{is_closed, is_timeout};
use netpark_runtime as rt;
use util::{checksum, pattern, read_all, tcp_pair, with_runtime, TempFile};

/// A blocking (no `O_NONBLOCK`) kernel pipe as two std files.
fn blocking_pipe() -> (std::fs::File, std::fs::File) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two new fds into the array.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: both fds are new and owned by nobody else.
    unsafe {
        (
            OwnedFd::from_raw_fd(fds[0]).into(),
            OwnedFd::from_raw_fd(fds[1]).into(),
        )
    }
}

#[test]
fn a_destination_whose_peer_closes_halfway_reports_exact_bytes() {
    with_runtime(2, || {
        let data = pattern(8 << 20, 1);
        let tmp = TempFile::with("halfway", &data);
        for spliced in [false, true] {
            let (out, inn) = tcp_pair();
            out.set_send_buffer_size(64 * 1024).unwrap();
            // The receiver takes 1 MiB and then resets the connection.
            let receiver = rt::spawn(move || {
                let mut got = vec![0u8; 1 << 20];
                (&inn).read_exact(&mut got).unwrap();
                inn.set_linger(Some(Duration::ZERO)).unwrap();
                drop(inn);
                got
            });
            let e = if spliced {
                let (a_out, a_in) = tcp_pair();
                let sent = data.clone();
                let feeder = rt::spawn(move || {
                    let _ = a_out.write_all(&sent);
                });
                let e = io::copy(&mut &out, &mut &a_in).unwrap_err();
                drop(a_in);
                feeder.join().unwrap();
                e
            } else {
                io::copy(&mut &out, &mut tmp.open()).unwrap_err()
            };
            let got = receiver.join().unwrap();
            assert_eq!(got, &data[..1 << 20], "what arrived is an exact prefix");
            let n = io::done_before(&e);
            assert!(
                (1 << 20..data.len() as u64).contains(&n),
                "{n} bytes reported: {e}"
            );
            assert!(
                matches!(
                    netpark_net::os_error(&e),
                    Some(libc::ECONNRESET | libc::EPIPE)
                ),
                "{e:?}"
            );
            assert!(e.to_string().starts_with("write tcp "), "{e}");
        }
    });
}

#[test]
fn a_write_deadline_stops_a_stalled_sendfile_and_splice() {
    with_runtime(2, || {
        let data = pattern(16 << 20, 2);
        let tmp = TempFile::with("deadline", &data);
        for spliced in [false, true] {
            let (out, _inn) = tcp_pair(); // never read
            let start = Instant::now();
            out.set_write_deadline(Some(start + Duration::from_millis(200)))
                .unwrap();
            let e = if spliced {
                let (a_out, a_in) = tcp_pair();
                let sent = data.clone();
                rt::spawn(move || {
                    let _ = a_out.write_all(&sent);
                });
                io::copy(&mut &out, &mut &a_in).unwrap_err()
            } else {
                io::copy(&mut &out, &mut tmp.open()).unwrap_err()
            };
            let took = start.elapsed();
            assert!(is_timeout(&e), "{e}");
            assert_eq!(e.kind(), std::io::ErrorKind::TimedOut);
            assert!(io::done_before(&e) > 0, "some bytes fit the buffers");
            assert!(took >= Duration::from_millis(150), "{took:?}");
            assert!(took < Duration::from_secs(10), "{took:?}");
        }
    });
}

#[test]
fn a_read_deadline_on_the_source_stops_a_splice_with_every_byte_counted() {
    with_runtime(2, || {
        let (a_out, a_in) = tcp_pair();
        let (b_out, b_in) = tcp_pair();
        a_out.write_all(&pattern(100_000, 3)).unwrap(); // then stalls
        let receiver = rt::spawn(move || read_all(&b_in));
        a_in.set_read_deadline(Some(Instant::now() + Duration::from_millis(150)))
            .unwrap();
        let e = io::copy(&mut &b_out, &mut &a_in).unwrap_err();
        assert!(is_timeout(&e), "{e}");
        assert!(e.to_string().starts_with("read tcp "), "{e}");
        assert_eq!(io::done_before(&e), 100_000);
        b_out.close().unwrap();
        assert_eq!(receiver.join().unwrap(), pattern(100_000, 3));
        drop(a_out);
    });
}

#[test]
fn close_from_another_task_wakes_a_parked_copy() {
    with_runtime(2, || {
        let (a_out, a_in) = tcp_pair();
        let (b_out, b_in) = tcp_pair();
        let a_in = Arc::new(a_in);
        a_out.write_all(b"first bytes").unwrap();
        let src = a_in.clone();
        let copier = rt::spawn(move || io::copy(&mut &b_out, &mut &*src));
        let mut got = [0u8; 11];
        (&b_in).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"first bytes");
        rt::sleep(Duration::from_millis(30)).unwrap();
        a_in.close().unwrap();
        let e = copier.join().unwrap().unwrap_err();
        assert!(is_closed(&e), "{e}");
        assert_eq!(io::done_before(&e), 11);
        drop(a_out);
    });
}

#[test]
fn cancel_stops_a_parked_copy() {
    with_runtime(2, || {
        let (_a_out, a_in) = tcp_pair();
        let (b_out, _b_in) = tcp_pair();
        let copier = rt::spawn(move || io::copy(&mut &b_out, &mut &a_in));
        rt::sleep(Duration::from_millis(30)).unwrap();
        copier.cancel();
        let e = copier.join().unwrap().unwrap_err();
        assert!(netpark_net::is_cancelled(&e), "{e}");
    });
}

#[test]
fn a_copy_between_tasks_on_different_workers_is_exact() {
    with_runtime(2, || {
        let data = pattern(4 << 20, 5);
        let sum = checksum(&data);
        let (a_out, a_in) = tcp_pair();
        let (b_out, b_in) = tcp_pair();
        // Each end on its own task; the runtime spreads them over both workers.
        let sender = rt::spawn(move || {
            a_out.write_all(&data).unwrap();
        });
        let copier = rt::spawn(move || io::copy(&mut &b_out, &mut &a_in).unwrap());
        let receiver = rt::spawn(move || checksum(&read_all(&b_in)));
        sender.join().unwrap();
        assert_eq!(copier.join().unwrap(), 4 << 20);
        assert_eq!(receiver.join().unwrap(), sum);
    });
}

/// Go's #59041: `splice` into an fd that cannot be polled. A blocking pipe
/// as the destination takes the buffer loop, and the copy completes.
#[test]
fn issue_59041_a_blocking_pipe_destination_is_not_spliced_into() {
    with_runtime(2, || {
        let data = pattern(300_000, 7);
        let (r, mut w) = blocking_pipe();
        let (a_out, a_in) = tcp_pair();
        let sent = data.clone();
        rt::spawn(move || {
            a_out.write_all(&sent).unwrap();
        });
        let reader = std::thread::spawn(move || read_all(r));
        let before = rt::stats().copy.splice.bytes;
        let mut limited = (&a_in).take(300_000);
        let n = io::copy(&mut w, &mut limited).unwrap();
        drop(w);
        assert_eq!(n, 300_000);
        assert_eq!(reader.join().unwrap(), data);
        assert_eq!(rt::stats().copy.splice.bytes, before, "no splice into it");
    });
}

/// A blocking pipe (or tty) as the source is read on a helper thread: the
/// worker keeps running other tasks while the copy waits for bytes.
#[test]
fn a_blocking_source_does_not_freeze_its_worker() {
    with_runtime(1, || {
        let (r, mut w) = blocking_pipe();
        let ticks = Arc::new(AtomicU64::new(0));
        let t = ticks.clone();
        let ticker = rt::spawn(move || {
            for _ in 0..20 {
                rt::sleep(Duration::from_millis(5)).unwrap();
                t.fetch_add(1, Ordering::Relaxed);
            }
        });
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            w.write_all(b"late bytes").unwrap();
        });
        let mut out = Vec::new();
        let mut src = r;
        let n = io::copy(&mut out, &mut src).unwrap();
        assert_eq!((n, &out[..]), (10, &b"late bytes"[..]));
        writer.join().unwrap();
        assert!(
            ticks.load(Ordering::Relaxed) >= 10,
            "the worker ran the ticker while the copy waited"
        );
        ticker.join().unwrap();
    });
}

/// A regular file with nothing to give (procfs reports size 0): the
/// zero-copy paths hand over to the buffer loop instead of spinning on
/// zero-length results (the shape of Go's #75304), and the bytes arrive.
#[test]
fn issue_75304_a_file_that_reports_no_size_is_copied_without_spinning() {
    with_runtime(1, || {
        let mut status = std::fs::File::open("/proc/self/status").unwrap();
        let out_file = TempFile::with("procfs", b"");
        let mut f = out_file.create();
        let n = io::copy(&mut f, &mut status).unwrap();
        assert!(n > 100, "{n}");
        assert!(String::from_utf8(out_file.read())
            .unwrap()
            .contains("Name:"));
        // And into a socket.
        let (out, inn) = tcp_pair();
        let receiver = rt::spawn(move || read_all(&inn));
        let n = io::copy(
            &mut &out,
            &mut std::fs::File::open("/proc/self/status").unwrap(),
        )
        .unwrap();
        out.close().unwrap();
        assert_eq!(receiver.join().unwrap().len() as u64, n);
        assert!(n > 100);
    });
}

/// Go's #59545: a stale readiness event after an fd number is reused. Pool
/// pipes of failed copies are closed; their numbers come back as new
/// sockets, and copies over those still see only their own bytes.
#[test]
fn issue_59545_reused_fd_numbers_after_failed_splices_see_only_their_own_events() {
    with_runtime(2, || {
        for round in 0..50u64 {
            // A copy whose destination resets mid-way: its pool pipe holds
            // bytes and is closed.
            let (a_out, a_in) = tcp_pair();
            let (b_out, b_in) = tcp_pair();
            b_out.set_send_buffer_size(16 * 1024).unwrap();
            let sent = pattern(1 << 20, round);
            let feeder = rt::spawn(move || {
                let _ = a_out.write_all(&sent);
            });
            let killer = rt::spawn(move || {
                let mut first = [0u8; 1000];
                (&b_in).read_exact(&mut first).unwrap();
                b_in.set_linger(Some(Duration::ZERO)).unwrap();
            });
            assert!(io::copy(&mut &b_out, &mut &a_in).is_err());
            killer.join().unwrap();
            drop(a_in);
            feeder.join().unwrap();
            // A fresh copy, over fds that may reuse those numbers.
            let data = pattern(70_000, round + 1000);
            let (n, got) = {
                let (c_out, c_in) = tcp_pair();
                let (d_out, d_in) = tcp_pair();
                let sent = data.clone();
                rt::spawn(move || {
                    c_out.write_all(&sent).unwrap();
                });
                let receiver = rt::spawn(move || read_all(&d_in));
                let n = io::copy(&mut &d_out, &mut (&c_in).take(70_000)).unwrap();
                drop(d_out);
                (n, receiver.join().unwrap())
            };
            assert_eq!((n, got), (70_000, data));
        }
    });
}

#[test]
fn copy_errors_read_like_go_and_keep_the_os_error() {
    with_runtime(1, || {
        let (out, inn) = tcp_pair();
        inn.set_linger(Some(Duration::ZERO)).unwrap();
        drop(inn);
        rt::sleep(Duration::from_millis(20)).unwrap();
        let e = io::copy(&mut &out, &mut &pattern(1 << 20, 9)[..]).unwrap_err();
        let local = out.local_addr().unwrap();
        let peer = out.peer_addr().unwrap();
        assert!(
            e.to_string()
                .starts_with(&format!("write tcp {local}->{peer}: ")),
            "{e}"
        );
        assert!(netpark_net::os_error(&e).is_some(), "{e:?}");
    });
}

/// Go's #61530 (and #41513): a small file sent on a connection that stays
/// open must arrive at once. Asking `sendfile` for more than the file holds
/// let TCP hold the last segment back for 200 ms on kernels before 6.5;
/// later ones no longer mark the end of a file "more to come", so there the
/// unit test `sendfile_never_asks_for_more_than_the_file_holds` is the one
/// that guards the request length, and this one the delay itself.
#[test]
fn issue_61530_a_small_file_on_a_kept_alive_connection_arrives_at_once() {
    with_runtime(2, || {
        let data = pattern(1500, 43);
        let tmp = TempFile::with("small", &data);
        let (out, inn) = tcp_pair();
        let mut worst = Duration::ZERO;
        for _ in 0..5 {
            let start = Instant::now();
            let n = io::copy(&mut &out, &mut tmp.open()).unwrap();
            assert_eq!(n, 1500);
            let mut got = vec![0u8; 1500];
            (&inn).read_exact(&mut got).unwrap();
            assert_eq!(got, data);
            worst = worst.max(start.elapsed());
        }
        assert!(
            worst < Duration::from_millis(150),
            "held back for {worst:?}"
        );
    });
}
