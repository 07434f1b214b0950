//! `NetFd`: a non-blocking fd with its `PollDesc` (Go's `internal/poll.FD`).
//!
//! It owns the two things every socket (and, later, every pipe) needs:
//!
//! - **The close protocol** (Go's `fdMutex` reference count). `close` may run
//!   while other tasks are inside `read`/`write`/`accept` on the same fd.
//! - **The one retry loop** ([`NetFd::io`]): budget → prepare → syscall → on
//!   `EAGAIN` park on that direction → retry. Every blocking operation goes
//!   through it: read, write, accept, connect, recv_from, and later splice and
//!   sendfile. The budget step (`netpark_runtime::consume_budget`) yields once
//!   a task has made 128 operations in one turn, so one that never blocks
//!   cannot hold its worker.
//!
//! # The reference count (fd lifetime)
//!
//! ```text
//!   state = CLOSED bit | WLOCKED bit | WCONTENDED bit | number of references
//!
//!   open       refs = 1 (the handle itself)
//!   op start   incref: CAS refs → refs + 1, never once CLOSED is set (then
//!              it fails with ErrClosed and changes nothing)
//!   op end     decref: refs − 1
//!   close()    set CLOSED (a second close fails with ErrClosed), evict the
//!              PollDesc (every parked op wakes and fails with ErrClosed),
//!              then drop the handle's reference; if that was not the last,
//!              wait on `closed` until the op that drops the last has run
//!              destroy (Go's `csema`: after close returns, the fd is shut)
//!   refs → 0   with CLOSED set, by whoever drops the last reference (an
//!              op's: it then wakes the waiting close):
//!              destroy = PollDesc::close (epoll_ctl DEL) then close(2);
//!              the poll-cache slot is vacated when the NetFd drops
//! ```
//!
//! **Invariant:** `close(2)` runs once, after every syscall on the fd has
//! returned, so a task never touches an fd number the kernel has reused.
//!
//! # The write lock (Go's `fdMutex` write lock)
//!
//! Every write takes the write lock for its whole length:
//! [`NetFd::write_all`] loops `send` → park on `EAGAIN` → `send` while
//! holding it, so two tasks writing one connection at once never interleave
//! their bytes (Go's `FD.Write`). As in Go's `fdMutex`, the lock lives in
//! `state` beside the count, and holding it *is* a reference: one CAS takes
//! both (and is refused once CLOSED is set), one CAS gives both back, where
//! a separate lock and count took four locked operations a write. The
//! transitions are those of the runtime's task-aware lock
//! ([`LockQueue`], whose queue parks a writer that finds the lock held):
//!
//! ```text
//!   free       WLOCKED clear
//!   held       WLOCKED set, counted in refs          lock: CAS free → held,
//!                                                    refs + 1; unlock: CAS
//!                                                    held → free, refs − 1
//!   contended  WLOCKED | WCONTENDED: writers queued  unlock hands the lock
//!                                                    (and its reference) to
//!                                                    the oldest, refs kept
//! ```
//!
//! `close` needs nothing extra: it fails the holder's wait at once, the
//! holder releases (handing the lock on), and each writer handed the lock
//! after CLOSED was set releases it at once with ErrClosed. An unlock that
//! drops the last reference of a closed fd runs destroy, as `decref` does.
//! Reads take no lock (Go's read lock only orders concurrent readers; each
//! `recv` returns one contiguous piece either way).

