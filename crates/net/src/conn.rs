//! Go's network-agnostic entry points: `listen` and `dial` by network name,
//! returning a [`Listener`] (TCP and unix streams) and a [`Conn`] (those, and
//! a dialed UDP socket, as Go's `Dial("udp", …)`).

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use crate::dial::Dialer;
use crate::error::{op_error, unknown_network};
use crate::sys::UnixAddr;
use crate::tcp::{ListenConfig, TcpListener, TcpStream};
use crate::udp::UdpSocket;
use crate::unix::{UnixListener, UnixStream};

/// A network address (Go's `net.Addr`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// An IP address and port.
    Inet(SocketAddr),
    /// A unix-domain address.
    Unix(UnixAddr),
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Addr::Inet(a) => a.fmt(f),
            Addr::Unix(a) => a.fmt(f),
        }
    }
}

/// A stream listener of any network (Go's `net.Listener`).
#[derive(Debug)]
pub enum Listener {
    /// `tcp`, `tcp4`, `tcp6`.
    Tcp(TcpListener),
    /// `unix`.
    Unix(UnixListener),
}

/// Listens on a stream network (Go's `net.Listen`): `tcp`, `tcp4`, `tcp6`
/// (`":0"`, `"127.0.0.1:"`, `"[::1]:0"`) or `unix` (a path, or `@name` for an
/// abstract socket).
///
/// # Errors
///
/// `listen tcp9: unknown network tcp9`, `listen tcp: address 99999: invalid port`, …
pub fn listen(network: &str, address: &str) -> io::Result<Listener> {
    match network {
        "tcp" | "tcp4" | "tcp6" => ListenConfig::default()
            .listen_tcp(network, address)
            .map(Listener::Tcp),
        "unix" => UnixListener::bind_addr(&UnixAddr::parse(address)).map(Listener::Unix),
        _ => Err(op_error(
            "listen",
            network,
            None,
            None,
            None,
            unknown_network(network),
        )),
    }
}

/// Connects over a network (Go's `net.Dial`): `tcp`, `tcp4`, `tcp6`, `unix`,
/// or `udp`, `udp4`, `udp6` (a socket that talks to that one peer; each
/// write is one datagram).
///
/// # Errors
///
/// `dial tcp 127.0.0.1:1: connect: connection refused`, `dial tcp: missing address`, …
pub fn dial(network: &str, address: &str) -> io::Result<Conn> {
    match network {
        "tcp" | "tcp4" | "tcp6" => Dialer::new().dial(network, address).map(Conn::Tcp),
        "unix" => UnixStream::connect_addr(&UnixAddr::parse(address)).map(Conn::Unix),
        "udp" | "udp4" | "udp6" => UdpSocket::dial(network, address).map(Conn::Udp),
        _ => Err(op_error(
            "dial",
            network,
            None,
            None,
            None,
            unknown_network(network),
        )),
    }
}

impl Listener {
    /// Waits for the next connection (Go's `Accept`).
    ///
    /// # Errors
    ///
    /// As the underlying listener's `accept`.
    pub fn accept(&self) -> io::Result<Conn> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Conn::Tcp(s)),
            Listener::Unix(l) => l.accept().map(|(s, _)| Conn::Unix(s)),
        }
    }

    /// The listening address (Go's `Addr`).
    pub fn addr(&self) -> Addr {
        match self {
            Listener::Tcp(l) => Addr::Inet(l.local_addr().expect("listener address is cached")),
            Listener::Unix(l) => Addr::Unix(l.local_addr().expect("listener address is cached")),
        }
    }

    /// Closes the listener, waking blocked `accept`s.
    ///
    /// # Errors
    ///
    /// When already closed.
    pub fn close(&self) -> io::Result<()> {
        match self {
            Listener::Tcp(l) => l.close(),
            Listener::Unix(l) => l.close(),
        }
    }
}

/// A connection of any network (Go's `net.Conn`).
#[derive(Debug)]
pub enum Conn {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A unix-domain connection.
    Unix(UnixStream),
    /// A UDP socket connected to one peer: a read is one datagram (the
    /// rest of a longer one is dropped, as Go's), a write sends one.
    Udp(UdpSocket),
}

