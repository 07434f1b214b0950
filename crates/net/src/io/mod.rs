//! Go's `io` package on netpark: `copy`, `copy_buffer`, `copy_n`,
//! `read_full`, `read_at_least`, `pipe`, and the zero-copy paths that Go's
//! `io.Copy` reaches through `TCPConn.ReadFrom` (`splice`, `sendfile`,
//! `copy_file_range`).
//!
//! | Go | netpark |
//! |---|---|
//! | `io.Copy(dst, src)` | [`copy`]`(&mut dst, &mut src)` |
//! | `io.CopyBuffer` | [`copy_buffer`] |
//! | `io.CopyN` | [`copy_n`] |
//! | `io.ReadFull`, `io.ReadAtLeast` | [`read_full`], [`read_at_least`] |
//! | `io.Pipe()` | [`pipe`] → [`PipeReader`], [`PipeWriter`] |
//! | `os.Pipe()` | [`os_pipe`] → [`OsPipeReader`], [`OsPipeWriter`] |
//! | `io.LimitReader(r, n)` | `std::io::Read::take(r, n)` (honoured by every zero-copy path) |
//! | `io.ReaderFrom`, `io.WriterTo` | [`TcpStream::read_from`](crate::TcpStream::read_from), [`TcpStream::write_to`](crate::TcpStream::write_to); [`FdReader`] / [`FdWriter`] for a type of yours |
//! | `(n, err)` | `io::Result`, with `n` in the error: [`done_before`], [`Partial`] |
//!
//! # Which path moves the bytes
//!
//! [`copy`] looks at the two ends' types (`probe.rs`). When both are kernel
//! objects it asks the kernel to move the bytes (`zero_copy.rs`):
//!
//! | source \ destination | socket | pipe | regular file |
//! |---|---|---|---|
//! | socket (TCP, Unix) | `splice` via a pooled pipe | `splice` via a pooled pipe | `splice` via a pooled pipe |
//! | pipe ([`OsPipeReader`]) | `splice` via a pooled pipe | `splice` via a pooled pipe | `splice` |
//! | regular file | `sendfile` | `splice` | `copy_file_range`, then `sendfile` |
//!
//! and otherwise copies through a 32 KiB buffer from a per-thread pool.
//! A zero-copy path that the kernel refuses before a byte has moved
//! (`EINVAL`, `ENOSYS`, `EXDEV`, …) falls back to the next. The counters in
//! `netpark_runtime::stats().copy` say which path moved how many bytes, and
//! a `trace` log line names it.

mod buffer;
mod copy;
mod copy_file_range;
mod ends;
mod error;
mod os_pipe;
mod pipe;
mod probe;
mod read;
mod sendfile;
mod splice;
mod zero_copy;

use std::io;

pub use copy::{copy, copy_buffer, copy_n};
pub use ends::{Fd, FdReader, FdWriter};
pub use error::{done_before, Partial};
pub use os_pipe::{os_pipe, OsPipeReader, OsPipeWriter};
pub use pipe::{pipe, PipeReader, PipeWriter};
pub use read::{read_at_least, read_checked, read_full};

/// Whether an error is worth retrying at once: `EINTR`, but never a netpark
/// task cancellation (also `Interrupted`), which would then spin.
fn retryable(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::Interrupted && !netpark_runtime::error::is_cancelled(e)
}