use std::io;
use std::os::fd::{IntoRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use netpark_runtime::sync::{LockQueue, LockWord, Notify};
use netpark_runtime::sys::retry_eintr;
use netpark_runtime::{error, Mode, PollDesc, PollHandle};
use parking_lot::Mutex;

use crate::sys;

/// Set in `NetFd::state` once `close` has begun.
const CLOSED: u64 = 1 << 63;
/// Set in `NetFd::state` while a writer holds the write lock (and with it
/// one of the counted references).
const WLOCKED: u64 = 1 << 62;
/// Set in `NetFd::state` beside `WLOCKED` while writers are queued in
/// `NetFd::write_queue`; only the queue's slow paths move it.
const WCONTENDED: u64 = 1 << 61;

/// A non-blocking fd registered with the runtime.
///
/// `repr(C)`, the fields every read and write touches first and the rest
/// after, so an operation after a wake finds them in one cache line (a
/// socket lives in its task's stack frame, cold at 1,000 connections).
#[derive(Debug)]
#[repr(C)]
pub struct NetFd {
    /// CLOSED, WLOCKED, WCONTENDED | reference count; see the module docs.
    state: AtomicU64,
    /// Readiness record: this fd's poll-cache slot, which the reactor finds
    /// by the token; vacated when the `NetFd` drops.
    pd: PollHandle,
    /// The fd; valid until destroy, which runs once refs reach zero after close.
    fd: RawFd,
    /// The last read was short, so the kernel buffer was drained: the next read
    /// parks before trying (edge-triggered epoll reports the next arrival).
    /// Written by readers only.
    read_drained: AtomicBool,
    /// Whether the fd is a socket: reads use `recv(2)` and writes
    /// `send(MSG_NOSIGNAL)`; other fds (pipes) use `read(2)`/`write(2)`.
    is_socket: bool,
    /// Whether any timeout is set, so the hot path skips the lock.
    has_timeouts: AtomicBool,
    /// Writers waiting for the write lock in `state`; see "The write lock".
    write_queue: LockQueue,
    /// Current back-off in ms after a resource error in `accept` (0: none);
    /// used by listening fds only, written by `accept`.
    accept_backoff_ms: AtomicU32,
    /// Per-operation timeouts (std's `set_read_timeout` / `set_write_timeout`).
    timeouts: Mutex<(Option<Duration>, Option<Duration>)>,
    /// Where a `close` that found operations in flight waits for the last
    /// of them to run `destroy` (Go's `csema`); notified by that operation.
    closed: Notify,
}

/// Holds one reference for the duration of an operation.
struct Ref<'a>(&'a NetFd);

impl Drop for Ref<'_> {
    fn drop(&mut self) {
        if self.0.decref() {
            // A close is waiting for this (see `close`).
            self.0.closed.notify_one();
        }
    }
}

/// Holds the write lock, and with it a reference (see "The write lock");
/// releases both on drop. Made by [`NetFd::lock_write`].
#[derive(Debug)]
pub struct WriteGuard<'a>(&'a NetFd);

impl Drop for WriteGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.write_queue.unlock(&WriteWord(self.0));
    }
}

/// The write lock's view of `NetFd::state`, for the runtime's
/// [`LockQueue`]: its free / held / contended states are WLOCKED and
/// WCONTENDED, and taking or releasing the lock adds or drops a reference
/// in the same CAS (see "The write lock").
struct WriteWord<'a>(&'a NetFd);

impl WriteWord<'_> {
    /// CAS `state` to `next(seen)` until it holds (`Ok`, with the word as
    /// it was just before) or `next` declines (`Err`, with the word it
    /// declined).
    #[inline(always)]
    fn update(&self, mut next: impl FnMut(u64) -> Option<u64>) -> Result<u64, u64> {
        let state = &self.0.state;
        let mut seen = state.load(Ordering::Relaxed);
        loop {
            let to = next(seen).ok_or(seen)?;
            match state.compare_exchange_weak(seen, to, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Ok(seen),
                Err(now) => seen = now,
            }
        }
    }
}

impl LockWord for WriteWord<'_> {
    #[inline]
    fn try_lock(&self) -> io::Result<bool> {
        // Free and open: held, with the lock's reference.
        match self.update(|s| (s & (CLOSED | WLOCKED) == 0).then(|| (s | WLOCKED) + 1)) {
            Ok(_) => Ok(true),
            Err(s) if s & CLOSED != 0 => Err(error::closed()),
            Err(_) => Ok(false),
        }
    }

    fn lock_or_contend(&self) -> io::Result<bool> {
        let r = self.update(|s| {
            if s & CLOSED != 0 || s & WCONTENDED != 0 {
                None
            } else if s & WLOCKED == 0 {
                Some((s | WLOCKED) + 1)
            } else {
                Some(s | WCONTENDED)
            }
        });
        match r {
            Ok(before) => Ok(before & WLOCKED == 0),
            Err(s) if s & CLOSED != 0 => Err(error::closed()),
            // Contended already: the caller queues behind the others.
            Err(_) => Ok(false),
        }
    }

    #[inline]
    fn try_unlock(&self) -> bool {
        match self.update(|s| (s & WCONTENDED == 0).then(|| (s & !WLOCKED) - 1)) {
            Ok(before) => {
                if (before & !WLOCKED) - 1 == CLOSED {
                    self.0.last_reference_dropped();
                }
                true
            }
            Err(_) => false,
        }
    }

    fn uncontend(&self) {
        self.0.state.fetch_and(!WCONTENDED, Ordering::Relaxed);
    }

    fn unlock_contended(&self) {
        let gone = WLOCKED | WCONTENDED;
        let prev = self.0.state.fetch_sub(gone + 1, Ordering::AcqRel);
        if prev - (gone + 1) == CLOSED {
            self.0.last_reference_dropped();
        }
    }
}

