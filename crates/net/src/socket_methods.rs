//! Methods every socket type shares, generated once: Go's `SetDeadline`
//! family and std's `set_read_timeout` family (forwarded to the `PollDesc`),
//! the stream operations with their Go-shaped error context, and the
//! `std::io::{Read, Write}` impls.
//!
//! Go semantics: a deadline is an absolute time; `None` (Go's zero `time.Time`)
//! means no deadline; a deadline in the past makes pending and later operations
//! fail at once with `TimedOut` ("i/o timeout") until it is moved; moving it
//! while a task is blocked takes effect at once; the socket stays usable after a
//! timeout.

/// Implements the deadline, timeout and close methods on a type with an `fd: NetFd` field.
macro_rules! impl_deadlines {
    ($t:ty) => {
        impl $t {
            /// Sets the read and write deadlines (Go's `SetDeadline`); `None` clears them.
            pub fn set_deadline(
                &self,
                deadline: Option<std::time::Instant>,
            ) -> std::io::Result<()> {
                self.fd.with(|_| Ok(()))?;
                self.fd.set_deadline(true, true, deadline);
                Ok(())
            }

            /// Sets the read deadline (Go's `SetReadDeadline`); `None` clears it.
            pub fn set_read_deadline(
                &self,
                deadline: Option<std::time::Instant>,
            ) -> std::io::Result<()> {
                self.fd.with(|_| Ok(()))?;
                self.fd.set_deadline(true, false, deadline);
                Ok(())
            }

            /// Sets the write deadline (Go's `SetWriteDeadline`); `None` clears it.
            pub fn set_write_deadline(
                &self,
                deadline: Option<std::time::Instant>,
            ) -> std::io::Result<()> {
                self.fd.with(|_| Ok(()))?;
                self.fd.set_deadline(false, true, deadline);
                Ok(())
            }

            /// Sets a timeout for each read (std semantics); `None` clears it.
            ///
            /// # Errors
            ///
            /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
            pub fn set_read_timeout(&self, d: Option<std::time::Duration>) -> std::io::Result<()> {
                self.fd.set_timeout(netpark_runtime::Mode::Read, d)
            }

            /// Sets a timeout for each write (std semantics); `None` clears it.
            ///
            /// # Errors
            ///
            /// `InvalidInput` for `Some(Duration::ZERO)`, as std.
            pub fn set_write_timeout(&self, d: Option<std::time::Duration>) -> std::io::Result<()> {
                self.fd.set_timeout(netpark_runtime::Mode::Write, d)
            }

            /// Parks until the socket is readable (bytes, end of stream or an
            /// error pending) without holding a buffer (Go's #15735, tokio's
            /// `readable()`): an idle connection can wait here and read into
            /// a buffer it borrows only once bytes are there.
            ///
            /// # Errors
            ///
            /// `TimedOut` past the read deadline, `NotConnected` after close,
            /// `Interrupted` when the task is cancelled.
            pub fn wait_readable(&self) -> std::io::Result<()> {
                self.fd.wait_readable()
            }

            /// Parks until the socket is writable, as
            /// [`wait_readable`](Self::wait_readable) (write deadline).
            ///
            /// # Errors
            ///
            /// As [`wait_readable`](Self::wait_readable).
            pub fn wait_writable(&self) -> std::io::Result<()> {
                self.fd.wait_writable()
            }

            /// The per-read timeout.
            pub fn read_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.fd.timeout(netpark_runtime::Mode::Read))
            }

            /// The per-write timeout.
            pub fn write_timeout(&self) -> std::io::Result<Option<std::time::Duration>> {
                Ok(self.fd.timeout(netpark_runtime::Mode::Write))
            }
        }

        impl std::os::fd::AsRawFd for $t {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.fd.raw()
            }
        }
    };
}

/// Implements `std::io::Read`/`Write` for a stream type and for a shared
/// reference to it (one task reads while another writes, as in Go), from the
/// type's inherent `read`/`write`/vectored methods.
macro_rules! impl_stream_io {
    ($t:ty) => {
        impl std::io::Read for $t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                <$t>::read(self, buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                <$t>::read_vectored(self, bufs)
            }
        }

        impl std::io::Read for &$t {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                <$t>::read(*self, buf)
            }
            fn read_vectored(
                &mut self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                <$t>::read_vectored(*self, bufs)
            }
        }

        impl std::io::Write for $t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                <$t>::write(self, buf)
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                <$t>::write_vectored(self, bufs)
            }
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                <$t>::write_all(self, buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }

        impl std::io::Write for &$t {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                <$t>::write(*self, buf)
            }
            fn write_vectored(&mut self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                <$t>::write_vectored(*self, bufs)
            }
            fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
                <$t>::write_all(*self, buf)
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
    };
}

