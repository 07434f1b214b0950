//! `epoll(7)`: the selector the reactor is built on. Only the syscalls live here.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Interest every fd is registered with, once: Go's `EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET`.
const INTEREST: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32;

/// One readiness event, decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The token given at registration.
    pub token: u64,
    /// Readable, peer hung up, or error: a reader should retry its syscall.
    pub readable: bool,
    /// Writable, hung up, or error: a writer should retry its syscall.
    pub writable: bool,
    /// The peer closed its side (`EPOLLRDHUP`) or the fd hung up (`EPOLLHUP`):
    /// reads will return EOF from now on, never `EAGAIN`.
    pub read_closed: bool,
}

/// Decodes one raw `epoll_event`.
pub fn decode(ev: &libc::epoll_event) -> Event {
    let bits = ev.events;
    let err_or_hup = (libc::EPOLLERR | libc::EPOLLHUP) as u32;
    Event {
        token: ev.u64,
        readable: bits & (libc::EPOLLIN as u32 | libc::EPOLLRDHUP as u32 | err_or_hup) != 0,
        writable: bits & (libc::EPOLLOUT as u32 | err_or_hup) != 0,
        read_closed: bits & (libc::EPOLLRDHUP as u32 | libc::EPOLLHUP as u32) != 0,
    }
}

/// An epoll instance.
#[derive(Debug)]
pub struct Epoll {
    /// The epoll fd; closed on drop, which also drops every registration in it.
    fd: OwnedFd,
}

impl Epoll {
    /// Opens a new epoll instance with `EPOLL_CLOEXEC`.
    pub fn new() -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes a flag word and returns a new fd or -1.
        let fd = unsafe { syscall!(epoll_create1(libc::EPOLL_CLOEXEC)) }?;
        // SAFETY: fd was just returned by the kernel and is owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Epoll { fd })
    }

    /// Registers `fd` edge-triggered for read, write and hang-up, carrying `token`.
    pub fn add(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, INTEREST, token)
    }

    /// Registers `fd` edge-triggered for read only (the eventfd waker).
    pub fn add_read(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.ctl(
            libc::EPOLL_CTL_ADD,
            fd,
            (libc::EPOLLIN | libc::EPOLLET) as u32,
            token,
        )
    }

    /// Removes `fd` from the interest list.
    pub fn delete(&self, fd: RawFd) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0)
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, events: u32, token: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: token };
        // SAFETY: self.fd is a live epoll fd and ev outlives the call; the kernel
        // only reads ev (and ignores it for EPOLL_CTL_DEL since Linux 2.6.9).
        unsafe { syscall!(epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev)) }?;
        Ok(())
    }

    /// Waits for events into `events` (cleared first) and returns how many arrived.
    ///
    /// `None` blocks; a positive timeout is rounded up to whole milliseconds so a
    /// timer never fires early (as mio's `selector/epoll.rs` does). A signal
    /// interrupting the wait yields zero events rather than an error.
    pub fn wait(
        &self,
        events: &mut Vec<libc::epoll_event>,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        let ms: libc::c_int = match timeout {
            None => -1,
            Some(d) => {
                let ms = d.as_nanos().div_ceil(1_000_000);
                ms.min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        events.clear();
        let cap = events.capacity().min(libc::c_int::MAX as usize) as libc::c_int;
        // SAFETY: the buffer has room for `cap` events; the kernel writes at most that many.
        let n = match unsafe {
            syscall!(epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                cap,
                ms
            ))
        } {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        // SAFETY: epoll_wait initialised the first n entries.
        unsafe { events.set_len(n) };
        Ok(n)
    }
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
