//! TCP: `TcpListener` (Go's `TCPListener`) and `TcpStream` (Go's `TCPConn`).

use std::fmt;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::time::Duration;

use crate::addr::{self, Family};
use crate::dial::Dialer;
use crate::error::op_error;
use crate::fd::NetFd;
use crate::sys::{self, RawAddr};

/// Go's default TCP keep-alive idle time and probe interval.
pub const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);

/// Callback run on a new socket after `socket()` and before `bind()` (Go's `ListenConfig.Control`).
pub type Control = Arc<dyn Fn(RawFd) -> io::Result<()> + Send + Sync>;

/// Options for listening (Go's `net.ListenConfig`).
#[derive(Clone)]
pub struct ListenConfig {
    backlog: Option<i32>,
    reuse_addr: bool,
    reuse_port: bool,
    control: Option<Control>,
}

impl fmt::Debug for ListenConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ListenConfig")
            .field("backlog", &self.backlog)
            .field("reuse_addr", &self.reuse_addr)
            .field("reuse_port", &self.reuse_port)
            .field("control", &self.control.is_some())
            .finish()
    }
}

impl Default for ListenConfig {
    fn default() -> Self {
        ListenConfig {
            backlog: None,
            reuse_addr: true,
            reuse_port: false,
            control: None,
        }
    }
}

impl ListenConfig {
    /// Defaults: backlog from `/proc/sys/net/core/somaxconn`, `SO_REUSEADDR` on.
    pub fn new() -> ListenConfig {
        ListenConfig::default()
    }

    /// The `listen(2)` backlog.
    pub fn backlog(mut self, n: i32) -> ListenConfig {
        self.backlog = Some(n);
        self
    }

    /// `SO_REUSEADDR` (default on, as Go).
    pub fn reuse_addr(mut self, on: bool) -> ListenConfig {
        self.reuse_addr = on;
        self
    }

    /// `SO_REUSEPORT` (default off).
    pub fn reuse_port(mut self, on: bool) -> ListenConfig {
        self.reuse_port = on;
        self
    }

    /// A callback on the raw socket before `bind` (Go's `Control`).
    pub fn control(
        mut self,
        f: impl Fn(RawFd) -> io::Result<()> + Send + Sync + 'static,
    ) -> ListenConfig {
        self.control = Some(Arc::new(f));
        self
    }

    /// Listens on a TCP network (`tcp`, `tcp4`, `tcp6`) and address (`:0`,
    /// `127.0.0.1:`, `[::1]:0`, `localhost:8080`); an empty host listens on
    /// every address, dual-stack for `tcp` (Go's `ListenConfig.Listen`).
    ///
    /// # Errors
    ///
    /// Go-shaped: `listen tcp9: unknown network tcp9`,
    /// `listen tcp 127.0.0.1:80: bind: permission denied`, …
    pub fn listen_tcp(&self, network: &str, address: &str) -> io::Result<TcpListener> {
        let wrap = |e| op_error("listen", network, None, None, None, e);
        let family = addr::parse_ip_network(network, "tcp").map_err(wrap)?;
        let (addrs, port) = addr::resolve(family, address).map_err(wrap)?;
        let (bind_addr, v6only) = addr::listen_addr(family, addrs.as_deref(), port);
        self.listen_addr(network, bind_addr, v6only)
    }

    pub(crate) fn listen_addr(
        &self,
        network: &str,
        bind_addr: SocketAddr,
        v6only: bool,
    ) -> io::Result<TcpListener> {
        let step = |syscall, e| {
            op_error(
                "listen",
                network,
                None,
                Some(bind_addr.to_string()),
                syscall,
                e,
            )
        };
        let fd = sys::socket(addr::family_of(&bind_addr), libc::SOCK_STREAM)
            .map_err(|e| step(Some("socket"), e))?;
        let raw = fd.as_raw_fd();
        if bind_addr.is_ipv6() {
            sys::set_bool(raw, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, v6only)
                .map_err(|e| step(Some("setsockopt"), e))?;
        }
        if self.reuse_addr {
            sys::set_bool(raw, libc::SOL_SOCKET, libc::SO_REUSEADDR, true)
                .map_err(|e| step(Some("setsockopt"), e))?;
        }
        if self.reuse_port {
            sys::set_bool(raw, libc::SOL_SOCKET, libc::SO_REUSEPORT, true)
                .map_err(|e| step(Some("setsockopt"), e))?;
        }
        if let Some(c) = &self.control {
            c(raw).map_err(|e| step(None, e))?;
        }
        sys::bind(raw, &RawAddr::from_inet(&bind_addr)).map_err(|e| step(Some("bind"), e))?;
        sys::listen(raw, self.backlog.unwrap_or_else(addr::default_backlog))
            .map_err(|e| step(Some("listen"), e))?;
        let local = sys::local_addr(raw)
            .and_then(|a| a.to_inet())
            .map_err(|e| step(Some("getsockname"), e))?;
        let fd = NetFd::new_socket(fd).map_err(|e| step(None, e))?;
        Ok(TcpListener {
            fd,
            net: network_name(network),
            local,
        })
    }
}

