//! The two ends of a copy as the kernel sees them: the shape of std's
//! `kernel_copy` (`CopyRead` / `CopyWrite`), without specialization.
//!
//! A copy asks each end one question: which fd do your bytes come from (or
//! go to), and what stands between that fd and the caller? A `Take` puts a
//! limit in between, a `BufReader` some bytes already read, a `BufWriter`
//! some bytes not yet written. [`Source`] and [`Sink`] carry those answers;
//! the zero-copy paths (`zero_copy.rs`) work only on them.
//!
//! Users opt their own types in through the public traits [`FdReader`] and
//! [`FdWriter`] (see `probe.rs` for how a copy finds them).

#![forbid(unsafe_code)]

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Take, Write};
use std::os::fd::{AsFd, BorrowedFd};

use crate::fd::NetFd;
use crate::{TcpStream, UnixStream};

use super::os_pipe::{OsPipeReader, OsPipeWriter};

/// An fd that a copy may hand to the kernel.
#[derive(Debug, Clone, Copy)]
pub enum Fd<'a> {
    /// A netpark fd (a socket or a pipe): non-blocking and registered with
    /// the runtime, so a copy that meets `EAGAIN` on it parks on its
    /// `PollDesc`, honouring its deadlines and `close`.
    Net(&'a NetFd),
    /// Any other fd. At copy time `fstat` decides: a regular file is used
    /// by `sendfile`, `splice` and `copy_file_range` (it never reports
    /// `EAGAIN`); anything else (a tty, a blocking pipe, a device, a socket
    /// netpark does not own) takes the buffer loop.
    Os(BorrowedFd<'a>),
}

/// A reader whose bytes come straight from one fd, with nothing buffered in
/// between: [`copy`](super::copy) may move them inside the kernel.
///
/// Implemented by [`TcpStream`], [`UnixStream`], [`OsPipeReader`] and
/// `std::fs::File` (and `&` of each), which `copy` recognises by type. A
/// type of yours that wraps an fd opts in by implementing this and passing
/// itself to `copy` as `&mut dyn FdReader`:
///
/// ```
/// use std::io::Read;
/// use netpark_net::io::{self, Fd, FdReader};
///
/// /// A file that counts nothing and adds nothing: its reads are the fd's.
/// struct Plain(std::fs::File);
/// impl Read for Plain {
///     fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
///         self.0.read(buf)
///     }
/// }
/// impl FdReader for Plain {
///     fn read_fd(&self) -> Fd<'_> {
///         Fd::Os(std::os::fd::AsFd::as_fd(&self.0))
///     }
/// }
///
/// let path = std::env::temp_dir().join(format!("fdreader-doc-{}", std::process::id()));
/// std::fs::write(&path, b"hello").unwrap();
/// let mut src = Plain(std::fs::File::open(&path).unwrap());
/// let mut dst = std::fs::File::create(path.with_extension("out")).unwrap();
/// let n = io::copy(&mut dst, &mut src as &mut dyn FdReader).unwrap();
/// assert_eq!(n, 5);
/// assert_eq!(netpark_runtime::stats().copy.copy_file_range.bytes >= 5, true);
/// # std::fs::remove_file(&path).unwrap();
/// # std::fs::remove_file(path.with_extension("out")).unwrap();
/// ```
///
/// # Notes
///
/// A type whose `Read` transforms, buffers or counts the bytes must not
/// implement this: a zero-copy copy reads the fd directly and never calls
/// its `read`.
pub trait FdReader: Read {
    /// The fd the bytes come from.
    fn read_fd(&self) -> Fd<'_>;

    /// Adds this end's context to an error of a zero-copy syscall (Go's
    /// `OpError`: `read tcp a->b: …`); the default returns it unchanged.
    fn read_fd_error(&self, err: io::Error) -> io::Error {
        err
    }
}

/// A writer whose bytes go straight to one fd: [`copy`](super::copy) may
/// move bytes into it inside the kernel. The writer's counterpart of
/// [`FdReader`]; opt in the same way, as `&mut dyn FdWriter`.
pub trait FdWriter: Write {
    /// The fd the bytes go to.
    fn write_fd(&self) -> Fd<'_>;

    /// Adds this end's context to an error of a zero-copy syscall; the
    /// default returns it unchanged.
    fn write_fd_error(&self, err: io::Error) -> io::Error {
        err
    }
}

macro_rules! net_fd_ends {
    ($($t:ty),*) => {$(
        impl FdReader for $t {
            fn read_fd(&self) -> Fd<'_> {
                Fd::Net(&self.fd)
            }
            fn read_fd_error(&self, err: io::Error) -> io::Error {
                self.err("read", err)
            }
        }
        impl FdReader for &$t {
            fn read_fd(&self) -> Fd<'_> {
                Fd::Net(&self.fd)
            }
            fn read_fd_error(&self, err: io::Error) -> io::Error {
                self.err("read", err)
            }
        }
        impl FdWriter for $t {
            fn write_fd(&self) -> Fd<'_> {
                Fd::Net(&self.fd)
            }
            fn write_fd_error(&self, err: io::Error) -> io::Error {
                self.err("write", err)
            }
        }
        impl FdWriter for &$t {
            fn write_fd(&self) -> Fd<'_> {
                Fd::Net(&self.fd)
            }
            fn write_fd_error(&self, err: io::Error) -> io::Error {
                self.err("write", err)
            }
        }
    )*};
}

