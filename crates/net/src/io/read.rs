//! `read_full` and `read_at_least` (Go's `io.ReadFull`, `io.ReadAtLeast`).

#![forbid(unsafe_code)]

use std::io::{self, Read};

use super::error::partial;
use super::retryable;

/// Reads until `buf` holds at least `min` bytes (Go's `io.ReadAtLeast`);
/// returns how many it read, which may be more than `min`.
///
/// # Errors
///
/// - `InvalidInput` ("short buffer", Go's `ErrShortBuffer`) when
///   `buf.len() < min`, before any read;
/// - `UnexpectedEof` when the source ends first: "EOF" when it gave nothing,
///   "unexpected EOF" when it gave some (Go's `EOF` / `ErrUnexpectedEOF`);
/// - the source's first error otherwise.
///
/// Every error after a read carries the count of bytes read into `buf` so
/// far: [`done_before`](super::done_before) reads it (Go's `n` beside `err`).
/// `Interrupted` from `EINTR` is retried; a netpark task cancellation is not.
///
/// # Examples
///
/// ```
/// let mut buf = [0u8; 8];
/// let n = netpark_net::io::read_at_least(&mut &b"hello world"[..], &mut buf, 4).unwrap();
/// assert!(n >= 4);
/// ```
pub fn read_at_least<R: Read + ?Sized>(
    src: &mut R,
    buf: &mut [u8],
    min: usize,
) -> io::Result<usize> {
    if buf.len() < min {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "short buffer"));
    }
    let mut n = 0;
    while n < min {
        match read_checked(src, &mut buf[n..]) {
            Ok(0) => {
                let what = if n == 0 { "EOF" } else { "unexpected EOF" };
                let e = io::Error::new(io::ErrorKind::UnexpectedEof, what);
                return Err(partial(n as u64, e));
            }
            Ok(k) => n += k,
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(partial(n as u64, e)),
        }
    }
    Ok(n)
}

/// Reads exactly `buf.len()` bytes (Go's `io.ReadFull`).
///
/// # Errors
///
/// As [`read_at_least`] with `min = buf.len()`: an `UnexpectedEof` error
/// when the source ends early, whose [`done_before`](super::done_before) says
/// how many bytes did arrive (they are in `buf`).
pub fn read_full<R: Read + ?Sized>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let min = buf.len();
    read_at_least(src, buf, min)
}

/// One read that trusts no count past the buffer: a `Read` that claims
/// more than `buf.len()` bytes breaks `Read`'s contract, and slicing by
/// its count would panic. The mirror of the writes' "invalid write result"
/// (Go's `errInvalidWrite`). Every read netpark makes from a caller's
/// `Read` goes through here (the copy loop, `read_at_least`, `http::post`).
///
/// # Errors
///
/// The reader's error; `InvalidData` ("invalid read result") for a count
/// past the buffer.
pub fn read_checked<R: Read + ?Sized>(src: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    match src.read(buf) {
        Ok(n) if n > buf.len() => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "invalid read result",
        )),
        r => r,
    }
}
