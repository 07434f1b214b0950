//! `copy`, `copy_buffer`, `copy_n` (Go's `io.Copy`, `io.CopyBuffer`,
//! `io.CopyN`): zero-copy when both ends are kernel objects, the buffer loop
//! otherwise.

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::RawFd;
use std::sync::Arc;

use netpark_runtime::sys::retry_eintr;
use netpark_runtime::{record_copy, run_blocking, CopyPath};

use super::ends::Source;
use super::error::partial;
use super::read::read_checked;
use super::zero_copy::{self, chunk, classify, Kind, Outcome};
use super::{buffer, probe, retryable};
use crate::sys;

/// Copies `src` to `dst` until `src` ends, and returns the bytes written
/// (Go's `io.Copy`). A successful copy is `Ok`, never an end-of-file error.
///
/// When both ends are kernel objects the bytes never enter user space:
/// socket or pipe to socket, pipe or file by `splice` (through a pooled
/// pipe), file to socket by `sendfile`, file to file by `copy_file_range`.
/// The ends are recognised by type: [`TcpStream`](crate::TcpStream),
/// [`UnixStream`](crate::UnixStream), [`OsPipeReader`](super::OsPipeReader)
/// / [`OsPipeWriter`](super::OsPipeWriter) and `std::fs::File`, by value,
/// `&` or `&mut`; a reader inside `Take` (its limit is honoured and shrunk
/// as a buffered copy would) or `BufReader` (its buffer goes first); a
/// writer inside `BufWriter` (flushed first); and any type of yours passed
/// as `&mut dyn` [`FdReader`](super::FdReader) / [`FdWriter`](super::FdWriter).
/// Every other reader and writer (`&[u8]`, `Vec<u8>`, an encoder, …) is
/// copied through a 32 KiB buffer from a per-thread pool.
///
/// Waits park the task: on the source's read side while it is empty, on
/// the destination's write side while it is full, honouring both ends'
/// deadlines and `close`, and the task's cancellation. Outside a runtime
/// they park the thread.
///
/// # Errors
///
/// The first read error, write error, or write that accepts nothing
/// (`WriteZero`, Go's `ErrShortWrite`), with its kind, its OS error code
/// ([`os_error`](crate::os_error)), the context of the end it came from
/// (`write tcp a->b: broken pipe`), and the bytes written before it
/// ([`done_before`](super::done_before)).
///
/// # Examples
///
/// ```
/// let mut out = Vec::new();
/// let n = netpark_net::io::copy(&mut out, &mut &b"any reader"[..]).unwrap();
/// assert_eq!((n, &out[..]), (10, &b"any reader"[..]));
/// ```
///
/// # Notes
///
/// A source that netpark cannot wait on and whose reads may block (a tty,
/// a blocking pipe: a `File` made from one) is read on a helper thread
/// ([`run_blocking`]) when the copy runs in a task, so the worker goes on
/// running other tasks; from a plain thread it is read directly, as std
/// does. A generic reader or writer is called as it is: if it blocks, it
/// blocks its worker (wrap such a call in `run_blocking`).
pub fn copy<W: Write + ?Sized, R: Read + ?Sized>(dst: &mut W, src: &mut R) -> io::Result<u64> {
    copy_with(dst, src, None, None)
}

/// [`copy`] through the caller's buffer instead of a pooled one (Go's
/// `io.CopyBuffer`). When both ends are kernel objects the buffer is not
/// used at all, as in Go.
///
/// # Errors
///
/// `InvalidInput` for an empty buffer (Go panics); otherwise as [`copy`].
pub fn copy_buffer<W: Write + ?Sized, R: Read + ?Sized>(
    dst: &mut W,
    src: &mut R,
    buf: &mut [u8],
) -> io::Result<u64> {
    if buf.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "empty buffer in copy_buffer",
        ));
    }
    copy_with(dst, src, None, Some(buf))
}

/// Copies exactly `n` bytes, or until `src` ends (Go's `io.CopyN`). The
/// buffer loop reads at most `min(max(n, 1), 32 KiB)` at a time, so it
/// never takes more from `src` than it writes; the zero-copy paths never
/// ask the kernel for more than `n`.
///
/// # Errors
///
/// `UnexpectedEof` ("EOF", Go's `io.EOF`) when `src` ends before `n`
/// bytes, after writing what it had ([`done_before`](super::done_before)
/// says how much); otherwise as [`copy`].
pub fn copy_n<W: Write + ?Sized, R: Read + ?Sized>(
    dst: &mut W,
    src: &mut R,
    n: u64,
) -> io::Result<u64> {
    let written = copy_with(dst, src, Some(n), None)?;
    if written < n {
        let eof = io::Error::new(io::ErrorKind::UnexpectedEof, "EOF");
        return Err(partial(written, eof));
    }
    Ok(written)
}

