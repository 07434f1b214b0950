//! `PollDesc`: the per-fd record of who waits for readiness (Go's `pollDesc`).
//!
//! # The waiter slot (Go's `rg` / `wg`)
//!
//! Each direction has one slot. Its waiter list is guarded by the
//! descriptor's lock; its `ready` flag is an atomic beside the lock
//! (`PollDesc::ready`), so that `prepare`, which runs before every syscall,
//! takes no lock (Go's `pollReset` is one atomic store too). Each direction
//! has its own flag, so every move of it is a plain load or store, never a
//! read-modify-write:
//!
//! ```text
//!              notify (reactor: event)                wait() sees ready
//!    ┌─────┐ ─────────────────────────► ┌───────┐ ─────────────────────► ┌─────┐
//!    │ nil │                            │ ready │     (consumed; the     │ nil │
//!    └─────┘ ◄───────────────────────── └───────┘      caller retries)   └─────┘
//!      │  ▲     prepare() (before the syscall: Go's pollReset)
//!      │  │
//!      │  │ waiter wakes for a timer, cancel or a deadline change and removes
//!      │  │ itself; or notify takes every waiter and sets ready
//!      ▼  │
//!   ┌─────────────────┐
//!   │ waiting [u, …]  │  wait(): the caller's Unparker is pushed, then it parks
//!   └─────────────────┘
//!
//!   evict (close/unblock, any thread): sets CLOSING, every waiter of both
//!   slots is taken and woken; each then fails with ErrClosed, and so does every
//!   later prepare() and wait().
//! ```
//!
//! Who moves `ready`: notify sets it and wait consumes it, both under the
//! lock, so a wait either sees an event or is in the list when the event's
//! notify takes the list. prepare clears it without the lock, before the
//! syscall: an event that came before the clear is stale for that syscall
//! (the kernel already holds what the event announced, and the syscall sees
//! it), and one that comes after stays set for the wait that may follow.
//!
//! Go's slot holds one goroutine and throws on a second ("double wait") because
//! `fdMutex` serialises readers. Ours holds a short list, so two tasks blocked on
//! one direction of one fd both wake and retry their syscall.
//!
//! Readiness that arrives before the task parks is not lost: notify leaves
//! `ready` set, and `wait` consumes it without parking. A waiter that was taken
//! out of the list by notify returns even when another waiter consumed `ready`
//! first, so every woken waiter retries its syscall once.
//!
//! **Never wake while holding a lock:** `notify` and `evict` collect the taken
//! waiters and unpark them after the guard is dropped.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::poll_cache::{self, PollHandle};
use super::token::{Token, VACANT};
use super::Poller;
use crate::error;
use crate::sys::epoll::Event;
use crate::task::park::{self, Unparker, WaitReason, WaiterId};

/// Which direction of an fd an operation waits on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Waiting to read (or accept).
    Read,
    /// Waiting to write (or for a connect to finish).
    Write,
}

impl Mode {
    /// This direction's index in `PollDesc::ready`.
    fn index(self) -> usize {
        match self {
            Mode::Read => 0,
            Mode::Write => 1,
        }
    }

    /// This direction's bit in `PollDesc::flags` saying a deadline is set.
    fn deadline_bit(self) -> u8 {
        match self {
            Mode::Read => READ_DEADLINE,
            Mode::Write => WRITE_DEADLINE,
        }
    }
}

/// `PollDesc::flags`: `evict` has run; set under the lock, never cleared (Go's `closing`).
const CLOSING: u8 = 1 << 2;
/// `PollDesc::flags`: a read deadline is set (mirrors `State::read_deadline`).
const READ_DEADLINE: u8 = 1 << 3;
/// `PollDesc::flags`: a write deadline is set (mirrors `State::write_deadline`).
const WRITE_DEADLINE: u8 = 1 << 4;
/// `PollDesc::flags`: the reactor saw the read side hang up
/// (`EPOLLRDHUP`/`EPOLLHUP`); set by notify under the lock, never cleared.
/// A read can no longer return `EAGAIN`, so read waits return at once: the
/// edge that reported the hang-up may already have been consumed together
/// with the last data.
const READ_CLOSED: u8 = 1 << 5;
/// `PollDesc::flags`: the write slot (in `Cold`) holds a waiter; kept under
/// the lock by the waiter-list methods, so an event reads the slot only
/// then.
const WRITE_WAITING: u8 = 1 << 6;

