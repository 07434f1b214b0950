//! Dialing (Go's `net.Dialer`): non-blocking `connect`, park until writable,
//! then `SO_ERROR` decides; each resolved address is tried in turn.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use netpark_runtime::Mode;

use crate::addr;
use crate::error::op_error;
use crate::fd::NetFd;
use crate::sys::{self, RawAddr};
use crate::tcp::{self, TcpStream};

/// Options for connecting (Go's `net.Dialer`).
#[derive(Debug, Clone, Default)]
pub struct Dialer {
    timeout: Option<Duration>,
    deadline: Option<Instant>,
    local_addr: Option<SocketAddr>,
}

impl Dialer {
    /// No timeout, no deadline, any local address.
    pub fn new() -> Dialer {
        Dialer::default()
    }

    /// The longest a whole dial may take (Go's `Dialer.Timeout`).
    pub fn timeout(mut self, d: Duration) -> Dialer {
        self.timeout = Some(d);
        self
    }

    /// The time by which a dial must finish (Go's `Dialer.Deadline`).
    pub fn deadline(mut self, t: Instant) -> Dialer {
        self.deadline = Some(t);
        self
    }

    /// The local address to bind before connecting (Go's `Dialer.LocalAddr`).
    pub fn local_addr(mut self, a: SocketAddr) -> Dialer {
        self.local_addr = Some(a);
        self
    }

    /// Connects over `network` (`tcp`, `tcp4`, `tcp6`) to `address`
    /// (`host:port`), trying each resolved address in turn (Go's `Dialer.Dial`).
    ///
    /// # Errors
    ///
    /// Go-shaped, keeping the kind and OS code of the cause:
    /// `dial tcp 127.0.0.1:1: connect: connection refused`,
    /// `dial tcp: address 99999: invalid port`, `dial tcp9: unknown network tcp9`,
    /// `dial tcp 10.0.0.1:80: i/o timeout`.
    pub fn dial(&self, network: &str, address: &str) -> io::Result<TcpStream> {
        let wrap = |e| op_error("dial", network, None, None, None, e);
        let family = tcp::family_filter(network).map_err(wrap)?;
        let (addrs, _) = addr::resolve(family, address).map_err(wrap)?;
        let addrs = addrs.ok_or_else(|| {
            wrap(io::Error::new(
                io::ErrorKind::InvalidInput,
                "missing address",
            ))
        })?;
        self.dial_addrs(network, &addrs)
    }

    /// The overall deadline: the earlier of `deadline` and now + `timeout`.
    fn overall_deadline(&self) -> Option<Instant> {
        let t = self.timeout.map(netpark_runtime::time::deadline_after);
        match (t, self.deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Connects to the first of `addrs` that accepts.
    ///
    /// # Errors
    ///
    /// The first address's error when all fail (as Go reports), Go-shaped.
    pub fn dial_addrs(&self, network: &str, addrs: &[SocketAddr]) -> io::Result<TcpStream> {
        let deadline = self.overall_deadline();
        let mut first_err = None;
        for (i, a) in addrs.iter().enumerate() {
            // Go's partialDeadline: share the time left among the addresses left,
            // but give each at least 2 s when there is that much.
            let part = deadline.map(|d| {
                let left = d.saturating_duration_since(Instant::now());
                let share = left / (addrs.len() - i) as u32;
                let share = if share < Duration::from_secs(2) {
                    left.min(Duration::from_secs(2))
                } else {
                    share
                };
                Instant::now() + share
            });
            match self.dial_one(network, a, part) {
                Ok(s) => return Ok(s),
                Err(e) => {
                    let stop = netpark_runtime::error::is_cancelled(&e);
                    first_err.get_or_insert(e);
                    if stop {
                        break;
                    }
                }
            }
        }
        Err(first_err.unwrap_or_else(|| {
            op_error(
                "dial",
                network,
                None,
                None,
                None,
                io::Error::new(io::ErrorKind::InvalidInput, "no addresses to dial"),
            )
        }))
    }

    fn dial_one(
        &self,
        network: &str,
        addr: &SocketAddr,
        deadline: Option<Instant>,
    ) -> io::Result<TcpStream> {
        let err = |syscall, e| {
            op_error(
                "dial",
                network,
                self.local_addr.map(|a| a.to_string()),
                Some(addr.to_string()),
                syscall,
                e,
            )
        };
        if deadline.is_some_and(|d| d <= Instant::now()) {
            return Err(err(None, netpark_runtime::error::timed_out()));
        }
        let fd = sys::socket(addr::family_of(addr), libc::SOCK_STREAM)
            .map_err(|e| err(Some("socket"), e))?;
        if let Some(l) = &self.local_addr {
            sys::bind(fd.as_raw_fd(), &RawAddr::from_inet(l)).map_err(|e| err(Some("bind"), e))?;
        }
        let fd = NetFd::new_socket(fd).map_err(|e| err(None, e))?;
        connect(&fd, &RawAddr::from_inet(addr), deadline).map_err(|(sc, e)| err(sc, e))?;
        fd.with(tcp::set_conn_defaults)
            .map_err(|e| err(Some("setsockopt"), e))?;
        TcpStream::from_connected(fd, network, *addr).map_err(|e| err(None, e))
    }
}

/// Go's `netFD.connect`: start the connect; on `EINPROGRESS` park until the
/// socket is writable, then read `SO_ERROR`. The deadline rides on the write
/// direction of the fd while connecting and is cleared afterwards.
pub(crate) fn connect(
    fd: &NetFd,
    addr: &RawAddr,
    deadline: Option<Instant>,
) -> Result<(), (Option<&'static str>, io::Error)> {
    match fd.with(|raw| sys::connect(raw, addr)) {
        Ok(()) => return Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EINPROGRESS | libc::EALREADY | libc::EINTR)
            ) => {}
        Err(e) => return Err((Some("connect"), e)),
    }
    fd.set_deadline(false, true, deadline);
    let result = loop {
        if let Err(e) = fd.wait(Mode::Write) {
            break Err((None, e));
        }
        match fd.with(sys::take_error) {
            Ok(None) => {
                // Writable with no error may still be a spurious wake-up: Go
                // confirms with getpeername.
                match fd.with(sys::peer_addr) {
                    Ok(_) => break Ok(()),
                    Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => continue,
                    Err(e) => break Err((Some("getpeername"), e)),
                }
            }
            Ok(Some(e))
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EINPROGRESS | libc::EALREADY | libc::EINTR)
                ) =>
            {
                continue
            }
            Ok(Some(e)) => break Err((Some("connect"), e)),
            Err(e) => break Err((Some("getsockopt"), e)),
        }
    };
    fd.set_deadline(false, true, None);
    result
}