/// A TCP socket server (Go's `net.TCPListener`).
///
/// `accept` parks the calling task until a connection arrives; `close` from
/// another task wakes it with "use of closed network connection".
pub struct TcpListener {
    fd: NetFd,
    /// The network name it was opened with, for errors.
    net: &'static str,
    /// The bound address; immutable.
    local: SocketAddr,
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("addr", &self.local)
            .field("fd", &self.fd.raw())
            .finish()
    }
}

impl TcpListener {
    /// Binds to the first address that works (std's signature), with Go's defaults.
    ///
    /// # Errors
    ///
    /// The bind error of the last address tried, Go-shaped.
    pub fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        TcpListener::bind_with(&ListenConfig::default(), addr)
    }

    /// Binds with explicit options.
    ///
    /// # Errors
    ///
    /// As [`bind`](Self::bind).
    pub fn bind_with(config: &ListenConfig, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        let addrs = addr
            .to_socket_addrs()
            .map_err(|e| op_error("listen", "tcp", None, None, None, e))?;
        let mut last = None;
        for a in addrs {
            match config.listen_addr("tcp", a, false) {
                Ok(l) => return Ok(l),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| {
            op_error(
                "listen",
                "tcp",
                None,
                None,
                None,
                io::Error::new(io::ErrorKind::InvalidInput, "no addresses to listen on"),
            )
        }))
    }

    /// Waits for and accepts the next connection (Go's `Accept`).
    ///
    /// Accepted connections have `TCP_NODELAY` and keep-alive (15 s) on, as Go.
    /// `ECONNABORTED` (a peer that gave up in the queue) is retried.
    ///
    /// # Errors
    ///
    /// `accept tcp [::]:8080: use of closed network connection` after close;
    /// `TimedOut` past a deadline. On `EMFILE`/`ENFILE`/`ENOBUFS`/`ENOMEM` the
    /// call first sleeps for a back-off (5 ms doubling to 1 s, reset by the next
    /// success), then returns the error, so a loop that retries cannot spin.
    pub fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (fd, raw) = self.fd.accept().map_err(|e| self.err(e))?;
        let peer = raw.to_inet().map_err(|e| self.err(e))?;
        let s = TcpStream::from_accepted(fd, self.net, peer).map_err(|e| self.err(e))?;
        Ok((s, peer))
    }

    fn err(&self, e: io::Error) -> io::Error {
        op_error(
            "accept",
            self.net,
            None,
            Some(self.local.to_string()),
            None,
            e,
        )
    }

    /// An iterator over accepted connections (std's `incoming`); never ends.
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming { listener: self }
    }

    /// The bound address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// Closes the listener, waking blocked `accept`s (Go's `Close`).
    ///
    /// # Errors
    ///
    /// `close tcp …: use of closed network connection` when already closed.
    pub fn close(&self) -> io::Result<()> {
        self.fd.close().map_err(|e| {
            op_error(
                "close",
                self.net,
                None,
                Some(self.local.to_string()),
                None,
                e,
            )
        })
    }

    /// Sets the accept deadline (Go's `SetDeadline`); `None` clears it.
    ///
    /// # Errors
    ///
    /// After close.
    pub fn set_deadline(&self, deadline: Option<std::time::Instant>) -> io::Result<()> {
        self.fd.with(|_| Ok(()))?;
        self.fd.set_deadline(true, true, deadline);
        Ok(())
    }

    /// `IP_TTL`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.fd
            .with(|fd| sys::set_opt(fd, libc::IPPROTO_IP, libc::IP_TTL, ttl as libc::c_int))
    }

    /// The pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.with(sys::take_error)
    }

    /// Wraps a listening std socket, making it non-blocking.
    ///
    /// # Errors
    ///
    /// When the fd cannot be made non-blocking or registered.
    pub fn from_std(l: std::net::TcpListener) -> io::Result<TcpListener> {
        l.set_nonblocking(true)?;
        let local = l.local_addr()?;
        let fd = NetFd::new_socket(OwnedFd::from(l))?;
        Ok(TcpListener {
            fd,
            net: "tcp",
            local,
        })
    }

    /// Unwraps into a blocking std listener.
    ///
    /// # Errors
    ///
    /// When the fd cannot be made blocking again.
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        // SAFETY: into_raw_fd hands over sole ownership of the open fd.
        let l = unsafe { std::net::TcpListener::from_raw_fd(self.into_raw_fd()) };
        l.set_nonblocking(false)?;
        Ok(l)
    }
}