/// One direction's waiter slot; see the module docs for its states.
///
/// The tasks or threads parked on this direction (Go's `pdWait`/G): the
/// first inline, since one task per direction is the rule, and any more in
/// a boxed `Vec`. A `Vec` alone kept a heap buffer per fd after its first
/// wait, one more cache line for every park and every event to touch; an
/// inline `Vec` is three words, which pushed the read slot out of the
/// descriptor's first line (see [`PollDesc`]).
#[derive(Debug, Default)]
struct Slot {
    /// The first waiter; `None` only when `more` is empty too.
    first: Option<Unparker>,
    /// Waiters after the first (two tasks reading one fd at once); made at
    /// the first such waiter. Boxed on purpose: one word in the
    /// descriptor's hot line instead of a `Vec`'s three.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<Unparker>>>,
}

impl Slot {
    fn push(&mut self, u: Unparker) {
        if self.first.is_none() {
            self.first = Some(u);
        } else {
            self.more.get_or_insert_default().push(u);
        }
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn iter(&self) -> impl Iterator<Item = &Unparker> {
        self.first
            .iter()
            .chain(self.more.iter().flat_map(|m| m.iter()))
    }

    /// Takes `me` out, if it waits here.
    fn remove(&mut self, me: WaiterId) {
        let more = self.more.as_deref_mut();
        if self.first.as_ref().is_some_and(|u| u.id() == me) {
            self.first = more.and_then(Vec::pop);
        } else if let Some(m) = more {
            if let Some(i) = m.iter().position(|u| u.id() == me) {
                m.swap_remove(i);
            }
        }
    }

    /// Moves every waiter into `out`.
    fn take_into(&mut self, out: &mut Vec<Unparker>) {
        out.extend(self.first.take());
        if let Some(more) = self.more.as_deref_mut() {
            out.append(more);
        }
    }
}

/// Everything a `PollDesc` guards with its lock. `repr(C)`: it ends the
/// descriptor's one cache line, so it holds only what a read's commit and
/// its event touch; the rest waits in [`Cold`] (see [`PollDesc`]).
#[derive(Debug, Default)]
#[repr(C)]
struct State {
    /// The poller this fd is registered in, set at the first wait (lazily, so the
    /// fd lands in the epoll of the worker that waits on it).
    poller: Option<Arc<Poller>>,
    /// Read waiters; written by wait/prepare (any thread) and notify (reactor).
    read: Slot,
    /// The write slot and the deadlines, made at the first write wait or
    /// deadline; most connections of an echo or HTTP server never need it.
    cold: Option<Box<Cold>>,
}

/// The part of [`State`] that reads and their events do not touch.
#[derive(Debug, Default)]
struct Cold {
    /// Write waiters; as `State::read`. `WRITE_WAITING` in the flags says
    /// whether it holds any, so the "writable" that most events carry (every
    /// ack frees send room) reads this box only when someone waits here.
    write: Slot,
    /// Absolute read deadline; `None` means none (Go's `rd`, zero time = none).
    read_deadline: Option<Instant>,
    /// Absolute write deadline (Go's `wd`).
    write_deadline: Option<Instant>,
}

impl State {
    fn cold_mut(&mut self) -> &mut Cold {
        self.cold.get_or_insert_default()
    }

    /// Whether `me` waits on `mode`.
    fn contains(&self, mode: Mode, me: WaiterId) -> bool {
        self.waiters_of(mode).any(|u| u.id() == me)
    }

    /// The waiters of `mode`.
    fn waiters_of(&self, mode: Mode) -> impl Iterator<Item = &Unparker> {
        let (read, write) = match mode {
            Mode::Read => (Some(&self.read), None),
            Mode::Write => (None, self.cold.as_ref().map(|c| &c.write)),
        };
        read.into_iter().chain(write).flat_map(Slot::iter)
    }

    /// Every waiter of both directions.
    fn waiters(&self) -> impl Iterator<Item = &Unparker> {
        self.waiters_of(Mode::Read)
            .chain(self.waiters_of(Mode::Write))
    }

    /// Sets `mode`'s deadline; clearing one makes no `Cold` box.
    fn set_deadline(&mut self, mode: Mode, deadline: Option<Instant>) {
        if deadline.is_none() && self.cold.is_none() {
            return;
        }
        let cold = self.cold_mut();
        match mode {
            Mode::Read => cold.read_deadline = deadline,
            Mode::Write => cold.write_deadline = deadline,
        }
    }

