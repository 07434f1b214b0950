//! `sendfile(2)` paths (Go's `internal/poll/sendfile_linux.go`).
//!
//! The file side is a regular file, which never reports `EAGAIN`; so an
//! `EAGAIN` means the destination socket is full, and the copy parks on its
//! write side (Go's `dstFD.pd.waitWrite`). The file offset is the kernel's
//! own (a null offset pointer): it starts where the file's offset is and is
//! left where a buffered copy would have left it.

#![forbid(unsafe_code)]

use std::os::fd::RawFd;

use netpark_runtime::sys::retry_eintr;
use netpark_runtime::Mode;

use super::zero_copy::{chunk, fd_loop, not_here, Failed, PathResult, Side};
use crate::fd::NetFd;
use crate::sys;

/// The most one call sends (Go's `maxSendfileSize`: 4 MiB), so that a large
/// file does not hold the destination's write lock in one long syscall.
const CHUNK: usize = 4 << 20;

/// Sends a file's bytes to a netpark socket (Go's `poll.SendFile`).
///
/// Without a limit, each call asks for no more than the file holds (its
/// size less its offset) until that much has gone, then one more call sees
/// the end (or bytes the file gained meanwhile). Asking for more than the
/// file holds makes the kernel mark the last pages "more to come"
/// (`SPLICE_F_MORE` inside `sendfile`), and TCP holds them back for up to
/// 200 ms: a small response on a kept-alive connection would wait that long
/// (Go's #41513 and #45256, the cause behind #61530's slower `ServeFile`).
pub(super) fn file_to_net(
    file: RawFd,
    dst: &NetFd,
    limit: Option<u64>,
    moved: &mut u64,
) -> PathResult {
    let _w = dst.lock_write().map_err(Failed::dst)?;
    let size = match limit {
        Some(_) => None,
        None => sys::file_remaining(file).ok(),
    };
    fd_loop(
        dst,
        Mode::Write,
        Side::Dst,
        |moved| next_len(limit, size, moved),
        moved,
        |fd, len| sys::sendfile(fd, file, len),
    )
}

/// The length of the next `sendfile` to a socket: a chunk, within the
/// limit, and within the file's `size` until that much has moved.
fn next_len(limit: Option<u64>, size: Option<u64>, moved: u64) -> usize {
    let want = chunk(limit, moved, CHUNK);
    match size
        .and_then(|s| s.checked_sub(moved))
        .filter(|&left| left > 0)
    {
        Some(left) => want.min(usize::try_from(left).unwrap_or(usize::MAX)),
        None => want,
    }
}

/// Sends a file's bytes to another regular file (the second choice after
/// `copy_file_range`). Neither side can report `EAGAIN`; the task yields
/// between chunks so a long copy does not hold its worker.
pub(super) fn file_to_file(
    file: RawFd,
    dst: RawFd,
    limit: Option<u64>,
    moved: &mut u64,
) -> PathResult {
    loop {
        let want = chunk(limit, *moved, CHUNK);
        if want == 0 {
            return Ok(true);
        }
        netpark_runtime::consume_budget();
        match retry_eintr(|| sys::sendfile(dst, file, want)) {
            // Nothing at all from a file: it may be one whose size the
            // kernel does not know (procfs, sysfs), which read(2) serves.
            Ok(0) if *moved == 0 => return Ok(false),
            Ok(0) => return Ok(true),
            Ok(n) => *moved += n as u64,
            Err(e) if *moved == 0 && not_here(&e) => return Ok(false),
            Err(e) => return Err(Failed::new(Side::Dst, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendfile_never_asks_for_more_than_the_file_holds() {
        // A 1,500-byte file: one call of 1,500, then one that sees the end.
        assert_eq!(next_len(None, Some(1500), 0), 1500);
        assert_eq!(next_len(None, Some(1500), 1500), CHUNK);
        // A large file: chunks, then the tail exactly.
        let size = (CHUNK as u64) * 2 + 10;
        assert_eq!(next_len(None, Some(size), 0), CHUNK);
        assert_eq!(next_len(None, Some(size), 2 * CHUNK as u64), 10);
        // A limit wins over the size.
        assert_eq!(next_len(Some(100), Some(1500), 0), 100);
        assert_eq!(next_len(Some(100), None, 100), 0);
    }
}