impl NetFd {
    /// Wraps a non-blocking socket.
    ///
    /// # Errors
    ///
    /// When the runtime's poll cache is full.
    pub fn new_socket(fd: OwnedFd) -> io::Result<NetFd> {
        NetFd::new(fd, true)
    }

    /// Wraps any non-blocking fd the kernel can poll (a pipe, an eventfd).
    ///
    /// # Errors
    ///
    /// When the runtime's poll cache is full.
    pub fn new(fd: OwnedFd, is_socket: bool) -> io::Result<NetFd> {
        let raw = fd.into_raw_fd();
        match PollDesc::open(raw) {
            Ok(pd) => Ok(NetFd {
                fd: raw,
                pd,
                state: AtomicU64::new(1),
                read_drained: AtomicBool::new(false),
                is_socket,
                timeouts: Mutex::new((None, None)),
                has_timeouts: AtomicBool::new(false),
                accept_backoff_ms: AtomicU32::new(0),
                write_queue: LockQueue::new(),
                closed: Notify::new(),
            }),
            Err(e) => {
                sys::close(raw);
                Err(e)
            }
        }
    }

    /// The fd number (valid while the `NetFd` is open).
    pub fn raw(&self) -> RawFd {
        self.fd
    }

    /// Whether the fd is a socket (`false`: a pipe or another pollable fd).
    pub fn is_socket(&self) -> bool {
        self.is_socket
    }