    /// The earlier of the direction's deadline and the operation's own.
    fn deadline(&self, mode: Mode, op: Option<Instant>) -> Option<Instant> {
        let d = self.cold.as_ref().and_then(|c| match mode {
            Mode::Read => c.read_deadline,
            Mode::Write => c.write_deadline,
        });
        match (d, op) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The deadline half of Go's `netpollcheckerr` (see `PollDesc::check`).
    fn check_deadline(&self, mode: Mode, op: Option<Instant>) -> io::Result<()> {
        match self.deadline(mode, op) {
            Some(d) if d <= Instant::now() => Err(error::timed_out()),
            _ => Ok(()),
        }
    }
}

/// What a wait on `fd` in `mode` shows in `dump()`.
fn wait_reason(fd: RawFd, mode: Mode) -> WaitReason {
    match mode {
        Mode::Read => WaitReason::Read(fd),
        Mode::Write => WaitReason::Write(fd),
    }
}

/// A task's fast-path wait, committed by its worker (`PollDesc::wait_until`).
struct FdWait<'a> {
    /// The descriptor waited on.
    pd: &'a PollDesc,
    /// The direction.
    mode: Mode,
}

impl crate::task::context::CommitPark for FdWait<'_> {
    fn commit(&self, task: &Arc<crate::task::Task>) -> bool {
        self.pd.commit_wait(self.mode, task)
    }
}

/// The readiness record of one fd (Go's `runtime.pollDesc`).
///
/// A slot of the poll cache (`poll_cache.rs`), filled by [`PollDesc::open`]
/// when a socket (or pipe) is made non-blocking, held by that socket through
/// its [`PollHandle`], closed by [`PollDesc::close`] right before `close(2)`
/// and made vacant when the handle drops.
///
/// The descriptor is one cache line (`align(64)`, 64 bytes, in a block of
/// 64 with no allocator header or reference count beside it), holding
/// everything an fd's event, the wake's resume
/// and the next read's park touch: the fd, the flags, `ready`, the token
/// (checked against the event's), the lock, the poller and the read slot;
/// the write slot and the deadlines wait in a box ([`Cold`]) made when
/// first needed. At 1,000 connections each line a request touches is a
/// likely miss; the descriptor used to spread these over three
/// (ARCHITECTURE.md, "User CPU per request"). `pd_hot_fields_share_one_line`
/// checks the layout.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct PollDesc {
    /// The fd; written by `fill` under the lock, constant while filled.
    fd: AtomicI32,
    /// `CLOSING`, `READ_CLOSED` and mirrors of whether each deadline is
    /// set, so `prepare` and a wait can skip the lock. Set by evict, close,
    /// notify and set_deadline under the lock.
    flags: AtomicU8,
    /// Each direction's `ready` (by `Mode::index`): an event arrived that no
    /// waiter has consumed yet (Go's `pdReady`). Set by notify and cleared by
    /// wait, under the lock; cleared by prepare without it. Plain loads and
    /// stores: only prepare writes without the lock, and it only clears.
    ready: [AtomicBool; 2],
    /// Slot and generation (`VACANT` while the slot is free); written by
    /// `fill` and `vacate` under the lock, constant while filled. An event
    /// applies only if it carries this token.
    token: AtomicU64,
    /// Waiters, deadlines and registration; see [`State`].
    state: Mutex<State>,
}

impl PollDesc {
    pub(crate) fn new(fd: RawFd, token: Token) -> PollDesc {
        PollDesc {
            fd: AtomicI32::new(fd),
            token: AtomicU64::new(token.0),
            state: Mutex::new(State::default()),
            flags: AtomicU8::new(0),
            ready: [AtomicBool::new(false), AtomicBool::new(false)],
        }
    }

    /// Takes a poll-cache slot for a non-blocking `fd` (Go's
    /// `poll_runtime_pollOpen`); the returned handle owns it until dropped.
    ///
    /// The fd is added to an epoll instance lazily, at its first [`wait`](Self::wait).
    ///
    /// # Errors
    ///
    /// Fails only when the poll cache is full (4 Mi open descriptors).
    pub fn open(fd: RawFd) -> io::Result<PollHandle> {
        let pd = poll_cache::alloc(fd)?;
        trace!("open fd {fd}: PollDesc token {:#x}", pd.token().0);
        Ok(pd)
    }

    /// A slot of a new poll-cache block.
    pub(super) fn vacant() -> PollDesc {
        PollDesc::new(-1, VACANT)
    }

    /// Fills a vacant slot for `fd` (`poll_cache::alloc`). Under the lock, so
    /// an event that locks the slot meanwhile finds either `VACANT` or the
    /// new token, never a half-made descriptor.
    pub(super) fn fill(&self, fd: RawFd, token: Token) {
        let _st = self.state.lock();
        self.fd.store(fd, Ordering::Relaxed);
        self.flags.store(0, Ordering::Relaxed);
        self.ready
            .iter()
            .for_each(|r| r.store(false, Ordering::Relaxed));
        self.token.store(token.0, Ordering::Relaxed);
    }

