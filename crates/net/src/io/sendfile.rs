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

use super::zero_copy::{chunk, not_here, Failed, PathResult, Side};
use crate::fd::NetFd;
use crate::sys;

/// The most one call sends (Go's `maxSendfileSize`: 4 MiB), so that a large
/// file does not hold the destination's write lock in one long syscall.
const CHUNK: usize = 4 << 20;

/// Sends a file's bytes to a netpark socket (Go's `poll.SendFile`).
pub(super) fn file_to_net(
    file: RawFd,
    dst: &NetFd,
    limit: Option<u64>,
    moved: &mut u64,
) -> PathResult {
    let _w = dst.lock_write().map_err(Failed::dst)?;
    loop {
        let want = chunk(limit, *moved, CHUNK);
        if want == 0 {
            return Ok(true);
        }
        match dst.io(Mode::Write, |fd| sys::sendfile(fd, file, want)) {
            Ok(0) => return Ok(true),
            Ok(n) => *moved += n as u64,
            Err(e) if *moved == 0 && not_here(&e) => return Ok(false),
            Err(e) => return Err(Failed::dst(e)),
        }
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