net_fd_ends!(TcpStream, UnixStream);

impl FdReader for OsPipeReader {
    fn read_fd(&self) -> Fd<'_> {
        Fd::Net(self.net_fd())
    }
}

impl FdReader for &OsPipeReader {
    fn read_fd(&self) -> Fd<'_> {
        Fd::Net(self.net_fd())
    }
}

impl FdWriter for OsPipeWriter {
    fn write_fd(&self) -> Fd<'_> {
        Fd::Net(self.net_fd())
    }
}

impl FdWriter for &OsPipeWriter {
    fn write_fd(&self) -> Fd<'_> {
        Fd::Net(self.net_fd())
    }
}

impl FdReader for File {
    fn read_fd(&self) -> Fd<'_> {
        Fd::Os(self.as_fd())
    }
}

impl FdReader for &File {
    fn read_fd(&self) -> Fd<'_> {
        Fd::Os(self.as_fd())
    }
}

impl FdWriter for File {
    fn write_fd(&self) -> Fd<'_> {
        Fd::Os(self.as_fd())
    }
}

impl FdWriter for &File {
    fn write_fd(&self) -> Fd<'_> {
        Fd::Os(self.as_fd())
    }
}

/// The reading end of a copy, as the zero-copy paths see it.
///
/// Implemented for every [`FdReader`] (directly, and behind `&mut`), and for
/// `Take` and `BufReader` around a `Source`, so the wrappers' state stays
/// exactly what a buffered copy would have left.
pub(crate) trait Source: Read {
    /// The fd the bytes come from once [`buffered`](Self::buffered) is empty.
    fn fd(&self) -> Fd<'_>;
    /// Adds this end's context to a syscall error.
    fn map_err(&self, err: io::Error) -> io::Error;
    /// How many bytes the copy may take at most (a `Take`'s limit); `None`
    /// for no limit.
    fn limit(&self) -> Option<u64> {
        None
    }
    /// Records that the kernel took `n` bytes from the fd: a `Take` shrinks
    /// its limit by `n`, as if `read` had returned them.
    fn advance(&mut self, _n: u64) {}
    /// Bytes already read from the fd and held in user space (a
    /// `BufReader`'s), which must be written before the fd's.
    fn buffered(&self) -> &[u8] {
        &[]
    }
    /// Marks `n` bytes of [`buffered`](Self::buffered) as written.
    fn consume(&mut self, _n: usize) {}
}

/// The writing end of a copy, as the zero-copy paths see it.
pub(crate) trait Sink: Write {
    /// The fd the bytes go to once [`flush_buffer`](Self::flush_buffer) has run.
    fn fd(&self) -> Fd<'_>;
    /// Adds this end's context to a syscall error.
    fn map_err(&self, err: io::Error) -> io::Error;
    /// Writes out bytes held in user space (a `BufWriter`'s), so the
    /// kernel's bytes land after them.
    fn flush_buffer(&mut self) -> io::Result<()> {
        Ok(())
    }
}