    /// Makes the slot vacant (the `PollHandle` dropped, after `close`) and
    /// returns its index. Whatever the state still holds (a deadline's box;
    /// waiters only if no `evict` ran) is dropped after the lock.
    pub(super) fn vacate(&self) -> u32 {
        let (index, leftover) = {
            let mut st = self.state.lock();
            let index = self.token().index();
            self.token.store(VACANT.0, Ordering::Relaxed);
            (index, std::mem::take(&mut *st))
        };
        drop(leftover);
        index as u32
    }

    /// The fd this descriptor watches.
    pub fn fd(&self) -> RawFd {
        self.fd.load(Ordering::Relaxed)
    }

    /// The poll-cache token (slot and generation).
    pub fn token(&self) -> Token {
        Token(self.token.load(Ordering::Relaxed))
    }

    /// Readies a direction for a syscall (Go's `poll_runtime_pollReset`).
    ///
    /// Clears a stale `ready` so that the syscall that follows, not an old event,
    /// decides whether to park. Takes the lock only when a deadline is set.
    ///
    /// # Errors
    ///
    /// [`error::closed`] after evict, [`error::timed_out`] past the deadline.
    pub fn prepare(&self, mode: Mode) -> io::Result<()> {
        let flags = self.flags.load(Ordering::Acquire);
        if flags & CLOSING != 0 {
            return Err(error::closed());
        }
        if flags & mode.deadline_bit() != 0 {
            self.state.lock().check_deadline(mode, None)?;
        }
        let ready = &self.ready[mode.index()];
        if ready.load(Ordering::Acquire) {
            ready.store(false, Ordering::Release);
        }
        Ok(())
    }

    /// Whether the descriptor is closing or `mode` has a deadline: the cases
    /// a wait must check under the lock (`check`) before it may skip it.
    fn closing_or_deadline(&self, mode: Mode) -> bool {
        self.flags.load(Ordering::Acquire) & (CLOSING | mode.deadline_bit()) != 0
    }

    /// Go's `netpollcheckerr`: closed first, then an expired deadline. Under the lock.
    fn check(&self, st: &State, mode: Mode, op: Option<Instant>) -> io::Result<()> {
        if self.is_closing() {
            return Err(error::closed());
        }
        st.check_deadline(mode, op)
    }

    /// Consumes `mode`'s `ready`; returns whether it was set. Under the lock,
    /// so no notify sets it meanwhile; a prepare clearing it meanwhile only
    /// makes the caller retry its syscall once more.
    fn take_ready(&self, _st: &State, mode: Mode) -> bool {
        let ready = &self.ready[mode.index()];
        ready.load(Ordering::Acquire) && {
            ready.store(false, Ordering::Release);
            true
        }
    }

    /// Parks the caller until `mode` may be ready (Go's `poll_runtime_pollWait`).
    ///
    /// Works from a task (the task parks) and from a plain thread (the thread
    /// parks). Returns `Ok` when the caller should retry its syscall.
    ///
    /// # Errors
    ///
    /// [`error::closed`] when the fd is closed or unblocked meanwhile,
    /// [`error::timed_out`] when the deadline passes, [`error::cancelled`] when the
    /// task is cancelled, and the `epoll_ctl` error when the fd cannot be
    /// registered (a regular file, for example).
    pub fn wait(&self, mode: Mode) -> io::Result<()> {
        self.wait_until(mode, None)
    }

    /// As [`wait`](Self::wait), with an extra deadline for this one operation
    /// (std's `set_read_timeout` semantics); the earlier deadline wins.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    #[inline]
    pub fn wait_until(&self, mode: Mode, op_deadline: Option<Instant>) -> io::Result<()> {
        self.wait_until_for(mode, op_deadline, std::ptr::null::<u8>())
    }

    /// [`wait_until`](Self::wait_until) for a caller that reads `record`
    /// first when the wait ends (its fd's number), so the reactor's wake can
    /// start that load early (`park::prefetch_resume`); any pointer is
    /// sound, it is only a hint.
    #[inline]
    pub fn wait_until_for<T>(
        &self,
        mode: Mode,
        op_deadline: Option<Instant>,
        record: *const T,
    ) -> io::Result<()> {
        // The common wait, a task with no deadline on a live fd: the task
        // switches out at once and its worker queues it as a waiter on the
        // worker's own stack (`commit`), so the parked task's stack holds
        // no frame of this wait but this one.
        if op_deadline.is_none() && !self.closing_or_deadline(mode) && park::in_task() {
            let parked = park::park_commit(
                wait_reason(self.fd(), mode),
                &FdWait { pd: self, mode },
                record as usize,
            );
            if parked.is_ok() && self.woken_by_notify(mode) {
                return Ok(());
            }
            // Woken otherwise (a cancel, a close, the commit refused):
            // the general wait sorts it out, knowing we may be queued.
            return self.wait_slow(mode, None, true);
        }
        self.wait_slow(mode, op_deadline, false)
    }

