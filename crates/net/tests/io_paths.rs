//! Every zero-copy path of `netpark_net::io::copy`, byte-exact at sizes 0,
//! 1, 4 KiB, 1 MiB + 7 and 64 MiB, with `stats().copy` proving which path
//! moved the bytes (and that the fallback ran where it should).
//!
//! The tests of this file take one lock, so the process-wide counters they
//! read change only by their own copies.

mod util;

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::sync::Mutex;

use netpark_net::io::{self, Fd, FdReader};
use netpark_net::{TcpStream, UnixStream};
use netpark_runtime as rt;
use netpark_runtime::{CopyStats, PathStats};
use util::{checksum, pattern, read_all, tcp_pair, with_runtime, TempFile};

const SIZES: [usize; 5] = [0, 1, 4096, (1 << 20) + 7, 64 << 20];

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counter changes across `f`.
fn delta<T>(f: impl FnOnce() -> T) -> (T, CopyStats) {
    let before = rt::stats().copy;
    let v = f();
    let after = rt::stats().copy;
    let d = |a: PathStats, b: PathStats| PathStats {
        calls: a.calls - b.calls,
        bytes: a.bytes - b.bytes,
    };
    (
        v,
        CopyStats {
            splice: d(after.splice, before.splice),
            sendfile: d(after.sendfile, before.sendfile),
            copy_file_range: d(after.copy_file_range, before.copy_file_range),
            buffer: d(after.buffer, before.buffer),
        },
    )
}

/// Sends `data` into a fresh TCP pair, copies it with `io::copy` from the
/// accepted end into a second pair, and reads it out of that: the copy's
/// count, the bytes that arrived, and the counters.
fn through_sockets(data: Vec<u8>) -> (u64, Vec<u8>, CopyStats) {
    let (a_out, a_in) = tcp_pair();
    let (b_out, b_in) = tcp_pair();
    let sender = rt::spawn(move || {
        a_out.write_all(&data).unwrap();
        a_out.close().unwrap();
    });
    let receiver = rt::spawn(move || read_all(&b_in));
    let (n, d) = delta(|| io::copy(&mut &b_out, &mut &a_in).unwrap());
    b_out.close().unwrap();
    sender.join().unwrap();
    (n, receiver.join().unwrap(), d)
}

#[test]
fn socket_to_socket_is_spliced_at_every_size() {
    let _s = serial();
    with_runtime(2, || {
        for &size in &SIZES {
            let data = pattern(size, size as u64);
            let sum = checksum(&data);
            let (n, got, d) = through_sockets(data);
            assert_eq!(n, size as u64);
            assert_eq!((got.len(), checksum(&got)), (size, sum), "size {size}");
            assert_eq!(d.splice.bytes, size as u64, "size {size}: {d:?}");
            assert_eq!(d.buffer.bytes, 0, "size {size}: {d:?}");
        }
    });
}

#[test]
fn unix_socket_to_unix_socket_is_spliced() {
    let _s = serial();
    with_runtime(2, || {
        for &size in &SIZES[..4] {
            let data = pattern(size, 7);
            let (a_out, a_in) = UnixStream::pair().unwrap();
            let (b_out, b_in) = UnixStream::pair().unwrap();
            let sent = data.clone();
            let sender = rt::spawn(move || {
                a_out.write_all(&sent).unwrap();
                a_out.close().unwrap();
            });
            let receiver = rt::spawn(move || read_all(&b_in));
            let (n, d) = delta(|| io::copy(&mut &b_out, &mut &a_in).unwrap());
            b_out.close().unwrap();
            sender.join().unwrap();
            assert_eq!(n, size as u64);
            assert_eq!(receiver.join().unwrap(), data);
            assert_eq!(d.splice.bytes, size as u64, "{d:?}");
        }
    });
}

#[test]
fn file_to_socket_is_sent_by_sendfile_from_the_current_offset() {
    let _s = serial();
    with_runtime(2, || {
        for &size in &SIZES {
            let data = pattern(size, 3);
            let tmp = TempFile::with("sendfile", &data);
            for start in [0usize, 5] {
                if start > size {
                    continue;
                }
                let (out, inn) = tcp_pair();
                let receiver = rt::spawn(move || read_all(&inn));
                let mut f = tmp.open();
                f.seek(SeekFrom::Start(start as u64)).unwrap();
                let (n, d) = delta(|| io::copy(&mut &out, &mut f).unwrap());
                out.close().unwrap();
                let got = receiver.join().unwrap();
                assert_eq!(n, (size - start) as u64);
                assert_eq!(checksum(&got), checksum(&data[start..]), "size {size}");
                assert_eq!(d.sendfile.bytes, (size - start) as u64, "{d:?}");
                assert_eq!(d.buffer.bytes, 0, "{d:?}");
                // The offset is where a buffered copy leaves it: the end.
                assert_eq!(f.stream_position().unwrap(), size as u64);
            }
        }
    });
}

