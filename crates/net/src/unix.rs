//! Unix stream sockets (Go's `UnixListener` / `UnixConn`), path and abstract names.
//!
//! As in Go, a listener that created its socket file removes it when closed or
//! dropped; abstract names (`@name`) leave nothing in the filesystem.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::path::Path;
use std::time::Instant;

use crate::dial;
use crate::error::op_error;
use crate::fd::NetFd;
use crate::sys::{self, RawAddr, UnixAddr};

/// A unix-domain stream listener.
pub struct UnixListener {
    fd: NetFd,
    /// The bound address; immutable.
    local: UnixAddr,
    /// Remove the socket file on close (set when this listener created it).
    unlink: bool,
}

impl fmt::Debug for UnixListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixListener")
            .field("addr", &self.local)
            .field("fd", &self.fd.raw())
            .finish()
    }
}

impl UnixListener {
    /// Binds to a filesystem path (std's signature).
    ///
    /// # Errors
    ///
    /// `listen unix /path: bind: address already in use`, …
    pub fn bind(path: impl AsRef<Path>) -> io::Result<UnixListener> {
        UnixListener::bind_addr(&UnixAddr::Path(path.as_ref().to_path_buf()))
    }

    /// Binds to a path or abstract address.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    pub fn bind_addr(addr: &UnixAddr) -> io::Result<UnixListener> {
        let err = |sc, e| op_error("listen", "unix", None, Some(addr.to_string()), sc, e);
        let raw_addr = RawAddr::from_unix(addr).map_err(|e| err(None, e))?;
        let fd =
            sys::socket(libc::AF_UNIX, libc::SOCK_STREAM).map_err(|e| err(Some("socket"), e))?;
        sys::bind(fd.as_raw_fd(), &raw_addr).map_err(|e| err(Some("bind"), e))?;
        let unlink = matches!(addr, UnixAddr::Path(_));
        let listened = sys::listen(fd.as_raw_fd(), crate::addr::default_backlog());
        if let Err(e) = listened {
            if let UnixAddr::Path(p) = addr {
                let _ = std::fs::remove_file(p);
            }
            return Err(err(Some("listen"), e));
        }
        let fd = NetFd::new_socket(fd).map_err(|e| err(None, e))?;
        Ok(UnixListener {
            fd,
            local: addr.clone(),
            unlink,
        })
    }

    /// Waits for and accepts the next connection.
    ///
    /// # Errors
    ///
    /// `accept unix /path: use of closed network connection` after close, …;
    /// on `EMFILE` and other resource errors the call backs off first, as
    /// [`TcpListener::accept`](crate::TcpListener::accept) does.
    pub fn accept(&self) -> io::Result<(UnixStream, UnixAddr)> {
        let (fd, raw) = self.fd.accept().map_err(|e| self.err(e))?;
        let peer = raw.to_unix();
        let fd = NetFd::new_socket(fd).map_err(|e| self.err(e))?;
        Ok((
            UnixStream {
                fd,
                local: self.local.clone(),
                peer: peer.clone(),
            },
            peer,
        ))
    }

    fn err(&self, e: io::Error) -> io::Error {
        op_error(
            "accept",
            "unix",
            None,
            Some(self.local.to_string()),
            None,
            e,
        )
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<UnixAddr> {
        Ok(self.local.clone())
    }

    /// Closes the listener, waking blocked `accept`s, and removes its socket file.
    ///
    /// # Errors
    ///
    /// When already closed.
    pub fn close(&self) -> io::Result<()> {
        self.fd
            .close()
            .map_err(|e| op_error("close", "unix", None, Some(self.local.to_string()), None, e))?;
        self.remove_file();
        Ok(())
    }

    fn remove_file(&self) {
        if let (true, UnixAddr::Path(p)) = (self.unlink, &self.local) {
            let _ = std::fs::remove_file(p);
        }
    }

    /// Sets the accept deadline; `None` clears it.
    ///
    /// # Errors
    ///
    /// After close.
    pub fn set_deadline(&self, deadline: Option<Instant>) -> io::Result<()> {
        self.fd.with(|_| Ok(()))?;
        self.fd.set_deadline(true, true, deadline);
        Ok(())
    }
}