/// Implements the stream operations (read, write, their vectored forms, peek,
/// shutdown, close) on a type with an `fd: NetFd` field and an
/// `err(&self, op, io::Error) -> io::Error` that adds Go's context.
macro_rules! impl_stream_methods {
    ($t:ty) => {
        impl $t {
            /// Reads into `buf`; `Ok(0)` at end of stream (Go's `Read`, std's semantics).
            ///
            /// # Errors
            ///
            /// Go-shaped, with the kind of the cause: `read tcp a->b: connection
            /// reset by peer`, `…: i/o timeout`, `…: use of closed network
            /// connection`, `…: task cancelled`.
            pub fn read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.fd.read(buf).map_err(|e| self.err("read", e))
            }

            /// Vectored read.
            ///
            /// # Errors
            ///
            /// As [`read`](Self::read).
            pub fn read_vectored(
                &self,
                bufs: &mut [std::io::IoSliceMut<'_>],
            ) -> std::io::Result<usize> {
                self.fd.read_vectored(bufs).map_err(|e| self.err("read", e))
            }

            /// One read that never parks (tokio's `try_read`): `WouldBlock`
            /// when nothing is there. Pair it with `wait_readable` to read
            /// into a buffer borrowed only for that moment.
            ///
            /// # Errors
            ///
            /// `WouldBlock`, or as [`read`](Self::read).
            pub fn try_read(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.fd.try_read(buf).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::WouldBlock {
                        e
                    } else {
                        self.err("read", e)
                    }
                })
            }

            /// One write that never parks (tokio's `try_write`): `WouldBlock`
            /// when nothing fits now.
            ///
            /// # Errors
            ///
            /// `WouldBlock`, or as [`write`](Self::write).
            pub fn try_write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.fd.try_write(buf).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::WouldBlock {
                        e
                    } else {
                        self.err("write", e)
                    }
                })
            }

            /// Reads without removing the data from the queue (`MSG_PEEK`).
            ///
            /// # Errors
            ///
            /// As [`read`](Self::read).
            pub fn peek(&self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.fd.peek(buf).map_err(|e| self.err("read", e))
            }

            /// Writes some of `buf` (std's `write`); [`write_all`](Self::write_all) is Go's `Write`.
            ///
            /// # Errors
            ///
            /// `write tcp a->b: broken pipe` / `connection reset by peer` for a gone
            /// peer (never SIGPIPE); timeouts and close as [`read`](Self::read).
            pub fn write(&self, buf: &[u8]) -> std::io::Result<usize> {
                self.fd.write(buf).map_err(|e| self.err("write", e))
            }

            /// Writes all of `buf` (Go's `Write`). Concurrent writes on the same
            /// stream (from tasks sharing it) never interleave: each one's bytes
            /// go out in one piece.
            ///
            /// # Errors
            ///
            /// As [`write`](Self::write); some of `buf` may have been sent.
            pub fn write_all(&self, buf: &[u8]) -> std::io::Result<()> {
                self.fd.write_all(buf).map_err(|e| self.err("write", e))
            }

            /// Vectored write.
            ///
            /// # Errors
            ///
            /// As [`write`](Self::write).
            pub fn write_vectored(&self, bufs: &[std::io::IoSlice<'_>]) -> std::io::Result<usize> {
                self.fd
                    .write_vectored(bufs)
                    .map_err(|e| self.err("write", e))
            }

            /// Shuts down one or both directions (Go's `CloseRead`/`CloseWrite`).
            ///
            /// # Errors
            ///
            /// After close, or the OS error.
            pub fn shutdown(&self, how: std::net::Shutdown) -> std::io::Result<()> {
                let op = match how {
                    std::net::Shutdown::Read => "close read",
                    std::net::Shutdown::Write => "close write",
                    std::net::Shutdown::Both => "shutdown",
                };
                self.fd
                    .with(|fd| crate::sys::shutdown(fd, how))
                    .map_err(|e| self.err(op, e))
            }

            /// Closes the connection (Go's `Close`): tasks blocked in `read`/`write`
            /// on it wake with "use of closed network connection"; the fd is closed
            /// when the last of them has left its syscall. Dropping closes it too.
            ///
            /// # Errors
            ///
            /// `close …: use of closed network connection` when already closed.
            pub fn close(&self) -> std::io::Result<()> {
                self.fd.close().map_err(|e| self.err("close", e))
            }
        }
    };
}

/// Implements Go's `ReaderFrom` / `WriterTo` pair on a stream type: the
/// zero-copy [`crate::io::copy`] with the stream on one side.
macro_rules! impl_copy_methods {
    ($t:ty) => {
        impl $t {
            /// Copies `src` into this stream until `src` ends (Go's
            /// `ReadFrom`): `splice` from a socket or pipe, `sendfile` from a
            /// file, the buffer loop from anything else. Same as
            /// `netpark_net::io::copy(&mut &*self, src)`.
            ///
            /// # Errors
            ///
            /// As [`crate::io::copy`]: the first error, with the bytes
            /// written before it ([`crate::io::done_before`]).
            pub fn read_from<R: std::io::Read + ?Sized>(
                &self,
                src: &mut R,
            ) -> std::io::Result<u64> {
                crate::io::copy(&mut &*self, src)
            }

            /// Copies this stream into `dst` until the peer ends it (Go's
            /// `WriteTo`). Same as `netpark_net::io::copy(dst, &mut &*self)`.
            ///
            /// # Errors
            ///
            /// As [`crate::io::copy`].
            pub fn write_to<W: std::io::Write + ?Sized>(
                &self,
                dst: &mut W,
            ) -> std::io::Result<u64> {
                crate::io::copy(dst, &mut &*self)
            }
        }
    };
}