    /// The second half of a task's wait, run by its worker after the task
    /// switched out (`park::park_commit`): queue the task as a waiter, or
    /// refuse (resume it at once) when what it waits for is here or the
    /// general wait must decide (closed, hung up, a deadline, no poller).
    fn commit_wait(&self, mode: Mode, task: &Arc<crate::task::Task>) -> bool {
        let mut st = self.state.lock();
        if self.closing_or_deadline(mode)
            || (mode == Mode::Read && self.read_closed())
            || self.ready[mode.index()].load(Ordering::Acquire)
        {
            return false;
        }
        // On the worker's thread, so a first wait registers the fd in this
        // worker's poller, as the general wait would; a failure is left to
        // the general wait to report.
        if !st.poller.as_ref().is_some_and(|p| p.is_alive())
            && crate::cold(|| self.ensure_registered(&mut st)).is_err()
        {
            return false;
        }
        self.push_waiter(&mut st, mode, Unparker::for_task(task.clone()));
        trace!("wait {mode:?} fd {}: EAGAIN, waiter queued", self.fd());
        true
    }

    /// The general wait: any caller, any deadline; `maybe_queued` when a
    /// parked fast-path wait may have left us in the waiter list.
    #[inline(never)]
    fn wait_slow(
        &self,
        mode: Mode,
        op_deadline: Option<Instant>,
        maybe_queued: bool,
    ) -> io::Result<()> {
        // Our entry in the list is found again by id: the list holds the one
        // Unparker, made only if we must park.
        let me = park::current_waiter_id();
        let mut st = self.state.lock();
        let mut waited = maybe_queued;
        loop {
            if self.closing_or_deadline(mode) || op_deadline.is_some() {
                if let Err(e) = crate::cold(|| self.check(&st, mode, op_deadline)) {
                    self.remove_waiter(&mut st, mode, me);
                    return Err(e);
                }
            }
            if mode == Mode::Read && self.read_closed() {
                self.remove_waiter(&mut st, mode, me);
                return Ok(());
            }
            if self.take_ready(&st, mode) {
                self.remove_waiter(&mut st, mode, me);
                return Ok(());
            }
            if waited && !st.contains(mode, me) {
                // notify took us out of the list: an event arrived and another
                // waiter consumed `ready`. Retry the syscall.
                return Ok(());
            }
            // Every pass, not only the first: the poller may have died (its
            // runtime shut down) while we slept, and `rehome` woke us to move.
            if !st.poller.as_ref().is_some_and(|p| p.is_alive()) {
                if let Err(e) = crate::cold(|| self.ensure_registered(&mut st)) {
                    // On a later pass we are in the list: leave no stale waiter.
                    self.remove_waiter(&mut st, mode, me);
                    return Err(e);
                }
            }
            if !waited {
                self.push_waiter(&mut st, mode, park::current_unparker());
                trace!("wait {mode:?} fd {}: EAGAIN, waiter queued", self.fd());
            }
            let deadline = st.deadline(mode, op_deadline);
            let reason = wait_reason(self.fd(), mode);
            drop(st);
            let parked = park::park(reason, deadline);
            if parked.is_ok() && self.woken_by_notify(mode) {
                return Ok(());
            }
            st = self.state.lock();
            if let Err(e) = parked {
                self.remove_waiter(&mut st, mode, me);
                return Err(e);
            }
            waited = true;
        }
    }

    /// The lock-free way out of a wait after a park: `ready` is set, and
    /// neither `CLOSING` nor a deadline asks for the lock. A waiter joins the
    /// list under the lock right after finding `ready` clear, and only notify
    /// sets it, under the lock, as it takes every waiter out: so a set
    /// `ready` means notify took us, and there is no entry of ours to remove.
    /// It is consumed with a plain store, as `prepare` clears it: an event it
    /// hides came before the syscall the caller retries now, which sees it.
    fn woken_by_notify(&self, mode: Mode) -> bool {
        let ready = &self.ready[mode.index()];
        if self.closing_or_deadline(mode) || !ready.load(Ordering::Acquire) {
            return false;
        }
        ready.store(false, Ordering::Release);
        true
    }

    /// Adds the fd to the caller's poller unless it sits in a live one already.
    fn ensure_registered(&self, st: &mut State) -> io::Result<()> {
        if st.poller.as_ref().is_some_and(|p| p.is_alive()) {
            return Ok(());
        }
        let poller = super::current_poller()?;
        poller.register(self.fd(), self.token())?;
        trace!(
            "register fd {} token {:#x} in poller {}",
            self.fd(),
            self.token().0,
            poller.id()
        );
        st.poller = Some(poller);
        Ok(())
    }

