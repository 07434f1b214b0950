//! Go-shaped network errors (Go's `net.OpError`, `net.AddrError`), in one place.
//!
//! Every error a socket method returns is an `io::Error` whose kind is the kind
//! of the underlying cause (so `ErrorKind::ConnectionReset`, `TimedOut`, … still
//! match) and whose payload is an [`OpError`] that prints like Go:
//!
//! ```text
//! read tcp 127.0.0.1:5000->127.0.0.1:6000: connection reset by peer
//! dial tcp 127.0.0.1:1: connect: connection refused
//! accept tcp [::]:8080: use of closed network connection
//! ```
//!
//! `io::Error::raw_os_error()` is `None` for a wrapped error (std keeps the code
//! only in unwrapped errors), so [`os_error`] digs the code out of either form.

use std::fmt;
use std::io;

/// An error from a network operation, with Go's context (Go's `net.OpError`).
#[derive(Debug)]
pub struct OpError {
    /// The operation: `read`, `write`, `dial`, `accept`, `listen`, `close`, …
    pub op: &'static str,
    /// The network: `tcp`, `tcp4`, `tcp6`, `udp`, `unix`.
    pub net: String,
    /// The local address, when known.
    pub source: Option<String>,
    /// The remote address (or the listener's own, for `accept`/`listen`).
    pub addr: Option<String>,
    /// The syscall that failed, shown as Go's `os.SyscallError` (`connect: …`).
    pub syscall: Option<&'static str>,
    /// The cause, with its kind and OS error code.
    pub err: io::Error,
}

impl OpError {
    /// The OS error code of the cause, if it came from a syscall.
    pub fn raw_os_error(&self) -> Option<i32> {
        self.err.raw_os_error()
    }
}

/// Go's text for an errno: the C message with a lower-case first letter
/// (`connection reset by peer`), without std's ` (os error N)` suffix.
fn cause_text(err: &io::Error) -> String {
    match err.raw_os_error() {
        Some(code) => {
            // SAFETY: strerror returns a pointer to a NUL-terminated static or
            // thread-local string, copied out at once.
            let s = unsafe { std::ffi::CStr::from_ptr(libc::strerror(code)) }
                .to_string_lossy()
                .into_owned();
            let mut c = s.chars();
            match c.next() {
                Some(f) => f.to_lowercase().chain(c).collect(),
                None => s,
            }
        }
        None => err.to_string(),
    }
}

impl fmt::Display for OpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.op)?;
        if !self.net.is_empty() {
            write!(f, " {}", self.net)?;
        }
        if let Some(s) = &self.source {
            write!(f, " {s}")?;
        }
        if let Some(a) = &self.addr {
            f.write_str(if self.source.is_some() { "->" } else { " " })?;
            f.write_str(a)?;
        }
        f.write_str(": ")?;
        if let Some(sc) = self.syscall {
            write!(f, "{sc}: ")?;
        }
        f.write_str(&cause_text(&self.err))
    }
}

impl std::error::Error for OpError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.err)
    }
}

/// Wraps `err` in an [`OpError`], keeping its kind.
pub(crate) fn op_error(
    op: &'static str,
    net: &str,
    source: Option<String>,
    addr: Option<String>,
    syscall: Option<&'static str>,
    err: io::Error,
) -> io::Error {
    let kind = err.kind();
    io::Error::new(
        kind,
        OpError {
            op,
            net: net.to_string(),
            source,
            addr,
            syscall,
            err,
        },
    )
}

/// A bad address (Go's `net.AddrError`): `address 99999: invalid port`.
pub(crate) fn addr_error(what: &str, addr: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("address {addr}: {what}"),
    )
}

/// An unknown network name (Go's `net.UnknownNetworkError`).
pub(crate) fn unknown_network(net: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("unknown network {net}"),
    )
}

/// The OS error code of `err` or of the [`OpError`] it wraps.
///
/// # Examples
///
/// ```
/// let e = std::io::Error::from_raw_os_error(libc::ECONNREFUSED);
/// assert_eq!(netpark_net::os_error(&e), Some(libc::ECONNREFUSED));
/// ```
pub fn os_error(err: &io::Error) -> Option<i32> {
    let mut cur = err;
    loop {
        if let Some(code) = cur.raw_os_error() {
            return Some(code);
        }
        let payload = cur.get_ref()?;
        cur = if let Some(op) = payload.downcast_ref::<OpError>() {
            &op.err
        } else {
            &payload.downcast_ref::<crate::io::Partial>()?.err
        };
    }
}

/// The [`OpError`] inside `err`, if it is one.
pub fn op_error_of(err: &io::Error) -> Option<&OpError> {
    let payload = err.get_ref()?;
    match payload.downcast_ref::<crate::io::Partial>() {
        Some(p) => op_error_of(&p.err),
        None => payload.downcast_ref::<OpError>(),
    }
}

pub use netpark_runtime::error::{is_cancelled, is_closed, is_timeout, ErrClosed, ErrTimeout};
