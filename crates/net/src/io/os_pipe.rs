//! `os_pipe`: a kernel pipe whose ends park tasks (Go's `os.Pipe`, whose
//! files go through the netpoller too).
//!
//! Unlike [`pipe`](super::pipe) (Go's `io.Pipe`, in memory), the bytes sit
//! in the kernel's pipe buffer (64 KiB by default), a write returns as soon
//! as they fit, and the ends are fds: a child process can inherit one, and a
//! [`copy`](super::copy) from or to one moves its bytes by `splice`.

#![forbid(unsafe_code)]

use std::fmt;
use std::io::{self, Read, Write};
use std::os::fd::{IntoRawFd, RawFd};

use crate::fd::NetFd;
use crate::sys;

/// Opens a pipe: bytes written to the [`OsPipeWriter`] are read from the
/// [`OsPipeReader`] (Go's `os.Pipe`). Both ends are non-blocking and
/// close-on-exec; a read of an empty pipe or a write to a full one parks
/// the task (or the thread, outside a runtime).
///
/// # Errors
///
/// `EMFILE` / `ENFILE` when the fd table is full; when the runtime's
/// poll cache is full.
///
/// # Examples
///
/// ```
/// use std::io::Read;
/// let (mut r, w) = netpark_net::io::os_pipe().unwrap();
/// w.write_all(b"through the kernel").unwrap();
/// drop(w); // the reader sees end of file once every writer is closed
/// let mut s = String::new();
/// r.read_to_string(&mut s).unwrap();
/// assert_eq!(s, "through the kernel");
/// ```
pub fn os_pipe() -> io::Result<(OsPipeReader, OsPipeWriter)> {
    let (r, w) = sys::pipe()?;
    Ok((
        OsPipeReader {
            fd: NetFd::new(r, false)?,
        },
        OsPipeWriter {
            fd: NetFd::new(w, false)?,
        },
    ))
}

/// The read end of an [`os_pipe`]. `&OsPipeReader` reads too, so tasks can
/// share one through an `Arc`.
pub struct OsPipeReader {
    /// The pipe's read fd; the runtime's close protocol guards it.
    fd: NetFd,
}

/// The write end of an [`os_pipe`]. Writes of up to `PIPE_BUF` (4 KiB)
/// bytes are atomic, as the kernel makes them; `write_all` of more holds
/// the end's write lock, so it never interleaves with another task's.
pub struct OsPipeWriter {
    /// The pipe's write fd; the runtime's close protocol guards it.
    fd: NetFd,
}

macro_rules! pipe_end {
    ($t:ident) => {
        impl $t {
            /// The registered fd, for the zero-copy paths.
            pub(crate) fn net_fd(&self) -> &NetFd {
                &self.fd
            }

            /// Closes this end; tasks blocked on it wake with "use of closed
            /// network connection" (kind `NotConnected`). Dropping closes it too.
            ///
            /// # Errors
            ///
            /// When already closed.
            pub fn close(&self) -> io::Result<()> {
                self.fd.close()
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($t))
                    .field("fd", &self.fd.raw())
                    .finish()
            }
        }

        impl IntoRawFd for $t {
            fn into_raw_fd(self) -> RawFd {
                self.fd.into_raw()
            }
        }

        impl_deadlines!($t);
    };
}

pipe_end!(OsPipeReader);
pipe_end!(OsPipeWriter);

impl OsPipeReader {
    /// Reads into `buf`; `Ok(0)` once every write end is closed and the pipe
    /// is empty.
    ///
    /// # Errors
    ///
    /// `TimedOut` past a read deadline, `NotConnected` after close,
    /// `Interrupted` when the task is cancelled.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.fd.read(buf)
    }
}

impl OsPipeWriter {
    /// Writes some of `buf` (std's `write`), parking while the pipe is full.
    ///
    /// # Errors
    ///
    /// `BrokenPipe` once the read end is closed (never SIGPIPE: netpark's
    /// runtime ignores it); deadline, close and cancel as [`OsPipeReader::read`].
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.fd.write(buf)
    }

    /// Writes all of `buf`, never interleaved with another task's write.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write); some of `buf` may have been written.
    pub fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        self.fd.write_all(buf)
    }
}

impl Read for OsPipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        OsPipeReader::read(self, buf)
    }
}

impl Read for &OsPipeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        OsPipeReader::read(self, buf)
    }
}

impl Write for OsPipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        OsPipeWriter::write(self, buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        OsPipeWriter::write_all(self, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Write for &OsPipeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        OsPipeWriter::write(self, buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        OsPipeWriter::write_all(self, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
