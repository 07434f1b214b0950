//! `epoll(7)`: the selector the reactor is built on. Only the syscalls live here.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Interest every fd is registered with, once: Go's `EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET`.
/// Whether `epoll_pwait2` is worth trying; cleared the first time the kernel
/// answers `ENOSYS`.
static HAS_PWAIT2: AtomicBool = AtomicBool::new(true);

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
    /// `None` blocks. A timeout has nanosecond resolution with `epoll_pwait2`
    /// (Linux 5.11+); on older kernels, which answer `ENOSYS` once, it falls
    /// back to `epoll_wait`, whose timeout is rounded up to whole milliseconds
    /// so a timer never fires early (as mio's `selector/epoll.rs` does). A
    /// signal interrupting the wait yields zero events rather than an error.
    pub fn wait(
        &self,
        events: &mut Vec<libc::epoll_event>,
        timeout: Option<Duration>,
    ) -> io::Result<usize> {
        events.clear();
        let cap = events.capacity().min(libc::c_int::MAX as usize) as libc::c_int;
        let r = if HAS_PWAIT2.load(Ordering::Relaxed) {
            match self.pwait2(events, cap, timeout) {
                Err(e) if e.raw_os_error() == Some(libc::ENOSYS) => {
                    HAS_PWAIT2.store(false, Ordering::Relaxed);
                    self.wait_ms(events, cap, timeout)
                }
                r => r,
            }
        } else {
            self.wait_ms(events, cap, timeout)
        };
        let n = match r {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        // SAFETY: the kernel initialised the first n entries.
        unsafe { events.set_len(n) };
        Ok(n)
    }

    /// `epoll_pwait2(2)`: the timeout as a `timespec`, no signal mask.
    fn pwait2(
        &self,
        events: &mut Vec<libc::epoll_event>,
        cap: libc::c_int,
        timeout: Option<Duration>,
    ) -> io::Result<libc::c_long> {
        let ts = timeout.map(|d| libc::timespec {
            tv_sec: d.as_secs().min(libc::time_t::MAX as u64) as libc::time_t,
            tv_nsec: d.subsec_nanos() as libc::c_long,
        });
        let ts_ptr = ts
            .as_ref()
            .map_or(ptr::null(), |t| t as *const libc::timespec);
        // SAFETY: the buffer has room for `cap` events and the kernel writes at
        // most that many; `ts_ptr` is null or points at a live timespec; a null
        // signal mask leaves the mask alone (its size is then not read).
        unsafe {
            syscall!(syscall(
                libc::SYS_epoll_pwait2,
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                cap,
                ts_ptr,
                ptr::null::<libc::sigset_t>(),
                0usize
            ))
        }
    }

    /// `epoll_wait(2)`: the timeout in whole milliseconds, rounded up.
    fn wait_ms(
        &self,
        events: &mut Vec<libc::epoll_event>,
        cap: libc::c_int,
        timeout: Option<Duration>,
    ) -> io::Result<libc::c_long> {
        let ms: libc::c_int = match timeout {
            None => -1,
            Some(d) => {
                let ms = d.as_nanos().div_ceil(1_000_000);
                ms.min(libc::c_int::MAX as u128) as libc::c_int
            }
        };
        // SAFETY: the buffer has room for `cap` events; the kernel writes at most that many.
        unsafe {
            syscall!(epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                cap,
                ms
            ))
        }
        .map(libc::c_long::from)
    }
}

impl AsRawFd for Epoll {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Best of twenty: the shortest time `f` took to wait out `timeout` on
    /// an epoll with nothing registered. (Best of three went over 1 ms for
    /// a 100 µs wait with this 2-core host loaded; a wait is preempted
    /// now and then, twenty in a row almost never.)
    fn best_wait(
        f: impl Fn(&Epoll, &mut Vec<libc::epoll_event>, Option<Duration>) -> io::Result<libc::c_long>,
        timeout: Duration,
    ) -> Duration {
        let ep = Epoll::new().unwrap();
        let mut events = Vec::with_capacity(8);
        (0..20)
            .map(|_| {
                let t = Instant::now();
                assert_eq!(f(&ep, &mut events, Some(timeout)).unwrap(), 0);
                t.elapsed()
            })
            .min()
            .unwrap()
    }

    #[test]
    fn the_millisecond_fallback_rounds_a_short_timeout_up() {
        let took = best_wait(|ep, ev, t| ep.wait_ms(ev, 8, t), Duration::from_micros(100));
        assert!(took >= Duration::from_millis(1), "{took:?}");
    }

    #[test]
    fn epoll_pwait2_waits_a_short_timeout_without_rounding() {
        let took = best_wait(|ep, ev, t| ep.pwait2(ev, 8, t), Duration::from_micros(100));
        assert!(took >= Duration::from_micros(100), "{took:?}");
        assert!(took < Duration::from_millis(1), "{took:?}");
    }
}
