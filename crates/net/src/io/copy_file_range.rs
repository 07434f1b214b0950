//! `copy_file_range(2)` between regular files (Go's
//! `internal/poll/copy_file_range_linux.go`): the file system may share the
//! blocks (a reflink) or copy them without a trip through user space.

#![forbid(unsafe_code)]

use std::os::fd::RawFd;

use netpark_runtime::sys::retry_eintr;

use super::zero_copy::{chunk, Failed, PathResult, Side};
use crate::sys;

/// The most one call copies; between calls the task yields once its budget
/// is spent, so a long copy does not hold its worker.
const CHUNK: usize = 16 << 20;

/// Copies file to file at both files' offsets.
pub(super) fn copy(src: RawFd, dst: RawFd, limit: Option<u64>, moved: &mut u64) -> PathResult {
    loop {
        let want = chunk(limit, *moved, CHUNK);
        if want == 0 {
            return Ok(true);
        }
        netpark_runtime::consume_budget();
        match retry_eintr(|| sys::copy_file_range(src, dst, want)) {
            // Nothing from the first call: maybe a file whose size the
            // kernel does not know (procfs, sysfs), which read(2) serves.
            Ok(0) if *moved == 0 => return Ok(false),
            Ok(0) => return Ok(true),
            Ok(n) => *moved += n as u64,
            Err(e) if *moved == 0 && not_supported(e.raw_os_error()) => return Ok(false),
            Err(e) => return Err(Failed::new(Side::Dst, e)),
        }
    }
}

/// The errnos that mean "not between these two files" (Go's and std's
/// lists): no syscall, different file systems before 5.3 or without
/// support, a destination opened `O_APPEND` (`EBADF`), an immutable or
/// swap file, a file system that refuses.
fn not_supported(errno: Option<i32>) -> bool {
    matches!(
        errno,
        Some(
            libc::ENOSYS
                | libc::EXDEV
                | libc::EINVAL
                | libc::EOPNOTSUPP
                | libc::EPERM
                | libc::EBADF
                | libc::ETXTBSY
                | libc::EOVERFLOW
        )
    )
}
