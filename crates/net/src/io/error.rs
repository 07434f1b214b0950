//! `Partial`: the count Go returns beside an error (`n, err`), kept inside
//! the `io::Error` so Rust's `io::Result<u64>` loses nothing.

use std::fmt;
use std::io;

/// An error that ended [`copy`](super::copy), [`copy_n`](super::copy_n),
/// [`copy_buffer`](super::copy_buffer), [`read_full`](super::read_full) or
/// [`read_at_least`](super::read_at_least) after `n` bytes had been done
/// (written to the destination, or read into the buffer): Go's `(n, err)`.
///
/// It is the payload of the returned `io::Error`, whose kind is the kind of
/// `err`; it prints as `err` does. [`done_before`](super::done_before) reads
/// `n` back, [`os_error`](crate::os_error) the OS error code, and
/// [`is_closed`](crate::is_closed) / [`is_timeout`](crate::is_timeout) see
/// through it.
#[derive(Debug)]
pub struct Partial {
    /// Bytes done before the error.
    pub n: u64,
    /// What went wrong.
    pub err: io::Error,
}

impl fmt::Display for Partial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.err, f)
    }
}

impl std::error::Error for Partial {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.err)
    }
}

/// Wraps `err` with the count of bytes done before it; an error that
/// already carries a count keeps the larger one (never wrapped twice).
pub(crate) fn partial(n: u64, err: io::Error) -> io::Error {
    let kind = err.kind();
    match err.get_ref().and_then(|e| e.downcast_ref::<Partial>()) {
        Some(p) if p.n >= n => err,
        Some(_) => {
            let inner = err.into_inner().expect("checked: custom error");
            let p = inner.downcast::<Partial>().expect("checked: a Partial");
            io::Error::new(kind, Partial { n, err: p.err })
        }
        None => io::Error::new(kind, Partial { n, err }),
    }
}

/// The bytes done before `err` ended an io function (Go's `n` beside
/// `err`); 0 for an error that carries no count.
///
/// # Examples
///
/// ```
/// let mut buf = [0u8; 8];
/// let e = netpark_net::io::read_full(&mut &b"abc"[..], &mut buf).unwrap_err();
/// assert_eq!(e.kind(), std::io::ErrorKind::UnexpectedEof);
/// assert_eq!(netpark_net::io::done_before(&e), 3);
/// assert_eq!(&buf[..3], b"abc");
/// ```
pub fn done_before(err: &io::Error) -> u64 {
    err.get_ref()
        .and_then(|e| e.downcast_ref::<Partial>())
        .map_or(0, |p| p.n)
}
