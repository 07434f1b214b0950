//! UDP (Go's `UDPConn`): datagrams on the same poll cache and retry loop.

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::AsRawFd;

use netpark_runtime::Mode;
use parking_lot::Mutex;

use crate::addr;
use crate::error::op_error;
use crate::fd::NetFd;
use crate::sys::{self, RawAddr};

/// A UDP socket.
pub struct UdpSocket {
    pub(crate) fd: NetFd,
    /// Bound address; immutable.
    local: SocketAddr,
    /// Peer after `connect`.
    peer: Mutex<Option<SocketAddr>>,
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local", &self.local)
            .field("fd", &self.fd.raw())
            .finish()
    }
}

impl UdpSocket {
    /// Binds to the first address that works.
    ///
    /// # Errors
    ///
    /// `listen udp …: bind: address already in use`, …
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        let addrs = addr
            .to_socket_addrs()
            .map_err(|e| op_error("listen", "udp", None, None, None, e))?;
        let mut last = None;
        for a in addrs {
            match UdpSocket::bind_one(&a) {
                Ok(s) => return Ok(s),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            op_error(
                "listen",
                "udp",
                None,
                None,
                None,
                io::Error::new(io::ErrorKind::InvalidInput, "no addresses to bind"),
            )
        }))
    }

    /// Binds on a Go network name (`udp`, `udp4`, `udp6`) and address (Go's `ListenPacket`).
    ///
    /// # Errors
    ///
    /// Go-shaped, as [`bind`](Self::bind).
    pub fn listen(network: &str, address: &str) -> io::Result<UdpSocket> {
        let wrap = |e| op_error("listen", network, None, None, None, e);
        let family = addr::parse_ip_network(network, "udp").map_err(wrap)?;
        let (addrs, port) = addr::resolve(family, address).map_err(wrap)?;
        let (a, v6only) = addr::listen_addr(family, addrs.as_deref(), port);
        let s = UdpSocket::bind_raw(&a, v6only)?;
        Ok(s)
    }

    /// A socket connected to `address` on a Go network name (`udp`, `udp4`,
    /// `udp6`; Go's `Dial("udp", …)`): bound to an ephemeral port of the
    /// peer's family, it sends to and receives from that peer only. An
    /// empty or unspecified host is this machine's loopback, as in Go.
    ///
    /// # Errors
    ///
    /// Go-shaped: `dial udp: missing address`, `dial udp9: unknown network
    /// udp9`, `dial udp: lookup nosuch.invalid: no such host`, …
    pub fn dial(network: &str, address: &str) -> io::Result<UdpSocket> {
        let wrap = |e| op_error("dial", network, None, None, None, e);
        let family = addr::parse_ip_network(network, "udp").map_err(wrap)?;
        let (addrs, port) = addr::resolve(family, address).map_err(wrap)?;
        let loopback = || match family {
            addr::Family::V6 => std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST),
            _ => std::net::IpAddr::from(std::net::Ipv4Addr::LOCALHOST),
        };
        let peer = match addrs.as_deref() {
            Some([a, ..]) if !a.ip().is_unspecified() => *a,
            _ => SocketAddr::new(loopback(), port),
        };
        let err = |sc, e| op_error("dial", network, None, Some(peer.to_string()), sc, e);
        let fd = sys::socket(addr::family_of(&peer), libc::SOCK_DGRAM)
            .map_err(|e| err(Some("socket"), e))?;
        // A datagram socket's connect only names the peer: it never waits.
        sys::connect(fd.as_raw_fd(), &RawAddr::from_inet(&peer))
            .map_err(|e| err(Some("connect"), e))?;
        UdpSocket::from_fd(fd, Some(peer), err)
    }

    /// Wraps a bound (or connected) socket: its address as the kernel
    /// chose it, its fd registered; `err` gives a failure Go's context.
    fn from_fd(
        fd: std::os::fd::OwnedFd,
        peer: Option<SocketAddr>,
        err: impl Fn(Option<&'static str>, io::Error) -> io::Error,
    ) -> io::Result<UdpSocket> {
        let local = sys::local_addr(fd.as_raw_fd())
            .and_then(|r| r.to_inet())
            .map_err(|e| err(Some("getsockname"), e))?;
        Ok(UdpSocket {
            fd: NetFd::new_socket(fd).map_err(|e| err(None, e))?,
            local,
            peer: Mutex::new(peer),
        })
    }

    /// A second handle to the same socket, as
    /// [`TcpStream::try_clone`](crate::TcpStream::try_clone).
    ///
    /// # Errors
    ///
    /// After close; the OS error (`EMFILE`, …).
    pub fn try_clone(&self) -> io::Result<UdpSocket> {
        let fd = self.fd.with(sys::dup)?;
        Ok(UdpSocket {
            fd: NetFd::new_socket(fd)?,
            local: self.local,
            peer: Mutex::new(*self.peer.lock()),
        })
    }

    fn bind_one(a: &SocketAddr) -> io::Result<UdpSocket> {
        UdpSocket::bind_raw(a, false)
    }

    fn bind_raw(a: &SocketAddr, v6only: bool) -> io::Result<UdpSocket> {
        let err = |sc, e| op_error("listen", "udp", None, Some(a.to_string()), sc, e);
        let fd = sys::socket(addr::family_of(a), libc::SOCK_DGRAM)
            .map_err(|e| err(Some("socket"), e))?;
        if a.is_ipv6() {
            sys::set_bool(
                fd.as_raw_fd(),
                libc::IPPROTO_IPV6,
                libc::IPV6_V6ONLY,
                v6only,
            )
            .map_err(|e| err(Some("setsockopt"), e))?;
        }
        sys::bind(fd.as_raw_fd(), &RawAddr::from_inet(a)).map_err(|e| err(Some("bind"), e))?;
        UdpSocket::from_fd(fd, None, err)
    }

    fn err(&self, op: &'static str, peer: Option<SocketAddr>, e: io::Error) -> io::Error {
        op_error(
            op,
            "udp",
            Some(self.local.to_string()),
            peer.map(|p| p.to_string()),
            None,
            e,
        )
    }

    /// Receives one datagram and its sender (Go's `ReadFrom`).
    ///
    /// # Errors
    ///
    /// Go-shaped: `read udp 127.0.0.1:5000: i/o timeout`, …
    pub fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, raw) = self
            .fd
            .io(Mode::Read, |fd| sys::recv_from(fd, buf, 0))
            .map_err(|e| self.err("read", None, e))?;
        Ok((n, raw.to_inet().map_err(|e| self.err("read", None, e))?))
    }

    /// Like `recv_from` without removing the datagram.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    pub fn peek_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let (n, raw) = self
            .fd
            .io(Mode::Read, |fd| sys::recv_from(fd, buf, libc::MSG_PEEK))
            .map_err(|e| self.err("read", None, e))?;
        Ok((n, raw.to_inet().map_err(|e| self.err("read", None, e))?))
    }

    /// Sends one datagram to `addr` (Go's `WriteTo`).
    ///
    /// # Errors
    ///
    /// Go-shaped: `write udp a->b: …`.
    pub fn send_to(&self, buf: &[u8], addr: SocketAddr) -> io::Result<usize> {
        let raw = RawAddr::from_inet(&addr);
        self.fd
            .io(Mode::Write, |fd| sys::send_to(fd, buf, &raw))
            .map_err(|e| self.err("write", Some(addr), e))
    }

    /// Fixes the peer for `send`/`recv` and filters incoming datagrams.
    ///
    /// # Errors
    ///
    /// `dial udp …: connect: …`.
    pub fn connect(&self, addr: SocketAddr) -> io::Result<()> {
        let raw = RawAddr::from_inet(&addr);
        self.fd.with(|fd| sys::connect(fd, &raw)).map_err(|e| {
            op_error(
                "dial",
                "udp",
                Some(self.local.to_string()),
                Some(addr.to_string()),
                Some("connect"),
                e,
            )
        })?;
        *self.peer.lock() = Some(addr);
        Ok(())
    }

    /// Sends to the connected peer.
    ///
    /// # Errors
    ///
    /// As [`send_to`](Self::send_to); `ECONNREFUSED` after an ICMP unreachable.
    pub fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let peer = *self.peer.lock();
        self.fd
            .io(Mode::Write, |fd| sys::send(fd, buf))
            .map_err(|e| self.err("write", peer, e))
    }

    /// Receives from the connected peer.
    ///
    /// # Errors
    ///
    /// As [`recv_from`](Self::recv_from).
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let peer = *self.peer.lock();
        self.fd
            .io(Mode::Read, |fd| sys::recv(fd, buf, 0))
            .map_err(|e| self.err("read", peer, e))
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// The connected peer.
    ///
    /// # Errors
    ///
    /// `NotConnected` before `connect`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.peer.lock().ok_or_else(|| {
            io::Error::new(io::ErrorKind::NotConnected, "udp socket is not connected")
        })
    }

    /// `SO_BROADCAST`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.fd
            .with(|fd| sys::set_bool(fd, libc::SOL_SOCKET, libc::SO_BROADCAST, on))
    }

    /// Closes the socket, waking blocked receivers and senders.
    ///
    /// # Errors
    ///
    /// When already closed.
    pub fn close(&self) -> io::Result<()> {
        self.fd.close().map_err(|e| self.err("close", None, e))
    }
}

impl_deadlines!(UdpSocket);