#[test]
fn socket_to_file_is_spliced() {
    let _s = serial();
    with_runtime(2, || {
        for &size in &SIZES {
            let data = pattern(size, 11);
            let out_file = TempFile::with("splice-out", b"");
            let (a_out, a_in) = tcp_pair();
            let sent = data.clone();
            let sender = rt::spawn(move || {
                a_out.write_all(&sent).unwrap();
                a_out.close().unwrap();
            });
            let mut f = out_file.create();
            let (n, d) = delta(|| io::copy(&mut f, &mut &a_in).unwrap());
            sender.join().unwrap();
            drop(f);
            assert_eq!(n, size as u64);
            assert_eq!(checksum(&out_file.read()), checksum(&data), "size {size}");
            assert_eq!(d.splice.bytes, size as u64, "{d:?}");
        }
    });
}

#[test]
fn file_to_file_uses_copy_file_range_and_keeps_both_offsets() {
    let _s = serial();
    with_runtime(1, || {
        for &size in &SIZES {
            let data = pattern(size, 13);
            let src = TempFile::with("cfr-src", &data);
            let dst = TempFile::with("cfr-dst", b"head");
            let mut from = src.open();
            let mut to = std::fs::OpenOptions::new()
                .write(true)
                .open(&dst.path)
                .unwrap();
            to.seek(SeekFrom::Start(4)).unwrap();
            let (n, d) = delta(|| io::copy(&mut to, &mut from).unwrap());
            assert_eq!(n, size as u64);
            let mut want = b"head".to_vec();
            want.extend_from_slice(&data);
            assert_eq!(checksum(&dst.read()), checksum(&want), "size {size}");
            assert_eq!(from.stream_position().unwrap(), size as u64);
            assert_eq!(to.stream_position().unwrap(), 4 + size as u64);
            // copy_file_range, or sendfile where the file system refuses it.
            assert_eq!(
                d.copy_file_range.bytes + d.sendfile.bytes,
                size as u64,
                "{d:?}"
            );
            assert_eq!(d.buffer.bytes, 0, "{d:?}");
        }
    });
}

#[test]
fn an_append_only_file_falls_back_from_copy_file_range() {
    let _s = serial();
    with_runtime(1, || {
        let data = pattern(100_000, 17);
        let src = TempFile::with("append-src", &data);
        let dst = TempFile::with("append-dst", b"x");
        let mut to = std::fs::OpenOptions::new()
            .append(true)
            .open(&dst.path)
            .unwrap();
        let (n, d) = delta(|| io::copy(&mut to, &mut src.open()).unwrap());
        assert_eq!(n, data.len() as u64);
        let mut want = b"x".to_vec();
        want.extend_from_slice(&data);
        assert_eq!(dst.read(), want);
        // copy_file_range and sendfile refuse O_APPEND: the buffer loop ran.
        assert_eq!(d.buffer.bytes, data.len() as u64, "{d:?}");
    });
}

#[test]
fn a_take_limit_is_honoured_and_shrunk_on_every_path() {
    let _s = serial();
    with_runtime(2, || {
        let data = pattern(1 << 20, 19);
        let tmp = TempFile::with("take", &data);
        // file -> socket by sendfile, stopping mid-file.
        let (out, inn) = tcp_pair();
        let receiver = rt::spawn(move || read_all(&inn));
        let mut f = tmp.open();
        f.seek(SeekFrom::Start(10)).unwrap();
        let mut limited = (&f).take(70_000);
        let (n, d) = delta(|| io::copy(&mut &out, &mut limited).unwrap());
        out.close().unwrap();
        assert_eq!(n, 70_000);
        assert_eq!(limited.limit(), 0);
        assert_eq!(receiver.join().unwrap(), &data[10..70_010]);
        assert_eq!(f.stream_position().unwrap(), 70_010);
        assert_eq!(d.sendfile.bytes, 70_000);

        // socket -> socket by splice, stopping mid-stream: the rest stays
        // in the source socket.
        let (a_out, a_in) = tcp_pair();
        let (b_out, b_in) = tcp_pair();
        a_out.write_all(&data[..300_000]).unwrap();
        let mut limited = (&a_in).take(123_457);
        let (n, d) = delta(|| io::copy(&mut &b_out, &mut limited).unwrap());
        b_out.close().unwrap();
        assert_eq!((n, limited.limit()), (123_457, 0));
        assert_eq!(read_all(&b_in), &data[..123_457]);
        assert_eq!(d.splice.bytes, 123_457);
        a_out.close().unwrap();
        assert_eq!(read_all(&a_in), &data[123_457..300_000]);

        // copy_n over a file: exactly n, and the offset after them.
        let (out, inn) = tcp_pair();
        let receiver = rt::spawn(move || read_all(&inn));
        let mut f = tmp.open();
        let n = io::copy_n(&mut &out, &mut f, 4097).unwrap();
        out.close().unwrap();
        assert_eq!(n, 4097);
        assert_eq!(receiver.join().unwrap(), &data[..4097]);
        assert_eq!(f.stream_position().unwrap(), 4097);
    });
}