/// The one copy: the kernel's paths when both ends allow, then a helper
/// thread's reads for a blocking source, then the buffer loop.
fn copy_with<W: Write + ?Sized, R: Read + ?Sized>(
    dst: &mut W,
    src: &mut R,
    limit: Option<u64>,
    buf: Option<&mut [u8]>,
) -> io::Result<u64> {
    let mut written = 0;
    if let (Some(mut s), Some(mut d)) = (probe::source(src), probe::sink(dst)) {
        match zero_copy::copy(d.sink(), s.source(), limit)? {
            Outcome::Done(n) => return Ok(n),
            Outcome::Fallback(n) => written = n,
        }
    }
    let limit = limit.map(|l| l - written);
    if netpark_runtime::task::current_id().is_some() {
        if let Some(mut r) = probe::source(src) {
            let s = r.source();
            if let Kind::Blocking(fd) = classify(s.fd()) {
                if s.buffered().is_empty() {
                    return read_on_helper(dst, s, fd, limit, written);
                }
            }
        }
    }
    buffer_loop(dst, src, limit, buf, written)
}

/// Go's `copyBuffer` loop: read a buffer, write all of it, again.
fn buffer_loop<W: Write + ?Sized, R: Read + ?Sized>(
    dst: &mut W,
    src: &mut R,
    limit: Option<u64>,
    user: Option<&mut [u8]>,
    mut written: u64,
) -> io::Result<u64> {
    let mut pooled;
    let buf: &mut [u8] = match user {
        Some(b) => b,
        None => {
            pooled = buffer::take();
            let size = limit.map_or(buffer::SIZE, |l| l.clamp(1, buffer::SIZE as u64) as usize);
            &mut pooled[..size]
        }
    };
    let start = written;
    let result = loop {
        let want = chunk(limit, written - start, buf.len());
        if want == 0 {
            break Ok(());
        }
        match read_checked(src, &mut buf[..want]) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                if let Err(e) = write_counted(dst, &buf[..n], &mut written) {
                    break Err(e);
                }
            }
            Err(e) if retryable(&e) => {}
            Err(e) => break Err(e),
        }
    };
    record_copy(CopyPath::Buffer, written - start);
    netpark_runtime::trace!("copy: buffer loop moved {} bytes", written - start);
    result.map(|()| written).map_err(|e| partial(written, e))
}

/// The buffer loop for a source whose reads may block and that netpark
/// cannot wait on: each read runs on a helper thread (on a duplicate of
/// the fd, so a cancelled wait cannot leave a read on a closed number)
/// while the task parks.
fn read_on_helper<W: Write + ?Sized>(
    dst: &mut W,
    src: &mut dyn Source,
    fd: RawFd,
    limit: Option<u64>,
    mut written: u64,
) -> io::Result<u64> {
    let limit = match (limit, src.limit()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let file = Arc::new(File::from(sys::dup(fd).map_err(|e| partial(written, e))?));
    let start = written;
    let result = loop {
        let want = chunk(limit, written - start, buffer::SIZE);
        if want == 0 {
            break Ok(());
        }
        let f = file.clone();
        let got = run_blocking(move || {
            let mut v = vec![0u8; want];
            retry_eintr(|| (&*f).read(&mut v)).map(|n| {
                v.truncate(n);
                v
            })
        });
        let bytes = match got.and_then(|r| r) {
            Ok(b) if b.is_empty() => break Ok(()),
            Ok(b) => b,
            Err(e) => break Err(src.map_err(e)),
        };
        src.advance(bytes.len() as u64);
        if let Err(e) = write_counted(dst, &bytes, &mut written) {
            break Err(e);
        }
    };
    record_copy(CopyPath::Buffer, written - start);
    result.map(|()| written).map_err(|e| partial(written, e))
}

/// Writes all of `buf`, adding each accepted byte to `written` as it goes,
/// so an error leaves the exact count (std's `write_all` would lose it).
///
/// # Errors
///
/// The writer's error; `WriteZero` ("short write", Go's `ErrShortWrite`)
/// for a write that accepts nothing; `InvalidData` ("invalid write result",
/// Go's `errInvalidWrite`) for one that claims more than it was given.
pub(super) fn write_counted<W: Write + ?Sized>(
    dst: &mut W,
    mut buf: &[u8],
    written: &mut u64,
) -> io::Result<()> {
    while !buf.is_empty() {
        match dst.write(buf) {
            Ok(0) => return Err(io::Error::new(io::ErrorKind::WriteZero, "short write")),
            Ok(n) if n > buf.len() => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "invalid write result",
                ))
            }
            Ok(n) => {
                *written += n as u64;
                buf = &buf[n..];
            }
            Err(e) if retryable(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
