//! The reactor: epoll instances that turn fd readiness into task wake-ups
//! (Go's `netpoll`).
//!
//! # Shape
//!
//! There is one [`Poller`] (an epoll fd plus an eventfd waker) per worker thread,
//! and one more, the *background poller*, started lazily on its own thread for
//! waits made outside any runtime (a plain `main`). An fd is registered once, in
//! the poller of the first thread that has to wait on it; for a connection
//! handled by one task that is the poller of that task's worker, so its events
//! arrive on the worker that runs the task and the wake is a local queue push.
//! A waiter on another thread still works: the owning poller's dispatch unparks
//! it through its worker's inbox, or unparks the thread. ARCHITECTURE.md records
//! why this shape was chosen over one shared epoll.
//!
//! # One turn
//!
//! `Poller::poll` = `epoll_wait` (up to 256 events) → `Poller::dispatch`
//! of the first [`DISPATCH_CHUNK`] of them: decode → each token names a
//! poll-cache slot, found without a lock → `PollDesc::notify` locks it,
//! drops the event if the slot's token is not the event's (a stale
//! generation), else collects its waiters → lock released → unpark each
//! waiter. A worker dispatches the rest a chunk at a time, each once the
//! tasks the last one woke have run, and calls `epoll_wait` again only when
//! none are left; the background poller dispatches all at once.
//!
//! The chunk is for the caches: a wake touches the fd's `PollDesc`, the
//! task's header and (prefetched) its parked stack lines, and the task's
//! resume touches them again. Woken 256 at a time, the lines of the first
//! tasks were evicted by the last ones' before they ran; 16 at a time, they
//! are still in L1 (ARCHITECTURE.md, "User CPU per request"). An event that
//! waits in the buffer for its chunk is as good as one the kernel reported
//! later: a stale one (its fd closed, its slot reused) fails the token
//! check when its turn comes, as it would have at once.

pub mod poll_cache;
pub mod poll_desc;
pub mod token;

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::stats;
use crate::sys::epoll::{self, Epoll};
use crate::sys::eventfd::EventFd;
use crate::task::park::Unparker;
use token::{Token, WAKER};

/// Source of poller ids, for trace lines.
static NEXT_POLLER_ID: AtomicU64 = AtomicU64::new(1);

/// One epoll instance and the eventfd that interrupts its wait.
#[derive(Debug)]
pub struct Poller {
    /// The epoll instance; immutable after creation.
    epoll: Epoll,
    /// Wakes a thread blocked in `epoll_wait`; registered under [`WAKER`].
    waker: EventFd,
    /// A wake is pending (set by `wake`, cleared by the polling thread after
    /// draining the eventfd), so bursts of wakes cost one `write(2)`.
    woken: AtomicBool,
    /// Cleared when the owning worker exits; fds registered here then re-register
    /// elsewhere at their next wait.
    alive: AtomicBool,
    /// How many fds are registered here: counted when `epoll_ctl(ADD)`
    /// succeeds, uncounted when `close` deletes one. Read by the owning
    /// worker to skip polls that could only find its eventfd; an over-count
    /// (an fd the kernel dropped on its own) only costs a poll.
    registered: AtomicUsize,
    /// For trace lines.
    id: u64,
}

/// How many events one dispatch wakes (see "One turn" above).
pub(crate) const DISPATCH_CHUNK: usize = 16;

/// Per-thread buffers a poller fills on each turn; owned by the polling thread.
#[derive(Debug, Default)]
pub(crate) struct PollBuffers {
    /// What the last `epoll_wait` returned.
    events: Vec<libc::epoll_event>,
    /// How many of `events` have been dispatched; the rest wait for
    /// [`Poller::dispatch`].
    next: usize,
    /// The waiters of the chunk being dispatched, unparked once every
    /// descriptor lock is released.
    wake: Vec<Unparker>,
}

impl PollBuffers {
    pub(crate) fn new() -> PollBuffers {
        PollBuffers {
            events: Vec::with_capacity(256),
            next: 0,
            wake: Vec::new(),
        }
    }

    /// Whether events from the last `epoll_wait` are still to be dispatched.
    pub(crate) fn pending(&self) -> bool {
        self.next < self.events.len()
    }
}