    /// Forgets a registration in `dead` (a poller whose worker is exiting) and
    /// collects this descriptor's waiters into `out`, so that each wakes, finds
    /// no live registration, and registers in a live poller.
    pub(crate) fn rehome(&self, dead: &Arc<Poller>, out: &mut Vec<Unparker>) {
        let mut st = self.state.lock();
        if st.poller.as_ref().is_some_and(|p| Arc::ptr_eq(p, dead)) {
            st.poller = None;
            // Out of the dead epoll too, so a spare slot's poller, revived
            // later, reports nothing for an fd that now lives elsewhere.
            let _ = dead.deregister(self.fd());
            out.extend(st.waiters().cloned());
        }
    }

    /// Sets, moves or clears a deadline (Go's `poll_runtime_pollSetDeadline`).
    ///
    /// `None` clears it; a deadline in the past makes pending and later waits in
    /// that direction fail with `TimedOut` until it is moved. Tasks blocked now
    /// wake and re-read it, so extending a deadline while blocked works.
    pub fn set_deadline(&self, read: bool, write: bool, deadline: Option<Instant>) {
        let mut wake = Vec::new();
        {
            let mut st = self.state.lock();
            let modes = [(read, Mode::Read), (write, Mode::Write)];
            for mode in modes.into_iter().filter_map(|(on, m)| on.then_some(m)) {
                st.set_deadline(mode, deadline);
                wake.extend(st.waiters_of(mode).cloned());
                self.mirror(mode.deadline_bit(), deadline.is_some());
            }
        }
        // Guard dropped: never wake while holding a lock.
        for u in wake {
            u.unpark();
        }
    }

    /// Sets or clears one of the mirror bits in `flags`; under the lock.
    /// A bit that already says so costs a load, not a read-modify-write.
    fn mirror(&self, bit: u8, on: bool) {
        if (self.flags.load(Ordering::Relaxed) & bit != 0) == on {
            return;
        }
        if on {
            self.flags.fetch_or(bit, Ordering::AcqRel);
        } else {
            self.flags.fetch_and(!bit, Ordering::AcqRel);
        }
    }

    /// Queues a waiter on `mode`; under the lock.
    fn push_waiter(&self, st: &mut State, mode: Mode, u: Unparker) {
        match mode {
            Mode::Read => st.read.push(u),
            Mode::Write => {
                st.cold_mut().write.push(u);
                self.mirror(WRITE_WAITING, true);
            }
        }
    }

    /// Takes the waiter `me` off `mode`, if it is there; under the lock.
    fn remove_waiter(&self, st: &mut State, mode: Mode, me: WaiterId) {
        match mode {
            Mode::Read => st.read.remove(me),
            Mode::Write => {
                if let Some(c) = st.cold.as_deref_mut() {
                    c.write.remove(me);
                    self.mirror(WRITE_WAITING, !c.write.is_empty());
                }
            }
        }
    }

    /// Moves every waiter of `mode` into `out`; under the lock.
    fn take_waiters(&self, st: &mut State, mode: Mode, out: &mut Vec<Unparker>) {
        match mode {
            Mode::Read => st.read.take_into(out),
            Mode::Write => {
                if self.flags.load(Ordering::Relaxed) & WRITE_WAITING == 0 {
                    return;
                }
                if let Some(c) = st.cold.as_deref_mut() {
                    c.write.take_into(out);
                }
                self.mirror(WRITE_WAITING, false);
            }
        }
    }

    /// Called by the reactor for an event: sets `ready` and takes the waiters of
    /// each ready direction into `out` (Go's `netpollready`/`netpollunblock`).
    /// An event whose token is not the slot's (the fd was closed, and the
    /// slot is vacant or filled again) is dropped: stale events are rejected
    /// by generation, never trusted (`poll_cache.rs`).
    pub(crate) fn notify(&self, ev: &Event, out: &mut Vec<Unparker>) {
        let mut st = self.state.lock();
        if self.token.load(Ordering::Relaxed) != ev.token {
            trace!("drop stale event for token {:#x}", ev.token);
            return;
        }
        trace!(
            "epoll event fd {}: readable={} writable={} hang-up={}",
            self.fd(),
            ev.readable,
            ev.writable,
            ev.read_closed
        );
        if ev.read_closed && !self.read_closed() {
            self.flags.fetch_or(READ_CLOSED, Ordering::AcqRel);
        }
        if ev.readable {
            self.set_ready(Mode::Read);
            self.take_waiters(&mut st, Mode::Read, out);
        }
        if ev.writable {
            self.set_ready(Mode::Write);
            self.take_waiters(&mut st, Mode::Write, out);
        }
    }