#[test]
fn copy_n_from_a_source_that_ends_early_writes_what_it_had() {
    let _s = serial();
    with_runtime(1, || {
        let tmp = TempFile::with("short", b"0123456789");
        let (out, inn) = tcp_pair();
        let receiver = rt::spawn(move || read_all(&inn));
        let e = io::copy_n(&mut &out, &mut tmp.open(), 20).unwrap_err();
        out.close().unwrap();
        assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
        assert_eq!(e.to_string(), "EOF");
        assert_eq!(io::done_before(&e), 10);
        assert_eq!(receiver.join().unwrap(), b"0123456789");
        // The same through the buffer loop.
        let mut v = Vec::new();
        let e = io::copy_n(&mut v, &mut &b"abc"[..], 5).unwrap_err();
        assert_eq!((io::done_before(&e), &v[..]), (3, &b"abc"[..]));
    });
}

#[test]
fn a_bufreader_s_buffer_goes_first_then_the_fd() {
    let _s = serial();
    with_runtime(1, || {
        let data = pattern(200_000, 23);
        let tmp = TempFile::with("bufreader", &data);
        let mut r = BufReader::with_capacity(1000, tmp.open());
        let mut first = [0u8; 10];
        r.read_exact(&mut first).unwrap(); // 990 bytes stay buffered
        let (out, inn) = tcp_pair();
        let receiver = rt::spawn(move || read_all(&inn));
        let (n, d) = delta(|| io::copy(&mut &out, &mut r).unwrap());
        out.close().unwrap();
        assert_eq!(n, 199_990);
        assert_eq!(receiver.join().unwrap(), &data[10..]);
        assert_eq!(d.buffer.bytes, 990, "{d:?}");
        assert_eq!(d.sendfile.bytes, 199_000, "{d:?}");
    });
}

#[test]
fn os_pipes_splice_to_and_from_sockets_and_files() {
    let _s = serial();
    with_runtime(2, || {
        let data = pattern((1 << 20) + 7, 29);
        // file -> pipe (direct splice), pipe -> socket (via the pool).
        let tmp = TempFile::with("pipe-src", &data);
        let (pr, pw) = io::os_pipe().unwrap();
        let (out, inn) = tcp_pair();
        let receiver = rt::spawn(move || read_all(&inn));
        let feeder = rt::spawn(move || {
            let n = io::copy(&mut &pw, &mut tmp.open()).unwrap();
            drop(pw);
            n
        });
        let (n, d) = delta(|| io::copy(&mut &out, &mut &pr).unwrap());
        out.close().unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(feeder.join().unwrap(), data.len() as u64);
        assert_eq!(checksum(&receiver.join().unwrap()), checksum(&data));
        assert!(d.splice.bytes >= data.len() as u64, "{d:?}");

        // socket -> pipe (via the pool), pipe -> file (direct splice).
        let (a_out, a_in) = tcp_pair();
        let (pr, pw) = io::os_pipe().unwrap();
        let sent = data.clone();
        let sender = rt::spawn(move || {
            a_out.write_all(&sent).unwrap();
            a_out.close().unwrap();
        });
        let pumper = rt::spawn(move || {
            let n = io::copy(&mut &pw, &mut &a_in).unwrap();
            drop(pw);
            n
        });
        let out_file = TempFile::with("pipe-dst", b"");
        let mut f = out_file.create();
        let (n, d) = delta(|| io::copy(&mut f, &mut &pr).unwrap());
        sender.join().unwrap();
        assert_eq!(pumper.join().unwrap(), data.len() as u64);
        assert_eq!(n, data.len() as u64);
        assert_eq!(checksum(&out_file.read()), checksum(&data));
        assert_eq!(d.buffer.bytes, 0, "{d:?}");
    });
}