impl Conn {
    /// Reads into `buf`; `Ok(0)` at end of stream.
    ///
    /// # Errors
    ///
    /// Go-shaped, as [`TcpStream::read`].
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.read(buf),
            Conn::Unix(s) => s.read(buf),
            Conn::Udp(s) => s.recv(buf),
        }
    }

    /// Writes some of `buf`.
    ///
    /// # Errors
    ///
    /// Go-shaped, as [`TcpStream::write`].
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Tcp(s) => s.write(buf),
            Conn::Unix(s) => s.write(buf),
            Conn::Udp(s) => s.send(buf),
        }
    }

    /// Writes all of `buf` (Go's `Write`); concurrent writes never interleave.
    ///
    /// # Errors
    ///
    /// Go-shaped, as [`TcpStream::write_all`].
    pub fn write_all(&self, buf: &[u8]) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.write_all(buf),
            Conn::Unix(s) => s.write_all(buf),
            // A datagram goes whole or fails (EMSGSIZE): one send.
            Conn::Udp(s) => s.send(buf).map(drop),
        }
    }

    /// Closes the connection.
    ///
    /// # Errors
    ///
    /// When already closed.
    pub fn close(&self) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.close(),
            Conn::Unix(s) => s.close(),
            Conn::Udp(s) => s.close(),
        }
    }

    /// Shuts down one or both directions (std's `shutdown`; Go's
    /// `CloseWrite` is `Shutdown::Write`: the peer reads end of stream,
    /// and this side can still read).
    ///
    /// # Errors
    ///
    /// After close; the OS error (`ENOTCONN`, …), with Go's context.
    pub fn shutdown(&self, how: std::net::Shutdown) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.shutdown(how),
            Conn::Unix(s) => s.shutdown(how),
            // Go's UDPConn has no CloseWrite: there is no stream to end.
            Conn::Udp(s) => Err(op_error(
                "shutdown",
                "udp",
                s.local_addr().ok().map(|a| a.to_string()),
                s.peer_addr().ok().map(|a| a.to_string()),
                None,
                io::Error::new(io::ErrorKind::Unsupported, "operation not supported"),
            )),
        }
    }

    /// Sets both deadlines.
    ///
    /// # Errors
    ///
    /// After close.
    pub fn set_deadline(&self, t: Option<Instant>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_deadline(t),
            Conn::Unix(s) => s.set_deadline(t),
            Conn::Udp(s) => s.set_deadline(t),
        }
    }

    /// Sets the read deadline.
    ///
    /// # Errors
    ///
    /// After close.
    pub fn set_read_deadline(&self, t: Option<Instant>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_read_deadline(t),
            Conn::Unix(s) => s.set_read_deadline(t),
            Conn::Udp(s) => s.set_read_deadline(t),
        }
    }

    /// Sets the write deadline.
    ///
    /// # Errors
    ///
    /// After close.
    pub fn set_write_deadline(&self, t: Option<Instant>) -> io::Result<()> {
        match self {
            Conn::Tcp(s) => s.set_write_deadline(t),
            Conn::Unix(s) => s.set_write_deadline(t),
            Conn::Udp(s) => s.set_write_deadline(t),
        }
    }

    /// A second handle to the same connection (a `dup`'d fd with its own
    /// registration), e.g. for a writer task beside the reader; closing
    /// one does not close the other. Sharing one `Conn` through an `Arc`
    /// also works: `&Conn` reads and writes.
    ///
    /// # Errors
    ///
    /// After close; the OS error (`EMFILE`, …).
    pub fn try_clone(&self) -> io::Result<Conn> {
        match self {
            Conn::Tcp(s) => s.try_clone().map(Conn::Tcp),
            Conn::Unix(s) => s.try_clone().map(Conn::Unix),
            Conn::Udp(s) => s.try_clone().map(Conn::Udp),
        }
    }

    /// The local address (Go's `LocalAddr`).
    pub fn local_addr(&self) -> Addr {
        match self {
            Conn::Tcp(s) => Addr::Inet(s.local_addr().expect("address is cached")),
            Conn::Unix(s) => Addr::Unix(s.local_addr().expect("address is cached")),
            Conn::Udp(s) => Addr::Inet(s.local_addr().expect("address is cached")),
        }
    }

    /// The remote address (Go's `RemoteAddr`).
    pub fn remote_addr(&self) -> Addr {
        match self {
            Conn::Tcp(s) => Addr::Inet(s.peer_addr().expect("address is cached")),
            Conn::Unix(s) => Addr::Unix(s.peer_addr().expect("address is cached")),
            // Unconnected (a socket wrapped by hand): Go's nil, as 0.0.0.0:0.
            Conn::Udp(s) => Addr::Inet(
                s.peer_addr()
                    .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0))),
            ),
        }
    }
}

impl io::Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Conn::read(self, buf)
    }
}

impl io::Read for &Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Conn::read(self, buf)
    }
}

impl io::Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Conn::write(self, buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Conn::write_all(self, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl io::Write for &Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Conn::write(self, buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        Conn::write_all(self, buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
