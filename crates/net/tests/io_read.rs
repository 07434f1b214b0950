//! Go's contracts of `read_full`, `read_at_least`, `copy_buffer` and the
//! counting of `copy`, over plain readers and writers.

mod util;

use std::io::{ErrorKind, Read, Write};

use netpark_net::io;

/// Gives its bytes a few at a time, then an error or the end.
struct Trickle {
    data: Vec<u8>,
    step: usize,
    then: Option<ErrorKind>,
}

impl Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.data.is_empty() {
            return match self.then {
                Some(k) => Err(k.into()),
                None => Ok(0),
            };
        }
        let n = buf.len().min(self.step).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data.drain(..n);
        Ok(n)
    }
}

/// Takes `room` bytes, then fails with `kind` (or accepts nothing).
struct Full {
    got: Vec<u8>,
    room: usize,
    kind: Option<ErrorKind>,
}

impl Write for Full {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.got.len() == self.room {
            return match self.kind {
                Some(k) => Err(k.into()),
                None => Ok(0),
            };
        }
        let n = buf.len().min(self.room - self.got.len());
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn read_full_gathers_short_reads() {
    let mut src = Trickle {
        data: b"hello world".to_vec(),
        step: 3,
        then: None,
    };
    let mut buf = [0u8; 11];
    assert_eq!(io::read_full(&mut src, &mut buf).unwrap(), 11);
    assert_eq!(&buf, b"hello world");
}

#[test]
fn read_full_on_a_source_that_ends_early_keeps_the_count() {
    let mut src = Trickle {
        data: b"abcde".to_vec(),
        step: 2,
        then: None,
    };
    let mut buf = [0u8; 8];
    let e = io::read_full(&mut src, &mut buf).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::UnexpectedEof);
    assert_eq!(e.to_string(), "unexpected EOF");
    assert_eq!(io::done_before(&e), 5);
    assert_eq!(&buf[..5], b"abcde");
    // Nothing at all is Go's plain EOF.
    let e = io::read_full(&mut &b""[..], &mut buf).unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::UnexpectedEof, "EOF".into())
    );
    assert_eq!(io::done_before(&e), 0);
}

#[test]
fn read_at_least_rejects_a_short_buffer_and_stops_at_min() {
    let mut buf = [0u8; 3];
    let e = io::read_at_least(&mut &b"abcdef"[..], &mut buf, 4).unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::InvalidInput, "short buffer".into())
    );
    let mut src = Trickle {
        data: b"abcdef".to_vec(),
        step: 2,
        then: None,
    };
    let mut buf = [0u8; 6];
    assert_eq!(io::read_at_least(&mut src, &mut buf, 3).unwrap(), 4);
    // A read error after some bytes carries their count.
    let mut src = Trickle {
        data: b"ab".to_vec(),
        step: 2,
        then: Some(ErrorKind::ConnectionReset),
    };
    let e = io::read_at_least(&mut src, &mut buf, 3).unwrap_err();
    assert_eq!(
        (e.kind(), io::done_before(&e)),
        (ErrorKind::ConnectionReset, 2)
    );
    // read_at_least(min = 0) reads nothing.
    assert_eq!(io::read_at_least(&mut &b"x"[..], &mut buf, 0).unwrap(), 0);
}

#[test]
fn copy_stops_at_the_first_read_error_with_the_bytes_written() {
    let mut src = Trickle {
        data: vec![9; 100],
        step: 30,
        then: Some(ErrorKind::ConnectionReset),
    };
    let mut out = Vec::new();
    let e = io::copy(&mut out, &mut src).unwrap_err();
    assert_eq!(
        (e.kind(), io::done_before(&e), out.len()),
        (ErrorKind::ConnectionReset, 100, 100)
    );
}

#[test]
fn copy_stops_at_the_first_write_error_or_short_write() {
    let mut dst = Full {
        got: Vec::new(),
        room: 70_000,
        kind: Some(ErrorKind::BrokenPipe),
    };
    let e = io::copy(&mut dst, &mut &vec![1u8; 100_000][..]).unwrap_err();
    assert_eq!(
        (e.kind(), io::done_before(&e)),
        (ErrorKind::BrokenPipe, 70_000)
    );
    let mut dst = Full {
        got: Vec::new(),
        room: 10,
        kind: None,
    };
    let e = io::copy(&mut dst, &mut &b"more than ten bytes"[..]).unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::WriteZero, "short write".into())
    );
    assert_eq!(io::done_before(&e), 10);
}

/// A reader that claims more bytes than the buffer it was given, then EOF.
struct Liar(u8);

impl Read for Liar {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Ok(0);
        }
        self.0 -= 1;
        Ok(buf.len() + 10)
    }
}

/// A writer that claims more bytes than it was given.
struct LiarW;

impl Write for LiarW {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len() + 5)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn readers_and_writers_that_claim_more_than_their_buffer_are_errors_not_panics() {
    for e in [
        io::copy(&mut Vec::new(), &mut Liar(2)).unwrap_err(),
        io::copy_n(&mut Vec::new(), &mut Liar(2), 100).unwrap_err(),
        io::read_full(&mut Liar(2), &mut [0u8; 4]).unwrap_err(),
        io::read_at_least(&mut Liar(2), &mut [0u8; 8], 2).unwrap_err(),
    ] {
        assert_eq!(
            (e.kind(), e.to_string()),
            (ErrorKind::InvalidData, "invalid read result".into())
        );
    }
    let e = io::copy(&mut LiarW, &mut &b"abc"[..]).unwrap_err();
    assert_eq!(
        (e.kind(), e.to_string()),
        (ErrorKind::InvalidData, "invalid write result".into())
    );
}

#[test]
fn copy_buffer_uses_the_callers_buffer_and_rejects_an_empty_one() {
    let mut buf = [0u8; 5];
    let mut src = Trickle {
        data: b"0123456789abc".to_vec(),
        step: 100,
        then: None,
    };
    let mut out = Vec::new();
    assert_eq!(io::copy_buffer(&mut out, &mut src, &mut buf).unwrap(), 13);
    assert_eq!(&out, b"0123456789abc");
    assert_eq!(&buf, b"abc89", "the last read went through it");
    let e = io::copy_buffer(&mut out, &mut &b"x"[..], &mut []).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidInput);
}

#[test]
fn copy_n_reads_no_more_than_it_writes() {
    let mut src: &[u8] = b"0123456789";
    let mut out = Vec::new();
    assert_eq!(io::copy_n(&mut out, &mut src, 4).unwrap(), 4);
    assert_eq!((&out[..], src), (&b"0123"[..], &b"456789"[..]));
    assert_eq!(io::copy_n(&mut out, &mut src, 0).unwrap(), 0);
    assert_eq!(src, b"456789");
}

#[test]
fn any_reader_and_writer_is_accepted() {
    let mut out = Vec::new();
    let mut r = std::io::BufReader::new(&b"buffered"[..]);
    assert_eq!(io::copy(&mut out, &mut r).unwrap(), 8);
    let mut chained = (&b"ab"[..]).chain(&b"cd"[..]);
    assert_eq!(io::copy(&mut out, &mut chained).unwrap(), 4);
    let mut boxed: Box<dyn Read> = Box::new(&b"ef"[..]);
    assert_eq!(io::copy(&mut out, &mut boxed).unwrap(), 2);
    let mut sink = std::io::sink();
    assert_eq!(
        io::copy(&mut sink, &mut std::io::repeat(0).take(70_000)).unwrap(),
        70_000
    );
    assert_eq!(out, b"bufferedabcdef");
}