    /// Sets `mode`'s `ready`; under the lock. Stores only when it is clear:
    /// every event on a socket with room to write says "writable" again.
    fn set_ready(&self, mode: Mode) {
        let ready = &self.ready[mode.index()];
        if !ready.load(Ordering::Relaxed) {
            ready.store(true, Ordering::Release);
        }
    }

    /// Marks the descriptor closing and wakes every waiter with
    /// "use of closed network connection" (Go's `poll_runtime_pollUnblock`).
    ///
    /// Idempotent. Later `prepare` and `wait` calls fail the same way.
    pub fn evict(&self) {
        let woken = {
            let mut st = self.state.lock();
            self.mirror(CLOSING, true);
            let mut w = Vec::new();
            self.take_waiters(&mut st, Mode::Read, &mut w);
            self.take_waiters(&mut st, Mode::Write, &mut w);
            w
        };
        trace!("evict fd {}: waking {} waiter(s)", self.fd(), woken.len());
        // Guard dropped: never wake while holding a lock.
        for u in woken {
            u.unpark();
        }
    }

    /// Whether the reactor saw the read side hang up (`READ_CLOSED`).
    fn read_closed(&self) -> bool {
        self.flags.load(Ordering::Acquire) & READ_CLOSED != 0
    }

    /// Whether `mode`'s `ready` is set.
    #[cfg(test)]
    pub(crate) fn ready_for_test(&self, mode: Mode) -> bool {
        self.ready[mode.index()].load(Ordering::Relaxed)
    }

    /// Whether [`evict`](Self::evict) has run.
    pub fn is_closing(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CLOSING != 0
    }

    /// Removes the fd from its epoll (Go's `poll_runtime_pollClose`); the
    /// slot itself is freed when its `PollHandle` drops. Call after `evict`,
    /// once no operation is inside a syscall on the fd, and before
    /// `close(2)`. Idempotent.
    pub fn close(&self) {
        let poller = {
            let mut st = self.state.lock();
            self.mirror(CLOSING, true);
            st.poller.take()
        };
        if let Some(p) = poller {
            if p.is_alive() {
                // ENOENT/EBADF here only mean the registration is already gone.
                let _ = p.deregister(self.fd());
            }
        }
        trace!("close fd {} token {:#x}", self.fd(), self.token().0);
    }
}

#[cfg(test)]
mod tests {
    //! The waiter-slot transitions, driven directly (no fd is ever registered:
    //! every wait below returns before it would need one).

    use super::*;

    fn pd() -> PollDesc {
        PollDesc::new(-1, Token::new(0, 0))
    }

    fn event(readable: bool, writable: bool, read_closed: bool) -> Event {
        Event {
            token: 0,
            readable,
            writable,
            read_closed,
        }
    }

    #[test]
    fn an_event_before_the_wait_leaves_ready_and_the_wait_consumes_it() {
        let pd = pd();
        let mut woken = Vec::new();
        pd.notify(&event(true, false, false), &mut woken);
        assert!(woken.is_empty(), "nobody was waiting");
        pd.wait(Mode::Read).unwrap();
        assert!(
            !pd.ready[Mode::Read.index()].load(Ordering::Relaxed),
            "ready was consumed"
        );
    }

    #[test]
    fn prepare_clears_a_stale_ready() {
        let pd = pd();
        pd.notify(&event(true, true, false), &mut Vec::new());
        pd.prepare(Mode::Read).unwrap();
        assert!(!pd.ready[Mode::Read.index()].load(Ordering::Relaxed));
        assert!(
            pd.ready[Mode::Write.index()].load(Ordering::Relaxed),
            "the other direction is untouched"
        );
    }

    #[test]
    fn evict_fails_every_later_prepare_and_wait_with_err_closed() {
        let pd = pd();
        pd.notify(&event(true, true, false), &mut Vec::new());
        pd.evict();
        assert!(error::is_closed(&pd.prepare(Mode::Read).unwrap_err()));
        assert!(
            error::is_closed(&pd.wait(Mode::Write).unwrap_err()),
            "closed wins over ready"
        );
    }

    #[test]
    fn a_past_deadline_fails_the_wait_with_timeout() {
        let pd = pd();
        pd.set_deadline(
            true,
            false,
            Some(Instant::now() - std::time::Duration::from_millis(1)),
        );
        assert!(error::is_timeout(&pd.wait(Mode::Read).unwrap_err()));
        assert!(
            error::is_timeout(&pd.prepare(Mode::Read).unwrap_err()),
            "prepare checks the deadline too (it takes the lock once one is set)"
        );
        assert!(
            pd.prepare(Mode::Write).is_ok(),
            "only the read direction has a deadline"
        );
        pd.set_deadline(true, false, None);
        assert!(
            pd.prepare(Mode::Read).is_ok(),
            "a cleared deadline no longer fails"
        );
    }