/// A reader that wraps a file and does not opt in.
struct Opaque(std::fs::File);

impl Read for Opaque {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl FdReader for Opaque {
    fn read_fd(&self) -> Fd<'_> {
        Fd::Os(std::os::fd::AsFd::as_fd(&self.0))
    }
}

#[test]
fn plain_readers_and_writers_take_the_buffer_loop_and_opted_in_ones_do_not() {
    let _s = serial();
    with_runtime(1, || {
        let data = pattern(100_000, 31);
        // &[u8] -> socket.
        let (out, inn) = tcp_pair();
        let receiver = rt::spawn(move || read_all(&inn));
        let (n, d) = delta(|| io::copy(&mut &out, &mut &data[..]).unwrap());
        out.close().unwrap();
        assert_eq!((n, receiver.join().unwrap()), (100_000, data.clone()));
        assert_eq!(d.buffer.bytes, 100_000, "{d:?}");
        assert_eq!(d.splice.bytes + d.sendfile.bytes, 0, "{d:?}");

        // socket -> Vec.
        let (out, inn) = tcp_pair();
        let sent = data.clone();
        let sender = rt::spawn(move || {
            out.write_all(&sent).unwrap();
        });
        let mut v = Vec::new();
        let (n, d) = delta(|| io::copy(&mut v, &mut &inn).unwrap());
        sender.join().unwrap();
        assert_eq!((n, &v[..]), (100_000, &data[..]));
        assert_eq!(d.buffer.bytes, 100_000, "{d:?}");

        // A user's type: buffer loop as itself, zero-copy as `dyn FdReader`.
        let tmp = TempFile::with("opaque", &data);
        for opted_in in [false, true] {
            let (out, inn) = tcp_pair();
            let receiver = rt::spawn(move || read_all(&inn));
            let mut src = Opaque(tmp.open());
            let (n, d) = delta(|| {
                if opted_in {
                    io::copy(&mut &out, &mut src as &mut dyn FdReader).unwrap()
                } else {
                    io::copy(&mut &out, &mut src).unwrap()
                }
            });
            out.close().unwrap();
            assert_eq!((n, receiver.join().unwrap()), (100_000, data.clone()));
            if opted_in {
                assert_eq!(d.sendfile.bytes, 100_000, "{d:?}");
            } else {
                assert_eq!(d.buffer.bytes, 100_000, "{d:?}");
            }
        }
    });
}

#[test]
fn read_from_and_write_to_are_copy() {
    let _s = serial();
    with_runtime(2, || {
        let data = pattern(300_000, 37);
        let tmp = TempFile::with("readfrom", &data);
        let (out, inn) = tcp_pair();
        let receiver = rt::spawn(move || {
            let mut v = Vec::new();
            inn.write_to(&mut v).unwrap();
            v
        });
        let (n, d) = delta(|| out.read_from(&mut tmp.open()).unwrap());
        out.close().unwrap();
        assert_eq!(n, 300_000);
        assert_eq!(receiver.join().unwrap(), data);
        assert_eq!(d.sendfile.bytes, 300_000);
        let _: fn(&TcpStream, &mut std::fs::File) -> std::io::Result<u64> = TcpStream::read_from;
    });
}

#[test]
fn copies_work_from_a_plain_thread() {
    let _s = serial();
    // No runtime at all: waits park the thread.
    let data = pattern((1 << 20) + 7, 41);
    let tmp = TempFile::with("plain", &data);
    let (out, inn) = tcp_pair();
    let receiver = std::thread::spawn(move || read_all(&inn));
    let (n, d) = delta(|| io::copy(&mut &out, &mut tmp.open()).unwrap());
    out.close().unwrap();
    assert_eq!(n, data.len() as u64);
    assert_eq!(checksum(&receiver.join().unwrap()), checksum(&data));
    assert_eq!(d.sendfile.bytes, data.len() as u64);

    let (n, got, d) = {
        let (a_out, a_in) = tcp_pair();
        let (b_out, b_in) = tcp_pair();
        let sent = data.clone();
        let sender = std::thread::spawn(move || {
            a_out.write_all(&sent).unwrap();
            a_out.close().unwrap();
        });
        let receiver = std::thread::spawn(move || read_all(&b_in));
        let (n, d) = delta(|| io::copy(&mut &b_out, &mut &a_in).unwrap());
        b_out.close().unwrap();
        sender.join().unwrap();
        (n, receiver.join().unwrap(), d)
    };
    assert_eq!(n, data.len() as u64);
    assert_eq!(checksum(&got), checksum(&data));
    assert_eq!(d.splice.bytes, data.len() as u64);
}
