//! `splice(2)` paths (Go's `internal/poll/splice_linux.go`).
//!
//! `splice` needs a pipe on one side. Between two netpark fds (socket or
//! pipe) the bytes go through a pipe of the pool in two steps, so that each
//! `EAGAIN` has one meaning:
//!
//! ```text
//!   drain   src ──splice──▶ pool pipe     EAGAIN: src is empty  → park on src, read
//!   pump    pool pipe ──splice──▶ dst     EAGAIN: dst is full   → park on dst, write
//! ```
//!
//! The pool pipe is empty before every drain, so the drain never meets a
//! full pipe, and the pump runs until the pipe is empty again. (A direct
//! `splice` from a socket into a user's pipe could fail with `EAGAIN` for
//! either end, and no single wait would do.) With a regular file on one side
//! and a netpark pipe on the other the splice is direct: a file never
//! reports `EAGAIN`, so it means the pipe.
//!
//! # Pool invariants
//!
//! - A pooled pipe is non-blocking, close-on-exec, never registered with
//!   epoll (nothing waits on it), and grown with `F_SETPIPE_SZ` to 1 MiB
//!   where the system allows (Go's size); a chunk is at most its size.
//! - A pipe goes back to the pool only empty. One that still holds bytes
//!   when a copy ends (a pump that failed) is closed, so no copy ever sees
//!   another's bytes.
//! - The pool is per thread (a started task never moves), at most
//!   [`KEEP`] pipes: two fds each.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use netpark_runtime::sys::retry_eintr;
use netpark_runtime::Mode;

use super::zero_copy::{chunk, fd_loop, not_here, Failed, PathResult, Side};
use crate::fd::NetFd;
use crate::sys;

/// The pipe size asked for (Go's `maxSpliceSize` and pipe size: 1 MiB).
const PIPE_SIZE: usize = 1 << 20;

/// Idle pipes a thread keeps.
const KEEP: usize = 8;

/// A pipe of the pool.
struct Pipe {
    /// Read end; the pump splices from it.
    r: OwnedFd,
    /// Write end; the drain splices into it.
    w: OwnedFd,
    /// Its capacity in bytes, as the kernel reported it.
    size: usize,
    /// Bytes in the pipe now: set by the drain, brought to 0 by the pump.
    data: usize,
}

thread_local! {
    /// This thread's idle, empty pipes.
    static POOL: RefCell<Vec<Pipe>> = const { RefCell::new(Vec::new()) };
}

fn get_pipe() -> io::Result<Pipe> {
    if let Some(p) = POOL.try_with(|p| p.borrow_mut().pop()).ok().flatten() {
        return Ok(p);
    }
    let (r, w) = sys::pipe()?;
    // A smaller pipe than asked for still works, in smaller chunks.
    let size = sys::set_pipe_size(w.as_raw_fd(), PIPE_SIZE).unwrap_or(64 * 1024);
    Ok(Pipe {
        r,
        w,
        size,
        data: 0,
    })
}

fn put_pipe(p: Pipe) {
    if p.data != 0 {
        return; // holds bytes: dropping closes both ends
    }
    let _ = POOL.try_with(|pool| {
        let mut pool = pool.borrow_mut();
        if pool.len() < KEEP {
            pool.push(p);
        }
    });
}

/// Where the pump writes.
#[derive(Clone, Copy)]
pub(super) enum Out<'a> {
    /// A netpark socket or pipe: `EAGAIN` parks on its write side.
    Net(&'a NetFd),
    /// A regular file: writes never report `EAGAIN`.
    File(RawFd),
}

/// Moves bytes from a netpark fd to `dst` through a pool pipe, until `src`
/// ends or `limit` is reached (Go's `poll.Splice`).
pub(super) fn via_pipe(
    src: &NetFd,
    dst: Out<'_>,
    limit: Option<u64>,
    moved: &mut u64,
) -> PathResult {
    let mut pipe = match get_pipe() {
        Ok(p) => p,
        // No pipe to be had (a full fd table): the buffer loop still works.
        Err(_) => return Ok(false),
    };
    let _w = match dst {
        Out::Net(d) => Some(d.lock_write().map_err(Failed::dst)?),
        Out::File(_) => None,
    };
    loop {
        let want = chunk(limit, *moved, pipe.size);
        if want == 0 {
            break;
        }
        let pw = pipe.w.as_raw_fd();
        match src.io(Mode::Read, |fd| sys::splice(fd, pw, want)) {
            Ok(0) => break,
            Ok(n) => pipe.data = n,
            Err(e) if *moved == 0 && not_here(&e) => {
                put_pipe(pipe);
                return Ok(false);
            }
            Err(e) => {
                put_pipe(pipe);
                return Err(Failed::src(e));
            }
        }
        if let Err(f) = pump(&mut pipe, dst, moved) {
            put_pipe(pipe); // still holds bytes: closed, not pooled
            return Err(f);
        }
    }
    put_pipe(pipe);
    Ok(true)
}

/// Empties the pool pipe into `dst`, counting what lands in `moved`
/// (Go's `splicePump`).
fn pump(pipe: &mut Pipe, dst: Out<'_>, moved: &mut u64) -> Result<(), Failed> {
    let pr = pipe.r.as_raw_fd();
    while pipe.data > 0 {
        let len = pipe.data;
        let n = match dst {
            Out::Net(d) => d.io(Mode::Write, |fd| sys::splice(pr, fd, len)),
            Out::File(f) => retry_eintr(|| sys::splice(pr, f, len)),
        }
        .map_err(Failed::dst)?;
        if n == 0 {
            // The pipe holds bytes and the destination took none: a file
            // system that cannot take spliced pages. Stop rather than spin.
            return Err(Failed::dst(io::ErrorKind::WriteZero.into()));
        }
        pipe.data -= n;
        *moved += n as u64;
    }
    Ok(())
}

/// Moves bytes from a netpark pipe straight into a regular file: `EAGAIN`
/// means the pipe is empty.
pub(super) fn pipe_to_file(
    src: &NetFd,
    file: RawFd,
    limit: Option<u64>,
    moved: &mut u64,
) -> PathResult {
    fd_loop(
        src,
        Mode::Read,
        Side::Src,
        |m| chunk(limit, m, PIPE_SIZE),
        moved,
        |fd, len| sys::splice(fd, file, len),
    )
}

/// Moves bytes from a regular file straight into a netpark pipe: `EAGAIN`
/// means the pipe is full.
pub(super) fn file_to_pipe(
    file: RawFd,
    dst: &NetFd,
    limit: Option<u64>,
    moved: &mut u64,
) -> PathResult {
    let _w = dst.lock_write().map_err(Failed::dst)?;
    fd_loop(
        dst,
        Mode::Write,
        Side::Dst,
        |m| chunk(limit, m, PIPE_SIZE),
        moved,
        |fd, len| sys::splice(file, fd, len),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pooled() -> usize {
        POOL.with(|p| p.borrow().len())
    }

    #[test]
    fn a_pipe_holding_bytes_is_never_pooled() {
        let mut p = get_pipe().unwrap();
        let before = pooled();
        p.data = 1;
        put_pipe(p);
        assert_eq!(pooled(), before, "the dirty pipe was pooled");
        let clean = get_pipe().unwrap();
        put_pipe(clean);
        assert_eq!(pooled(), before + 1, "an empty pipe is pooled");
    }

    #[test]
    fn pool_pipes_are_grown() {
        let p = get_pipe().unwrap();
        assert!(p.size >= 64 * 1024);
        put_pipe(p);
    }
}
