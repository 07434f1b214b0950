//! The runtime's error values and their `io::Error` form, in one place
//! (Go's `internal/poll/fd_poll_runtime.go` `convertErr`).
//!
//! | condition | `io::ErrorKind` | message (Go's) |
//! |---|---|---|
//! | fd closed or unblocked while in use | `NotConnected` | `use of closed network connection` |
//! | read/write deadline passed | `TimedOut` | `i/o timeout` |
//! | the task was cancelled | `Interrupted` | `task cancelled` |
//! | a wait in a destructor while shutdown unwinds the task | `Other` | `runtime is shut down` |
//! | no task stack can be mapped (spawn) | the OS error's | `cannot map a task stack of N bytes: …` |

use std::fmt;
use std::io;

/// Go's `net.ErrClosed`: the fd was closed while (or before) it was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrClosed;

impl fmt::Display for ErrClosed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("use of closed network connection")
    }
}
impl std::error::Error for ErrClosed {}

/// Go's `os.ErrDeadlineExceeded`: a deadline passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrTimeout;

impl fmt::Display for ErrTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("i/o timeout")
    }
}
impl std::error::Error for ErrTimeout {}

/// The waiting task was cancelled through its `JoinHandle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrCancelled;

impl fmt::Display for ErrCancelled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task cancelled")
    }
}
impl std::error::Error for ErrCancelled {}

/// The runtime shut down: a wait made by a destructor while the runtime
/// unwinds the task's stack cannot be waited for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrShutdown;

impl fmt::Display for ErrShutdown {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("runtime is shut down")
    }
}
impl std::error::Error for ErrShutdown {}

/// A spawn could not map its task's stack. Keeps the OS error as its source,
/// and says what usually runs out.
#[derive(Debug)]
pub struct ErrStackMap {
    /// Usable bytes the stack was to have.
    pub size: usize,
    /// The `mmap` or `mprotect` error.
    source: io::Error,
}

impl fmt::Display for ErrStackMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot map a task stack of {} bytes: {}",
            self.size, self.source
        )?;
        if self.source.raw_os_error() == Some(libc::ENOMEM) {
            // The usual cause is the mapping count, not memory.
            f.write_str(
                " (each live task's stack is a memory mapping, two on kernels \
                 before 6.13, and a process may have vm.max_map_count of them, \
                 65530 by default; or the address-space limit, ulimit -v, is \
                 reached)",
            )?;
        }
        Ok(())
    }
}
impl std::error::Error for ErrStackMap {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// "cannot map a task stack of N bytes: …", with the OS error's kind.
pub(crate) fn stack_map_failed(size: usize, source: io::Error) -> io::Error {
    io::Error::new(source.kind(), ErrStackMap { size, source })
}

/// "use of closed network connection", kind `NotConnected`.
pub fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, ErrClosed)
}

/// "i/o timeout", kind `TimedOut`.
pub fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, ErrTimeout)
}

/// "task cancelled", kind `Interrupted`.
pub fn cancelled() -> io::Error {
    io::Error::new(io::ErrorKind::Interrupted, ErrCancelled)
}

/// "runtime is shut down", kind `Other`.
pub fn shut_down() -> io::Error {
    io::Error::other(ErrShutdown)
}

/// Whether `err` (or the error it wraps) is [`ErrClosed`] (Go's `errors.Is(err, net.ErrClosed)`).
pub fn is_closed(err: &io::Error) -> bool {
    find::<ErrClosed>(err)
}

/// Whether `err` (or the error it wraps) is a passed deadline.
pub fn is_timeout(err: &io::Error) -> bool {
    find::<ErrTimeout>(err)
}

/// Whether `err` (or the error it wraps) is a task cancellation.
pub fn is_cancelled(err: &io::Error) -> bool {
    find::<ErrCancelled>(err)
}

fn find<E: std::error::Error + 'static>(err: &io::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = err.get_ref().map(|e| e as _);
    while let Some(e) = cur {
        if e.is::<E>() {
            return true;
        }
        if let Some(io) = e.downcast_ref::<io::Error>() {
            cur = io.get_ref().map(|e| e as _);
            continue;
        }
        cur = e.source();
    }
    false
}