    /// Takes the write lock (see "The write lock" above) for a write made of
    /// many syscalls that is not [`write_all`](Self::write_all): a zero-copy
    /// copy into this fd holds it from its first `splice`/`sendfile` to its
    /// last (Go's `dstFD.writeLock()` in `splice` and `sendFile`), then calls
    /// [`io`](Self::io) with [`Mode::Write`] for each syscall.
    ///
    /// # Errors
    ///
    /// [`error::closed`] after close; [`error::cancelled`] when the task is
    /// cancelled while queued.
    pub fn lock_write(&self) -> io::Result<WriteGuard<'_>> {
        self.write_queue.lock(&WriteWord(self))?;
        let held = WriteGuard(self);
        if self.is_closed() {
            // Handed the lock by a writer that released it after close.
            return Err(error::closed());
        }
        Ok(held)
    }

    fn incref(&self) -> io::Result<Ref<'_>> {
        // A CAS that never adds to a CLOSED count (Go's fdMutex.incref). An
        // add-then-undo would let a call made after destroy take the count
        // from 0 to 1 and back, see itself as the last reference, and run
        // destroy again: close(2) on a number the kernel may have handed to
        // another file (`calls_on_a_closed_socket_never_close_its_old_fd_number_again`).
        let mut seen = self.state.load(Ordering::Relaxed);
        loop {
            if seen & CLOSED != 0 {
                return Err(error::closed());
            }
            match self.state.compare_exchange_weak(
                seen,
                seen + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(Ref(self)),
                Err(now) => seen = now,
            }
        }
    }

    /// Drops a reference; whether it was the last (destroy has run).
    fn decref(&self) -> bool {
        let last = self.state.fetch_sub(1, Ordering::AcqRel) == CLOSED | 1;
        if last {
            self.destroy();
        }
        last
    }

    /// The write lock's release dropped the last reference of a closed fd:
    /// destroy, then tell the waiting close (as a `Ref`'s drop does).
    fn last_reference_dropped(&self) {
        self.destroy();
        self.closed.notify_one();
    }

    /// Go's `FD.destroy`: deregister, free the slot, then `close(2)`.
    fn destroy(&self) {
        self.pd.close();
        sys::close(self.fd);
    }

    /// Closes the fd (Go's `FD.Close`): wakes every operation blocked on it with
    /// "use of closed network connection" and closes the fd once the last of
    /// them has left its syscall.
    ///
    /// # Errors
    ///
    /// [`error::closed`] when already closed.
    pub fn close(&self) -> io::Result<()> {
        let prev = self.state.fetch_or(CLOSED, Ordering::AcqRel);
        if prev & CLOSED != 0 {
            return Err(error::closed());
        }
        self.pd.evict();
        if !self.decref() {
            // Operations were in flight; evict woke them, and the last to
            // leave runs destroy and notifies (a permit if it is first). A
            // wait cut short (a cancel, a runtime unwinding) stops waiting;
            // the fd is closed all the same, a moment later.
            let _ = self.closed.notified();
        }
        Ok(())
    }

    /// Whether `close` has run.
    pub fn is_closed(&self) -> bool {
        self.state.load(Ordering::Acquire) & CLOSED != 0
    }

    /// Gives up the fd without closing it: deregisters it and returns the number.
    pub fn into_raw(self) -> RawFd {
        let fd = self.fd;
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.pd.evict();
        self.pd.close();
        // With CLOSED set, the drop's `close` is a no-op, so the fd stays
        // open; the drop still vacates the poll-cache slot (forgetting the
        // NetFd used to leak it).
        drop(self);
        fd
    }

    /// The deadline of an operation starting now, from the std-style
    /// timeouts; `None` without a lock or a clock read when none is set.
    #[inline(always)]
    fn op_deadline(&self, mode: Mode) -> Option<Instant> {
        if !self.has_timeouts.load(Ordering::Relaxed) {
            return None;
        }
        self.op_deadline_slow(mode)
    }

    #[cold]
    fn op_deadline_slow(&self, mode: Mode) -> Option<Instant> {
        let t = self.timeouts.lock();
        let d = match mode {
            Mode::Read => t.0,
            Mode::Write => t.1,
        };
        d.map(netpark_runtime::time::deadline_after)
    }

    /// The one retry loop: runs `op` on the fd, parking on `mode` while it
    /// reports `EAGAIN` (Go's `fd.Read` loop shape, shared by every operation).
    ///
    /// `EINTR` is retried here. Call-site special cases (a short read, an
    /// `ECONNABORTED` accept) stay with their callers.
    ///
    /// # Errors
    ///
    /// `op`'s error; [`error::closed`], [`error::timed_out`], [`error::cancelled`]
    /// from the wait.
    pub fn io<T>(&self, mode: Mode, op: impl FnMut(RawFd) -> io::Result<T>) -> io::Result<T> {
        self.io_from(mode, false, op)
    }

    /// [`io`](Self::io), optionally waiting for readiness before the first
    /// syscall (`wait_first`: the last read drained the socket, so trying now
    /// would only return `EAGAIN`). The wait checks close and deadlines and
    /// consumes `ready`, so it stands in for `prepare`.
    fn io_from<T>(
        &self,
        mode: Mode,
        wait_first: bool,
        op: impl FnMut(RawFd) -> io::Result<T>,
    ) -> io::Result<T> {
        // Fairness without preemption: see netpark_runtime::task::coop.
        netpark_runtime::consume_budget();
        let _r = self.incref()?;
        self.retry(mode, wait_first, op)
    }

    /// The loop of [`io_from`](Self::io_from), for a caller that holds a
    /// reference (its own, or the write lock's).
    #[inline(always)]
    fn retry<T>(
        &self,
        mode: Mode,
        wait_first: bool,
        mut op: impl FnMut(RawFd) -> io::Result<T>,
    ) -> io::Result<T> {
        let deadline = self.op_deadline(mode);
        if wait_first {
            self.pd.wait_until_for(mode, deadline, self)?;
        } else {
            self.pd.prepare(mode)?;
        }
        loop {
            match op(self.fd) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    self.pd.wait_until_for(mode, deadline, self)?
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Waits until `mode` may be ready, without a syscall first (used by
    /// connect after `EINPROGRESS`; a read after a short read waits inside
    /// its `io` call instead).
    ///
    /// # Errors
    ///
    /// As [`io`](Self::io)'s wait.
    pub fn wait(&self, mode: Mode) -> io::Result<()> {
        let _r = self.incref()?;
        let deadline = self.op_deadline(mode);
        self.pd.wait_until_for(mode, deadline, self)
    }

    /// Parks until the fd is readable (bytes, end of stream or an error
    /// pending), holding no buffer while it waits (Go's #15735, tokio's
    /// `readable()`). Deadlines, close and cancel end it as they end a read.
    ///
    /// When the last read or [`try_read`](Self::try_read) drained the socket
    /// (a short read, or `WouldBlock`), it waits for the next readiness
    /// event without a syscall; otherwise it asks the kernel first
    /// (`poll(2)` with no timeout), so bytes that came before the call are
    /// seen at once. Either way a read right after it may still find
    /// nothing (another reader took the bytes): loop on `try_read`.
    ///
    /// # Errors
    ///
    /// As [`io`](Self::io).
    pub fn wait_readable(&self) -> io::Result<()> {
        if self.read_drained.load(Ordering::Relaxed) {
            // The edge that ends this wait is the one a read would wait for;
            // the read after it tries at once.
            self.wait(Mode::Read)?;
        } else {
            self.io(Mode::Read, |fd| sys::poll_now(fd, libc::POLLIN))?;
        }
        // Bytes are there: the next read must try at once, not wait for an
        // edge this wait may have consumed.
        self.read_drained.store(false, Ordering::Relaxed);
        Ok(())
    }

    /// One read that never parks: `WouldBlock` when nothing is there
    /// (tokio's `try_read`). With [`wait_readable`](Self::wait_readable), a
    /// task can read into a buffer it borrows only for that moment. A short
    /// read or `WouldBlock` records that the socket is drained, so the next
    /// `wait_readable` waits for an edge without asking the kernel first.
    ///
    /// # Errors
    ///
    /// `WouldBlock`; [`error::closed`] after close; the OS error.
    pub fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let _r = self.incref()?;
        // An event that came before this syscall is stale once it returns
        // (the syscall sees what the event announced); one that comes
        // after stays recorded for the wait that may follow.
        self.pd.prepare(Mode::Read)?;
        let r = if self.is_socket {
            retry_eintr(|| sys::recv(self.fd, buf, 0))
        } else {
            retry_eintr(|| sys::read(self.fd, buf))
        };
        let drained = match &r {
            Ok(n) => *n > 0 && *n < buf.len(),
            Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        };
        self.read_drained.store(drained, Ordering::Relaxed);
        r
    }

    /// One write that never parks: `WouldBlock` when the send buffer is
    /// full or another write holds the fd's write lock (tokio's
    /// `try_write`).
    ///
    /// # Errors
    ///
    /// As [`try_read`](Self::try_read).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        if !WriteWord(self).try_lock()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let _w = WriteGuard(self);
        if self.is_socket {
            retry_eintr(|| sys::send(self.fd, buf))
        } else {
            retry_eintr(|| sys::write(self.fd, buf))
        }
    }

    /// Parks until the fd is writable, as [`wait_readable`](Self::wait_readable).
    ///
    /// # Errors
    ///
    /// As [`io`](Self::io).
    pub fn wait_writable(&self) -> io::Result<()> {
        self.io(Mode::Write, |fd| sys::poll_now(fd, libc::POLLOUT))
    }

    /// Reads into `buf` (Go's `FD.Read`). Zero-length reads return 0 at once.
    ///
    /// # Errors
    ///
    /// As [`io`](Self::io).
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        // The last read drained the socket: a read now would only return
        // EAGAIN. Wait for the next edge (or a `ready` already recorded).
        // A plain load and store: concurrent readers may both wait, and
        // both retry after the edge.
        let drained = self.read_drained.load(Ordering::Relaxed);
        if drained {
            self.read_drained.store(false, Ordering::Relaxed);
        }
        // recv(2) goes straight to the socket layer; read(2) would also pass
        // through the VFS (fdget_pos, rw_verify_area) on every call.
        let n = if self.is_socket {
            self.io_from(Mode::Read, drained, |fd| sys::recv(fd, buf, 0))?
        } else {
            self.io_from(Mode::Read, drained, |fd| sys::read(fd, buf))?
        };
        if n > 0 && n < buf.len() {
            self.read_drained.store(true, Ordering::Relaxed);
        }
        Ok(n)
    }

    /// Accepts a connection on a listening socket (Go's `poll.FD.Accept`).
    ///
    /// `ECONNABORTED` (a peer that gave up while queued) is retried. On a
    /// resource error (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`) the call first
    /// sleeps for a back-off (5 ms doubling to 1 s, reset by the next success)
    /// and then returns the error, so a caller that retries every error cannot
    /// spin: with edge-triggered epoll the pending connection stays queued and
    /// the next `accept(2)` would fail at once.
    ///
    /// # Errors
    ///
    /// As [`io`](Self::io), plus the resource errors above.
    pub(crate) fn accept(&self) -> io::Result<(OwnedFd, sys::RawAddr)> {
        loop {
            match self.io(Mode::Read, sys::accept) {
                Ok(conn) => {
                    self.accept_backoff_ms.store(0, Ordering::Relaxed);
                    return Ok(conn);
                }
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => continue,
                Err(e)
                    if matches!(
                        e.raw_os_error(),
                        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                    ) =>
                {
                    let prev = self.accept_backoff_ms.load(Ordering::Relaxed);
                    let ms = if prev == 0 { 5 } else { (prev * 2).min(1000) };
                    self.accept_backoff_ms.store(ms, Ordering::Relaxed);
                    let d = Duration::from_millis(ms as u64);
                    log::warn!("netpark: accept on fd {}: {e}; retrying in {d:?}", self.fd);
                    netpark_runtime::sleep(d)?;
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Vectored read.
    ///
    /// # Errors
    ///
    /// As [`io`](Self::io).
    pub fn read_vectored(&self, bufs: &mut [io::IoSliceMut<'_>]) -> io::Result<usize> {
        self.io(Mode::Read, |fd| sys::readv(fd, bufs))
    }

    /// Reads without consuming (`MSG_PEEK`).
    ///
    /// # Errors
    ///
    /// As [`io`](Self::io).
    pub fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.io(Mode::Read, |fd| sys::recv(fd, buf, libc::MSG_PEEK))
    }

    /// Writes some of `buf` (at least one byte unless `buf` is empty), as
    /// `std::io::Write::write`.
    ///
    /// # Errors
    ///
    /// As [`io`](Self::io); `EPIPE`/`ECONNRESET` for a reset peer (never SIGPIPE).
    pub fn write(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let w = self.lock_write()?;
        self.write_once(&w, buf)
    }

    /// One send (or write) of `buf`, parking on `EAGAIN`, under the write lock.
    fn write_once(&self, held: &WriteGuard<'_>, buf: &[u8]) -> io::Result<usize> {
        if self.is_socket {
            self.io_held(held, |fd| sys::send(fd, buf))
        } else {
            self.io_held(held, |fd| sys::write(fd, buf))
        }
    }

    /// [`io`](Self::io) for a write under the write lock, whose reference
    /// stands for the operation's (no `incref`).
    #[inline(always)]
    fn io_held<T>(
        &self,
        _held: &WriteGuard<'_>,
        op: impl FnMut(RawFd) -> io::Result<T>,
    ) -> io::Result<T> {
        netpark_runtime::consume_budget();
        self.retry(Mode::Write, false, op)
    }

    /// Writes all of `buf` (Go's `FD.Write`), holding the write lock
    /// throughout, so a concurrent write on the same fd goes wholly before or
    /// wholly after it.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write); `WriteZero` if the kernel accepts nothing.
    /// Some of `buf` may have been written before an error.
    pub fn write_all(&self, mut buf: &[u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let w = self.lock_write()?;
        while !buf.is_empty() {
            match self.write_once(&w, buf)? {
                0 => return Err(io::ErrorKind::WriteZero.into()),
                n => buf = &buf[n..],
            }
        }
        Ok(())
    }

    /// Vectored write.
    ///
    /// # Errors
    ///
    /// As [`write`](Self::write).
    pub fn write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let w = self.lock_write()?;
        self.io_held(&w, |fd| sys::writev(fd, bufs))
    }

    /// Sets (or clears, with `None`) the read and/or write deadline (Go's `SetDeadline`).
    pub fn set_deadline(&self, read: bool, write: bool, deadline: Option<Instant>) {
        self.pd.set_deadline(read, write, deadline);
    }

    /// Sets std-style per-operation timeouts; `Some(0)` is rejected as std does.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a zero duration.
    pub fn set_timeout(&self, mode: Mode, d: Option<Duration>) -> io::Result<()> {
        if d == Some(Duration::ZERO) {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot set a 0 duration timeout",
            ));
        }
        let mut t = self.timeouts.lock();
        match mode {
            Mode::Read => t.0 = d,
            Mode::Write => t.1 = d,
        }
        self.has_timeouts
            .store(t.0.is_some() || t.1.is_some(), Ordering::Relaxed);
        Ok(())
    }

    /// The std-style per-operation timeout.
    pub fn timeout(&self, mode: Mode) -> Option<Duration> {
        let t = self.timeouts.lock();
        match mode {
            Mode::Read => t.0,
            Mode::Write => t.1,
        }
    }

    /// Runs a quick non-blocking call (an option, an address) with a reference held.
    ///
    /// # Errors
    ///
    /// [`error::closed`] after close, or `f`'s error.
    pub fn with<T>(&self, f: impl FnOnce(RawFd) -> io::Result<T>) -> io::Result<T> {
        let _r = self.incref()?;
        f(self.fd)
    }
}

impl Drop for NetFd {
    fn drop(&mut self) {
        let _ = self.close();
    }
}