impl AsRawFd for TcpListener {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.raw()
    }
}

impl IntoRawFd for TcpListener {
    fn into_raw_fd(self) -> RawFd {
        let TcpListener { fd, .. } = self;
        fd.into_raw()
    }
}

/// Accepted connections, forever (see [`TcpListener::incoming`]).
#[derive(Debug)]
pub struct Incoming<'a> {
    listener: &'a TcpListener,
}

impl Iterator for Incoming<'_> {
    type Item = io::Result<TcpStream>;
    fn next(&mut self) -> Option<Self::Item> {
        Some(self.listener.accept().map(|(s, _)| s))
    }
}

/// A TCP connection (Go's `net.TCPConn`), usable from tasks and plain threads.
///
/// Reads and writes block in Go's style: the task parks on `EAGAIN` and the
/// reactor wakes it. `&TcpStream` is `Read + Write` too, so one task may read
/// while another writes (share it through an `Arc`).
#[repr(C)]
pub struct TcpStream {
    pub(crate) fd: NetFd,
    /// The network name (`tcp`, `tcp4`, `tcp6`), for errors; static, so an
    /// accepted connection costs no allocation for it.
    net: &'static str,
    /// Local address; immutable.
    local: SocketAddr,
    /// Remote address; immutable.
    peer: SocketAddr,
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local", &self.local)
            .field("peer", &self.peer)
            .field("fd", &self.fd.raw())
            .finish()
    }
}

/// Go's defaults for every new TCP connection: no Nagle delay, keep-alive 15 s.
pub(crate) fn set_conn_defaults(fd: RawFd) -> io::Result<()> {
    sys::set_bool(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, true)?;
    set_keepalive_raw(fd, Some(DEFAULT_KEEP_ALIVE))
}

fn set_keepalive_raw(fd: RawFd, period: Option<Duration>) -> io::Result<()> {
    match period {
        None => sys::set_bool(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, false),
        Some(d) => {
            let secs = d.as_secs().clamp(1, i32::MAX as u64) as libc::c_int;
            sys::set_bool(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, true)?;
            sys::set_opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPIDLE, secs)?;
            sys::set_opt(fd, libc::IPPROTO_TCP, libc::TCP_KEEPINTVL, secs)
        }
    }
}

impl TcpStream {
    fn from_accepted(fd: OwnedFd, net: &'static str, peer: SocketAddr) -> io::Result<TcpStream> {
        let raw = fd.as_raw_fd();
        set_conn_defaults(raw)?;
        let local = sys::local_addr(raw)?.to_inet()?;
        Ok(TcpStream {
            fd: NetFd::new_socket(fd)?,
            net,
            local,
            peer,
        })
    }

    pub(crate) fn from_connected(fd: NetFd, net: &str, peer: SocketAddr) -> io::Result<TcpStream> {
        let local = fd.with(|raw| sys::local_addr(raw)?.to_inet())?;
        Ok(TcpStream {
            fd,
            net: network_name(net),
            local,
            peer,
        })
    }