impl Drop for UnixListener {
    fn drop(&mut self) {
        if !self.fd.is_closed() {
            self.remove_file();
        }
    }
}

impl AsRawFd for UnixListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

/// A unix-domain stream connection.
pub struct UnixStream {
    pub(crate) fd: NetFd,
    /// Local address; immutable.
    local: UnixAddr,
    /// Remote address; immutable.
    peer: UnixAddr,
}

impl fmt::Debug for UnixStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnixStream")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("fd", &self.fd.raw())
            .finish()
    }
}

impl UnixStream {
    /// Connects to a filesystem path.
    ///
    /// # Errors
    ///
    /// `dial unix /path: connect: no such file or directory`, …
    pub fn connect(path: impl AsRef<Path>) -> io::Result<UnixStream> {
        UnixStream::connect_addr(&UnixAddr::Path(path.as_ref().to_path_buf()))
    }

    /// Connects to a path or abstract address.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    pub fn connect_addr(addr: &UnixAddr) -> io::Result<UnixStream> {
        let err = |sc, e| op_error("dial", "unix", None, Some(addr.to_string()), sc, e);
        let raw_addr = RawAddr::from_unix(addr).map_err(|e| err(None, e))?;
        let fd =
            sys::socket(libc::AF_UNIX, libc::SOCK_STREAM).map_err(|e| err(Some("socket"), e))?;
        let fd = NetFd::new_socket(fd).map_err(|e| err(None, e))?;
        dial::connect(&fd, &raw_addr, None).map_err(|(sc, e)| err(sc, e))?;
        let local = fd
            .with(sys::local_addr)
            .map(|a| a.to_unix())
            .unwrap_or(UnixAddr::Unnamed);
        Ok(UnixStream {
            fd,
            local,
            peer: addr.clone(),
        })
    }

    /// A connected pair (`socketpair(2)`).
    ///
    /// # Errors
    ///
    /// The OS error.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let mut fds = [0; 2];
        // SAFETY: the kernel writes two new fds into the array.
        unsafe {
            netpark_runtime::syscall!(socketpair(
                libc::AF_UNIX,
                libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                0,
                fds.as_mut_ptr()
            ))
        }?;
        // SAFETY: both fds are new and owned by nobody else.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        let mk = |fd| -> io::Result<UnixStream> {
            Ok(UnixStream {
                fd: NetFd::new_socket(fd)?,
                local: UnixAddr::Unnamed,
                peer: UnixAddr::Unnamed,
            })
        };
        Ok((mk(a)?, mk(b)?))
    }

    pub(crate) fn err(&self, op: &'static str, e: io::Error) -> io::Error {
        op_error(
            op,
            "unix",
            Some(self.local.to_string()),
            Some(self.peer.to_string()),
            None,
            e,
        )
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<UnixAddr> {
        Ok(self.local.clone())
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<UnixAddr> {
        Ok(self.peer.clone())
    }

    /// A second handle to the same connection, as
    /// [`TcpStream::try_clone`](crate::TcpStream::try_clone).
    ///
    /// # Errors
    ///
    /// After close; the OS error (`EMFILE`, …).
    pub fn try_clone(&self) -> io::Result<UnixStream> {
        let fd = self.fd.with(sys::dup)?;
        Ok(UnixStream {
            fd: NetFd::new_socket(fd)?,
            local: self.local.clone(),
            peer: self.peer.clone(),
        })
    }
}

impl IntoRawFd for UnixStream {
    fn into_raw_fd(self) -> RawFd {
        let UnixStream { fd, .. } = self;
        fd.into_raw()
    }
}

impl_deadlines!(UnixStream);
impl_stream_methods!(UnixStream);
impl_stream_io!(UnixStream);
impl_copy_methods!(UnixStream);