    /// Thread unparkers that stand for distinct waiters.
    fn waiters(n: usize) -> Vec<Unparker> {
        (0..n)
            .map(|_| std::thread::spawn(park::current_unparker).join().unwrap())
            .collect()
    }

    #[test]
    fn an_event_takes_every_waiter_of_a_direction_the_second_one_too() {
        let pd = pd();
        let w = waiters(3);
        {
            let mut st = pd.state.lock();
            for u in &w {
                pd.push_waiter(&mut st, Mode::Read, u.clone());
            }
            // The first one leaves: the second takes its place.
            pd.remove_waiter(&mut st, Mode::Read, w[0].id());
            assert!(!st.contains(Mode::Read, w[0].id()));
            assert!(st.contains(Mode::Read, w[1].id()) && st.contains(Mode::Read, w[2].id()));
        }
        let mut woken = Vec::new();
        pd.notify(&event(true, false, false), &mut woken);
        let mut ids: Vec<_> = woken.iter().map(|u| format!("{:?}", u.id())).collect();
        let mut want = vec![format!("{:?}", w[1].id()), format!("{:?}", w[2].id())];
        ids.sort();
        want.sort();
        assert_eq!(ids, want, "both left waiting wake, in any order");
        assert!(pd.state.lock().read.is_empty());
    }

    #[test]
    fn a_writable_event_takes_write_waiters_and_only_when_there_are_some() {
        let pd = pd();
        let mut woken = Vec::new();
        pd.notify(&event(false, true, false), &mut woken);
        assert!(woken.is_empty());
        assert!(
            pd.state.lock().cold.is_none(),
            "no write wait, no deadline: no cold box"
        );
        let w = waiters(2);
        {
            let mut st = pd.state.lock();
            pd.push_waiter(&mut st, Mode::Write, w[0].clone());
            pd.push_waiter(&mut st, Mode::Read, w[1].clone());
        }
        assert!(pd.flags.load(Ordering::Relaxed) & WRITE_WAITING != 0);
        pd.notify(&event(false, true, false), &mut woken);
        assert_eq!(woken.len(), 1);
        assert_eq!(woken[0].id(), w[0].id(), "the writer, not the reader");
        assert!(pd.flags.load(Ordering::Relaxed) & WRITE_WAITING == 0);
        assert!(pd.state.lock().contains(Mode::Read, w[1].id()));
        // A writer that gives up clears the mark as well.
        let mut st = pd.state.lock();
        pd.push_waiter(&mut st, Mode::Write, w[0].clone());
        pd.remove_waiter(&mut st, Mode::Write, w[0].id());
        assert!(pd.flags.load(Ordering::Relaxed) & WRITE_WAITING == 0);
    }

    /// The fields an event, a resume and a read's commit touch lie in one
    /// cache line (the type's docs), whatever the allocator does: the type
    /// is line-aligned and they all end within its first 64 bytes.
    #[test]
    fn pd_hot_fields_share_one_line() {
        assert_eq!(std::mem::align_of::<PollDesc>(), 64);
        let pd = pd();
        let base = std::ptr::addr_of!(pd) as usize;
        let st = pd.state.lock();
        let end = |p: usize, len: usize| p + len - base;
        let hot = [
            end(std::ptr::addr_of!(pd.fd) as usize, 4),
            end(std::ptr::addr_of!(pd.flags) as usize, 1),
            end(std::ptr::addr_of!(pd.ready) as usize, 2),
            end(std::ptr::addr_of!(pd.token) as usize, 8),
            // The lock word comes before the data it guards.
            end(std::ptr::addr_of!(*st) as usize, 0),
            end(std::ptr::addr_of!(st.poller) as usize, 8),
            end(
                std::ptr::addr_of!(st.read) as usize,
                std::mem::size_of::<Slot>(),
            ),
            end(std::ptr::addr_of!(st.cold) as usize, 8),
        ];
        assert_eq!(std::mem::size_of::<PollDesc>(), 64, "one line in all");
        assert!(
            hot.iter().all(|&e| e <= 64),
            "hot fields end at {hot:?}, past the first line"
        );
    }

    #[test]
    fn a_read_hang_up_is_sticky_and_read_waits_return_at_once() {
        let pd = pd();
        pd.notify(&event(true, false, true), &mut Vec::new());
        pd.wait(Mode::Read).unwrap();
        // The edge was consumed; a second wait must not sleep.
        pd.wait(Mode::Read).unwrap();
        pd.prepare(Mode::Read).unwrap();
        pd.wait(Mode::Read).unwrap();
    }
}