    /// Connects to the first address that accepts (std's signature, Go's dialer).
    ///
    /// # Errors
    ///
    /// Go-shaped: `dial tcp 127.0.0.1:1: connect: connection refused`.
    pub fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        let addrs: Vec<SocketAddr> = addr
            .to_socket_addrs()
            .map_err(|e| op_error("dial", "tcp", None, None, None, e))?
            .collect();
        Dialer::new().dial_addrs("tcp", &addrs)
    }

    /// Connects with a timeout (std's `connect_timeout`).
    ///
    /// # Errors
    ///
    /// `dial tcp …: i/o timeout` (kind `TimedOut`) when the timeout passes.
    pub fn connect_timeout(addr: &SocketAddr, timeout: Duration) -> io::Result<TcpStream> {
        Dialer::new()
            .timeout(timeout)
            .dial_addrs("tcp", std::slice::from_ref(addr))
    }

    pub(crate) fn err(&self, op: &'static str, e: io::Error) -> io::Error {
        op_error(
            op,
            self.net,
            Some(self.local.to_string()),
            Some(self.peer.to_string()),
            None,
            e,
        )
    }

    /// The local address.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    /// The remote address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.peer)
    }

    /// `TCP_NODELAY` (on by default, as Go).
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.fd
            .with(|fd| sys::set_bool(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, on))
    }

    /// Whether `TCP_NODELAY` is on.
    pub fn nodelay(&self) -> io::Result<bool> {
        self.fd
            .with(|fd| sys::get_bool(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY))
    }

    /// Keep-alive with the given idle time and probe interval, or off with `None`
    /// (Go's `SetKeepAlive` + `SetKeepAlivePeriod`; on, 15 s, by default).
    pub fn set_keepalive(&self, period: Option<Duration>) -> io::Result<()> {
        self.fd.with(|fd| set_keepalive_raw(fd, period))
    }

    /// Whether keep-alive is on.
    pub fn keepalive(&self) -> io::Result<bool> {
        self.fd
            .with(|fd| sys::get_bool(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE))
    }

    /// `SO_LINGER` (Go's `SetLinger`): `Some(0)` makes close send a reset.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        let l = libc::linger {
            l_onoff: linger.is_some() as libc::c_int,
            l_linger: linger.map_or(0, |d| d.as_secs().min(i32::MAX as u64) as libc::c_int),
        };
        self.fd
            .with(|fd| sys::set_opt(fd, libc::SOL_SOCKET, libc::SO_LINGER, l))
    }

    /// The `SO_LINGER` setting.
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        self.fd.with(|fd| {
            let mut l = libc::linger {
                l_onoff: 0,
                l_linger: 0,
            };
            let mut len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
            // SAFETY: the kernel writes at most `len` bytes into l.
            unsafe {
                netpark_runtime::syscall!(getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    (&mut l as *mut libc::linger).cast(),
                    &mut len
                ))
            }?;
            Ok((l.l_onoff != 0).then(|| Duration::from_secs(l.l_linger as u64)))
        })
    }

    /// `SO_RCVBUF` (Go's `SetReadBuffer`).
    pub fn set_recv_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.fd.with(|fd| {
            sys::set_opt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                bytes.min(i32::MAX as usize) as libc::c_int,
            )
        })
    }

    /// `SO_RCVBUF` as the kernel reports it (doubled by Linux).
    pub fn recv_buffer_size(&self) -> io::Result<usize> {
        self.fd.with(|fd| {
            sys::get_opt::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_RCVBUF).map(|v| v as usize)
        })
    }

    /// `SO_SNDBUF` (Go's `SetWriteBuffer`).
    pub fn set_send_buffer_size(&self, bytes: usize) -> io::Result<()> {
        self.fd.with(|fd| {
            sys::set_opt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                bytes.min(i32::MAX as usize) as libc::c_int,
            )
        })
    }

    /// `SO_SNDBUF` as the kernel reports it.
    pub fn send_buffer_size(&self) -> io::Result<usize> {
        self.fd.with(|fd| {
            sys::get_opt::<libc::c_int>(fd, libc::SOL_SOCKET, libc::SO_SNDBUF).map(|v| v as usize)
        })
    }

    /// `IP_TTL` (IPv4) or `IPV6_UNICAST_HOPS` (IPv6).
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        let v6 = self.local.is_ipv6();
        self.fd.with(|fd| {
            if v6 {
                sys::set_opt(
                    fd,
                    libc::IPPROTO_IPV6,
                    libc::IPV6_UNICAST_HOPS,
                    ttl as libc::c_int,
                )
            } else {
                sys::set_opt(fd, libc::IPPROTO_IP, libc::IP_TTL, ttl as libc::c_int)
            }
        })
    }

    /// The TTL / hop limit.
    pub fn ttl(&self) -> io::Result<u32> {
        let v6 = self.local.is_ipv6();
        self.fd.with(|fd| {
            let v: libc::c_int = if v6 {
                sys::get_opt(fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS)?
            } else {
                sys::get_opt(fd, libc::IPPROTO_IP, libc::IP_TTL)?
            };
            Ok(v as u32)
        })
    }

    /// The pending socket error (`SO_ERROR`).
    pub fn take_error(&self) -> io::Result<Option<io::Error>> {
        self.fd.with(sys::take_error)
    }

    /// A second handle to the same connection (a `dup`'d fd with its own
    /// registration). Closing one does not close the other.
    pub fn try_clone(&self) -> io::Result<TcpStream> {
        let fd = self.fd.with(sys::dup)?;
        Ok(TcpStream {
            fd: NetFd::new_socket(fd)?,
            net: self.net,
            local: self.local,
            peer: self.peer,
        })
    }

    /// Wraps a connected std stream, making it non-blocking.
    ///
    /// # Errors
    ///
    /// When the fd cannot be made non-blocking, registered, or has no peer.
    pub fn from_std(s: std::net::TcpStream) -> io::Result<TcpStream> {
        s.set_nonblocking(true)?;
        let local = s.local_addr()?;
        let peer = s.peer_addr()?;
        Ok(TcpStream {
            fd: NetFd::new_socket(OwnedFd::from(s))?,
            net: "tcp",
            local,
            peer,
        })
    }

    /// Unwraps into a blocking std stream.
    ///
    /// # Errors
    ///
    /// When the fd cannot be made blocking again.
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        // SAFETY: into_raw_fd hands over sole ownership of the open fd.
        let s = unsafe { std::net::TcpStream::from_raw_fd(self.into_raw_fd()) };
        s.set_nonblocking(false)?;
        Ok(s)
    }
}

