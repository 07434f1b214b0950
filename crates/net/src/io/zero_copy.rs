//! The decision table: given the two ends of a copy, which syscall moves
//! the bytes inside the kernel (std's `kernel_copy::copy_spec`, Go's
//! `TCPConn.ReadFrom` → `splice` / `sendFile`, `File.ReadFrom` →
//! `copy_file_range`).
//!
//! ```text
//!   src \ dst         netpark socket     netpark pipe       regular file
//!   ───────────────   ────────────────   ────────────────   ──────────────────────
//!   netpark socket    splice via pool    splice via pool    splice via pool
//!   netpark pipe      splice via pool    splice via pool    splice direct
//!   regular file      sendfile           splice direct      copy_file_range, then
//!                                                           sendfile
//!   anything else     (buffer loop)
//! ```
//!
//! "Anything else" is an fd that netpark does not own and that is not a
//! regular file: a tty, a blocking pipe, a device, a std socket. Waiting on
//! it would block the worker, so it takes the buffer loop (and a blocking
//! source is read on a helper thread there; see `copy.rs`).
//!
//! # Falling back
//!
//! A path that fails before it has moved a byte with an errno that means
//! "not here" (Go's and std's lists: `EINVAL`, `ENOSYS`, `EOPNOTSUPP`,
//! `EXDEV`, …) reports "not handled", and the copy goes on to the next path
//! of its cell, then to the buffer loop. Once a byte has moved, every error
//! is the copy's error: the bytes moved are counted, and nothing is moved
//! twice.

#![forbid(unsafe_code)]

use std::io;
use std::os::fd::{AsRawFd, RawFd};

use netpark_runtime::{record_copy, CopyPath, Mode};

use super::copy::write_counted;
use super::ends::{Fd, Sink, Source};
use super::error::partial;
use super::{copy_file_range, sendfile, splice};
use crate::fd::NetFd;
use crate::sys::{self, FileType};

/// Which end of the copy an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    /// The reader.
    Src,
    /// The writer.
    Dst,
}

/// An error of a zero-copy path, with the end it belongs to (for its context).
#[derive(Debug)]
pub(super) struct Failed {
    /// The end whose syscall failed.
    side: Side,
    /// The error as the syscall or the wait returned it.
    err: io::Error,
}

impl Failed {
    pub(super) fn new(side: Side, err: io::Error) -> Failed {
        Failed { side, err }
    }

    pub(super) fn src(err: io::Error) -> Failed {
        Failed::new(Side::Src, err)
    }

    pub(super) fn dst(err: io::Error) -> Failed {
        Failed::new(Side::Dst, err)
    }
}

/// What a path returns: `Ok(true)` when it moved everything (up to the end
/// or the limit), `Ok(false)` when it does not apply and moved nothing.
/// Bytes moved go to the path's `moved` argument in every case.
pub(super) type PathResult = Result<bool, Failed>;

/// The length of the next syscall: at most `max`, at most what the limit
/// leaves; 0 when the limit is reached.
pub(super) fn chunk(limit: Option<u64>, moved: u64, max: usize) -> usize {
    match limit {
        None => max,
        Some(l) => usize::try_from(l.saturating_sub(moved)).map_or(max, |left| left.min(max)),
    }
}

/// Whether a `splice` / `sendfile` error means "this pair of fds cannot do
/// it" rather than "the copy failed" (Go's `splice` and `sendfile` checks).
pub(super) fn not_here(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINVAL | libc::ENOSYS | libc::EOPNOTSUPP | libc::EXDEV | libc::ESPIPE)
    )
}

/// The loop of every path made of one syscall on one netpark fd (Go's
/// `sendFile` loop and the direct splices): ask for `next_len(moved)`
/// bytes through [`NetFd::io`] (so `EAGAIN` parks on `mode` of `net`, as
/// a read or write does), until the length is 0, the syscall moves 0 (the
/// source ended), or it fails: before a byte moved with a "not here"
/// errno, the path does not apply; otherwise the error is `side`'s.
pub(super) fn fd_loop(
    net: &NetFd,
    mode: Mode,
    side: Side,
    next_len: impl Fn(u64) -> usize,
    moved: &mut u64,
    mut op: impl FnMut(RawFd, usize) -> io::Result<usize>,
) -> PathResult {
    loop {
        let want = next_len(*moved);
        if want == 0 {
            return Ok(true);
        }
        match net.io(mode, |fd| op(fd, want)) {
            Ok(0) => return Ok(true),
            Ok(n) => *moved += n as u64,
            Err(e) if *moved == 0 && not_here(&e) => return Ok(false),
            Err(e) => return Err(Failed::new(side, e)),
        }
    }
}

