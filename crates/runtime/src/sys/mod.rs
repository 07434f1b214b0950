//! The syscall boundary of the runtime: every libc call of this crate lives below here.
//!
//! # The selector contract
//!
//! The reactor needs exactly this from the OS (Go's `netpollinit`, `netpollopen`,
//! `netpollclose`, `netpoll`, `netpollBreak`), and [`epoll`] + [`eventfd`] provide it:
//!
//! - **open**: a selector instance, close-on-exec ([`epoll::Epoll::new`]).
//! - **register** an fd once, edge-triggered, for read, write and peer hang-up
//!   (`EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET`), carrying a 64-bit token
//!   ([`epoll::Epoll::add`]).
//! - **deregister** before the fd is closed ([`epoll::Epoll::delete`]).
//! - **wait** with a timeout where `None` blocks, zero polls, and a positive value
//!   never ends early: nanoseconds with `epoll_pwait2`, else rounded *up* to
//!   the next millisecond for `epoll_wait` ([`epoll::Epoll::wait`]).
//! - **wake** a thread blocked in wait from another thread ([`eventfd::EventFd`]).
//!
//! # EINTR policy
//!
//! [`syscall!`](crate::syscall) never retries. `epoll_wait` interrupted by a signal
//! returns zero events (the caller loops anyway). Every other call that may see
//! `EINTR` goes through [`retry_eintr`], Go's `ignoringEINTR`.

pub mod epoll;
pub mod eventfd;
pub(crate) mod prefetch;
pub(crate) mod thread;

use std::io;

/// Runs `f` again for as long as it fails with `EINTR` (Go's `ignoringEINTRIO`).
///
/// # Examples
///
/// ```
/// use netpark_runtime::sys::retry_eintr;
/// let n: std::io::Result<i32> = retry_eintr(|| Ok(3));
/// assert_eq!(n.unwrap(), 3);
/// ```
pub fn retry_eintr<T>(mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    loop {
        match f() {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}