impl IntoRawFd for TcpStream {
    fn into_raw_fd(self) -> RawFd {
        let TcpStream { fd, .. } = self;
        fd.into_raw()
    }
}

impl FromRawFd for TcpStream {
    /// Adopts a connected TCP socket fd, making it non-blocking.
    ///
    /// # Panics
    ///
    /// When the fd is not a connected socket or the poll cache is full; use
    /// [`TcpStream::from_std`] for an error instead.
    unsafe fn from_raw_fd(fd: RawFd) -> TcpStream {
        // SAFETY: the caller passes sole ownership of an open socket fd.
        let s = unsafe { std::net::TcpStream::from_raw_fd(fd) };
        TcpStream::from_std(s)
            .unwrap_or_else(|e| panic!("netpark: TcpStream::from_raw_fd({fd}): {e}"))
    }
}

impl TryFrom<std::net::TcpStream> for TcpStream {
    type Error = io::Error;
    fn try_from(s: std::net::TcpStream) -> io::Result<TcpStream> {
        TcpStream::from_std(s)
    }
}

impl TryFrom<std::net::TcpListener> for TcpListener {
    type Error = io::Error;
    fn try_from(l: std::net::TcpListener) -> io::Result<TcpListener> {
        TcpListener::from_std(l)
    }
}

impl_deadlines!(TcpStream);
impl_stream_methods!(TcpStream);
impl_stream_io!(TcpStream);
impl_copy_methods!(TcpStream);

/// Listens on `address` with the default [`ListenConfig`] (Go's `net.Listen` for tcp).
///
/// # Errors
///
/// As [`ListenConfig::listen_tcp`].
pub fn listen_tcp(network: &str, address: &str) -> io::Result<TcpListener> {
    ListenConfig::default().listen_tcp(network, address)
}

/// `network` as the static name a socket keeps for its errors: `tcp4`,
/// `tcp6`, or `tcp` (every other name was refused before a socket exists).
fn network_name(network: &str) -> &'static str {
    match network {
        "tcp4" => "tcp4",
        "tcp6" => "tcp6",
        _ => "tcp",
    }
}

pub(crate) fn family_filter(network: &str) -> io::Result<Family> {
    addr::parse_ip_network(network, "tcp")
}