impl Poller {
    /// Opens an epoll instance with its waker registered.
    pub(crate) fn new() -> io::Result<Arc<Poller>> {
        let epoll = Epoll::new()?;
        let waker = EventFd::new()?;
        epoll.add_read(waker.as_raw_fd(), WAKER.0)?;
        let id = NEXT_POLLER_ID.fetch_add(1, Ordering::Relaxed);
        trace!(
            "poller {id}: epoll fd {} with eventfd {} for wake-ups",
            epoll.as_raw_fd(),
            waker.as_raw_fd()
        );
        Ok(Arc::new(Poller {
            epoll,
            waker,
            woken: AtomicBool::new(false),
            alive: AtomicBool::new(true),
            registered: AtomicUsize::new(0),
            id,
        }))
    }

    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    pub(crate) fn is_alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }

    /// Marks the poller dead (its worker is exiting) and wakes every task or
    /// thread still waiting on an fd registered here, so each re-registers in
    /// a live poller instead of waiting on an epoll nobody polls.
    pub(crate) fn kill(self: &Arc<Self>) {
        self.alive.store(false, Ordering::Release);
        for u in poll_cache::rehome(self) {
            u.unpark();
        }
    }

    /// Makes a killed poller live again (a spare worker slot started anew).
    /// `kill` re-homed and removed every fd, so it starts empty.
    pub(crate) fn revive(&self) {
        self.alive.store(true, Ordering::Release);
    }

    fn register(&self, fd: RawFd, token: Token) -> io::Result<()> {
        match self.epoll.add(fd, token.0) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(e),
            Ok(()) => {
                self.registered.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
        }
    }

    pub(crate) fn deregister(&self, fd: RawFd) -> io::Result<()> {
        self.epoll.delete(fd)?;
        self.registered.fetch_sub(1, Ordering::Relaxed);
        Ok(())
    }

    /// Whether any fd is registered here (Go's `netpollAnyWaiters`, coarser:
    /// an fd nobody waits on still counts).
    pub(crate) fn has_fds(&self) -> bool {
        self.registered.load(Ordering::Relaxed) > 0
    }

    /// Interrupts a blocked [`poll`](Self::poll) from any thread (Go's `netpollBreak`).
    pub(crate) fn wake(&self) {
        if !self.woken.swap(true, Ordering::AcqRel) {
            stats::count(|c| c.worker_wakeups.add(1));
            self.waker.wake();
        }
    }

    /// One reactor turn: waits up to `timeout` for events, replacing what
    /// `buf` held (the caller has dispatched all of it), and dispatches the
    /// first `max` of them. Returns the number of fd events dispatched.
    pub(crate) fn poll(
        &self,
        timeout: Option<Duration>,
        buf: &mut PollBuffers,
        max: usize,
    ) -> io::Result<usize> {
        debug_assert!(!buf.pending(), "undispatched events would be lost");
        self.epoll.wait(&mut buf.events, timeout)?;
        buf.next = 0;
        stats::count(|c| c.epoll_waits.add(1));
        Ok(self.dispatch(buf, max))
    }

    /// Unparks every waiter of the next `max` events in `buf` (of those the
    /// last [`poll`](Self::poll) got). Returns the number of fd events among them.
    pub(crate) fn dispatch(&self, buf: &mut PollBuffers, max: usize) -> usize {
        let end = buf.events.len().min(buf.next.saturating_add(max));
        let chunk = &buf.events[buf.next..end];
        buf.next = end;
        let mut fd_events = 0;
        let events = chunk.iter().map(epoll::decode).filter(|ev| {
            if ev.token == WAKER.0 {
                // Drain first, then clear: a wake racing with this clear is either
                // seen as a new edge or finds `woken` set and the caller awake.
                self.waker.drain();
                self.woken.store(false, Ordering::Release);
                false
            } else {
                fd_events += 1;
                true
            }
        });
        poll_cache::notify_batch(events, &mut buf.wake);
        if fd_events > 0 {
            stats::count(|c| c.events.add(fd_events as u64));
        }
        // Every descriptor lock is released here.
        for u in buf.wake.drain(..) {
            u.unpark_ready();
        }
        fd_events
    }
}

/// The poller for waits made outside any runtime, with its thread started on first use.
fn background_poller() -> io::Result<Arc<Poller>> {
    static BACKGROUND: OnceLock<Arc<Poller>> = OnceLock::new();
    if let Some(p) = BACKGROUND.get() {
        return Ok(p.clone());
    }
    let poller = Poller::new()?;
    let mut started = false;
    let p = BACKGROUND.get_or_init(|| {
        started = true;
        poller
    });
    if started {
        let p2 = p.clone();
        std::thread::Builder::new()
            .name("netpark-netpoll".into())
            .spawn(move || {
                let mut buf = PollBuffers::new();
                loop {
                    if let Err(e) = p2.poll(None, &mut buf, usize::MAX) {
                        log::error!("netpark: background poller failed: {e}");
                        std::thread::sleep(Duration::from_millis(10));
                    }
                }
            })?;
    }
    Ok(p.clone())
}

/// The poller a new registration on this thread goes to: the current worker's,
/// or the background poller on a plain thread.
pub(crate) fn current_poller() -> io::Result<Arc<Poller>> {
    match crate::scheduler::current_worker_poller() {
        Some(p) => Ok(p),
        None => background_poller(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoll_wait_is_dispatched_a_chunk_at_a_time() {
        let poller = Poller::new().unwrap();
        // 40 readable fds under tokens no poll-cache slot has: each counts
        // as a dispatched fd event and wakes no one.
        let fds: Vec<EventFd> = (0..40).map(|_| EventFd::new().unwrap()).collect();
        for (i, fd) in fds.iter().enumerate() {
            fd.wake();
            poller
                .epoll
                .add_read(fd.as_raw_fd(), (1 << 40) + i as u64)
                .unwrap();
        }
        let mut buf = PollBuffers::new();
        assert_eq!(poller.poll(Some(Duration::ZERO), &mut buf, 16).unwrap(), 16);
        assert!(buf.pending());
        assert_eq!(poller.dispatch(&mut buf, 16), 16);
        assert_eq!(poller.dispatch(&mut buf, 16), 8);
        assert!(!buf.pending());
        assert_eq!(poller.dispatch(&mut buf, 16), 0);
    }
}
