//! `eventfd(2)`: the cross-thread wake-up of a blocked `epoll_wait` (Go's `netpollBreak`).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// A non-blocking, close-on-exec eventfd used only to interrupt `epoll_wait`.
#[derive(Debug)]
pub struct EventFd {
    /// The eventfd; registered in exactly one epoll under the reserved waker token.
    fd: OwnedFd,
}

impl EventFd {
    /// Creates the eventfd.
    pub fn new() -> io::Result<EventFd> {
        // SAFETY: eventfd takes an initial value and flags and returns a new fd or -1.
        let fd = unsafe { syscall!(eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC)) }?;
        // SAFETY: fd was just returned by the kernel and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd { fd })
    }

    /// Makes the eventfd readable, waking its epoll. Never blocks.
    pub fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a live u64 to our own fd. EAGAIN means the
        // counter is saturated, which still leaves the fd readable, so it is ignored.
        let _ = unsafe { syscall!(write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8)) };
    }

    /// Resets the counter so the next `wake` produces a new edge.
    pub fn drain(&self) {
        let mut buf: u64 = 0;
        // SAFETY: reads at most 8 bytes into a live u64. EAGAIN (already drained) is fine.
        let _ = unsafe { syscall!(read(self.fd.as_raw_fd(), (&mut buf as *mut u64).cast(), 8)) };
    }
}

impl AsRawFd for EventFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