/// What one end is, for the table above.
#[derive(Clone, Copy)]
pub(super) enum Kind<'a> {
    /// A netpark socket.
    Socket(&'a NetFd),
    /// A netpark pipe (or other non-socket netpark fd).
    Pipe(&'a NetFd),
    /// A regular file.
    File(RawFd),
    /// An fd netpark cannot wait on whose calls may block (a tty, a
    /// blocking pipe or socket): read on a helper thread in a task.
    Blocking(RawFd),
    /// Anything else: a device, a non-blocking fd netpark does not own.
    Other,
}

pub(super) fn classify(fd: Fd<'_>) -> Kind<'_> {
    match fd {
        Fd::Net(n) if n.is_socket() => Kind::Socket(n),
        Fd::Net(n) => Kind::Pipe(n),
        Fd::Os(b) => {
            let raw = b.as_raw_fd();
            match sys::file_type(raw) {
                Ok(FileType::Regular) => Kind::File(raw),
                Ok(FileType::Fifo | FileType::Socket | FileType::Other) => {
                    match sys::is_nonblocking(raw) {
                        Ok(false) => Kind::Blocking(raw),
                        _ => Kind::Other,
                    }
                }
                Err(_) => Kind::Other,
            }
        }
    }
}

/// How a kernel copy ended.
pub(super) enum Outcome {
    /// Every byte up to the end of the source (or the limit) was moved.
    Done(u64),
    /// These bytes were moved (the part of a `BufReader`'s buffer, say);
    /// the buffer loop does the rest.
    Fallback(u64),
}

/// Copies `src` to `dst` by the table above, when it has a path for them.
///
/// # Errors
///
/// The first error of a path after it moved a byte (or of one that is not a
/// "not here" errno), with the end's context and the count of bytes moved.
pub(super) fn copy(
    dst: &mut dyn Sink,
    src: &mut dyn Source,
    limit: Option<u64>,
) -> io::Result<Outcome> {
    let limit = match (limit, src.limit()) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    // Bytes a BufReader already holds go first, from user space.
    let mut written = 0u64;
    let held = src.buffered().len().min(chunk(limit, 0, usize::MAX));
    if held > 0 {
        let r = write_counted(dst, &src.buffered()[..held], &mut written);
        src.consume(written as usize);
        record_copy(CopyPath::Buffer, written);
        r?;
    }
    let limit = limit.map(|l| l - written);
    if limit == Some(0) {
        return Ok(Outcome::Done(written));
    }
    dst.flush_buffer().map_err(|e| partial(written, e))?;

    let (path, result, moved) = {
        let s = classify(src.fd());
        let d = classify(dst.fd());
        let mut moved = 0u64;
        let (path, result) = match (s, d) {
            (Kind::Socket(s) | Kind::Pipe(s), Kind::Socket(d) | Kind::Pipe(d)) => (
                CopyPath::Splice,
                splice::via_pipe(s, splice::Out::Net(d), limit, &mut moved),
            ),
            (Kind::Pipe(s), Kind::File(f)) => (
                CopyPath::Splice,
                splice::pipe_to_file(s, f, limit, &mut moved),
            ),
            (Kind::Socket(s), Kind::File(f)) => (
                CopyPath::Splice,
                splice::via_pipe(s, splice::Out::File(f), limit, &mut moved),
            ),
            (Kind::File(f), Kind::Socket(d)) => (
                CopyPath::Sendfile,
                sendfile::file_to_net(f, d, limit, &mut moved),
            ),
            (Kind::File(f), Kind::Pipe(d)) => (
                CopyPath::Splice,
                splice::file_to_pipe(f, d, limit, &mut moved),
            ),
            (Kind::File(f), Kind::File(g)) => {
                match copy_file_range::copy(f, g, limit, &mut moved) {
                    Ok(false) => (
                        CopyPath::Sendfile,
                        sendfile::file_to_file(f, g, limit, &mut moved),
                    ),
                    other => (CopyPath::CopyFileRange, other),
                }
            }
            _ => (CopyPath::Buffer, Ok(false)),
        };
        (path, result, moved)
    };
    if path != CopyPath::Buffer && (moved > 0 || !matches!(result, Ok(false))) {
        record_copy(path, moved);
        netpark_runtime::trace!("copy: {path:?} moved {moved} bytes");
    }
    src.advance(moved);
    written += moved;
    match result {
        Ok(true) => Ok(Outcome::Done(written)),
        Ok(false) => Ok(Outcome::Fallback(written)),
        Err(Failed { side, err }) => {
            let err = match side {
                Side::Src => src.map_err(err),
                Side::Dst => dst.map_err(err),
            };
            Err(partial(written, err))
        }
    }
}