macro_rules! source_of_fd_reader {
    ($($t:ty),*) => {$(
        impl Source for $t {
            fn fd(&self) -> Fd<'_> {
                FdReader::read_fd(self)
            }
            fn map_err(&self, err: io::Error) -> io::Error {
                FdReader::read_fd_error(self, err)
            }
        }
    )*};
}

macro_rules! sink_of_fd_writer {
    ($($t:ty),*) => {$(
        impl Sink for $t {
            fn fd(&self) -> Fd<'_> {
                FdWriter::write_fd(self)
            }
            fn map_err(&self, err: io::Error) -> io::Error {
                FdWriter::write_fd_error(self, err)
            }
        }
    )*};
}

source_of_fd_reader!(
    TcpStream,
    &TcpStream,
    UnixStream,
    &UnixStream,
    OsPipeReader,
    &OsPipeReader,
    File,
    &File,
    dyn FdReader + '_,
    dyn FdReader + Send + '_
);

sink_of_fd_writer!(
    TcpStream,
    &TcpStream,
    UnixStream,
    &UnixStream,
    OsPipeWriter,
    &OsPipeWriter,
    File,
    &File,
    dyn FdWriter + '_,
    dyn FdWriter + Send + '_
);

impl<S: Source + ?Sized> Source for &mut S {
    fn fd(&self) -> Fd<'_> {
        (**self).fd()
    }
    fn map_err(&self, err: io::Error) -> io::Error {
        (**self).map_err(err)
    }
    fn limit(&self) -> Option<u64> {
        (**self).limit()
    }
    fn advance(&mut self, n: u64) {
        (**self).advance(n)
    }
    fn buffered(&self) -> &[u8] {
        (**self).buffered()
    }
    fn consume(&mut self, n: usize) {
        (**self).consume(n)
    }
}

impl<S: Sink + ?Sized> Sink for &mut S {
    fn fd(&self) -> Fd<'_> {
        (**self).fd()
    }
    fn map_err(&self, err: io::Error) -> io::Error {
        (**self).map_err(err)
    }
    fn flush_buffer(&mut self) -> io::Result<()> {
        (**self).flush_buffer()
    }
}

impl<S: Source> Source for Take<S> {
    fn fd(&self) -> Fd<'_> {
        self.get_ref().fd()
    }
    fn map_err(&self, err: io::Error) -> io::Error {
        self.get_ref().map_err(err)
    }
    fn limit(&self) -> Option<u64> {
        let own = Take::limit(self);
        Some(self.get_ref().limit().map_or(own, |inner| inner.min(own)))
    }
    fn advance(&mut self, n: u64) {
        self.set_limit(Take::limit(self).saturating_sub(n));
        self.get_mut().advance(n);
    }
    fn buffered(&self) -> &[u8] {
        let b = self.get_ref().buffered();
        &b[..b
            .len()
            .min(usize::try_from(Take::limit(self)).unwrap_or(usize::MAX))]
    }
    fn consume(&mut self, n: usize) {
        self.set_limit(Take::limit(self).saturating_sub(n as u64));
        self.get_mut().consume(n);
    }
}

impl<S: Source> Source for BufReader<S> {
    fn fd(&self) -> Fd<'_> {
        self.get_ref().fd()
    }
    fn map_err(&self, err: io::Error) -> io::Error {
        self.get_ref().map_err(err)
    }
    fn limit(&self) -> Option<u64> {
        self.get_ref().limit()
    }
    fn advance(&mut self, n: u64) {
        self.get_mut().advance(n);
    }
    fn buffered(&self) -> &[u8] {
        self.buffer()
    }
    fn consume(&mut self, n: usize) {
        BufRead::consume(self, n);
    }
}

impl<S: Sink> Sink for BufWriter<S> {
    fn fd(&self) -> Fd<'_> {
        self.get_ref().fd()
    }
    fn map_err(&self, err: io::Error) -> io::Error {
        self.get_ref().map_err(err)
    }
    fn flush_buffer(&mut self) -> io::Result<()> {
        self.flush()
    }
}
