//! The registry: one [`PollDesc`] per open fd, in a `slab`, found by [`Token`].
//!
//! Go keeps its `pollDesc`s in a type-stable `pollCache` and puts a tagged pointer
//! in the epoll data. We keep `Arc<PollDesc>` in a slab behind one lock and put
//! the token in the epoll data, so the token→slot lookup needs no unsafe code. The
//! reactor takes the lock once per `epoll_wait` batch, not once per event (and
//! notifies each descriptor under it, so an event moves no reference count), and the
//! I/O path never takes it: a socket holds its own `Arc<PollDesc>`.
//!
//! **Invariant:** a slot's generation never repeats while it is filled; an event
//! whose token does not match the slot's current token is stale and dropped.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use slab::Slab;

use super::poll_desc::PollDesc;
use super::token::Token;
use crate::sys::epoll::Event;
use crate::task::park::Unparker;

/// Every live `PollDesc` in the process; written under this lock by open and close,
/// read under it by the reactor's dispatch.
static REGISTRY: Mutex<Slab<Arc<PollDesc>>> = Mutex::new(Slab::new());

/// Source of generations; bumped for every fill of a slot.
static GENERATION: AtomicU32 = AtomicU32::new(1);

/// Fills a slot for `fd` and returns its descriptor.
pub(crate) fn insert(fd: RawFd) -> io::Result<Arc<PollDesc>> {
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    let mut slab = REGISTRY.lock();
    let entry = slab.vacant_entry();
    if entry.key() >= u32::MAX as usize {
        return Err(io::Error::new(
            io::ErrorKind::OutOfMemory,
            "netpark: fd registry is full",
        ));
    }
    let pd = Arc::new(PollDesc::new(fd, Token::new(entry.key(), generation)));
    entry.insert(pd.clone());
    Ok(pd)
}

/// Frees the slot of `token` if it still holds that registration.
pub(crate) fn remove(token: Token) {
    let mut slab = REGISTRY.lock();
    if slab
        .get(token.index())
        .is_some_and(|pd| pd.token() == token)
    {
        slab.remove(token.index());
    }
}

/// Looks up every token of a batch under one lock, stale tokens dropped,
/// and lets each live descriptor take its event (`PollDesc::notify`: sets
/// `ready`, moves its waiters into `wake`) while the lock is held: the slab
/// keeps the descriptor alive meanwhile, so no reference count is taken or
/// dropped per event. Lock order: registry, then a descriptor's own lock;
/// nothing takes them the other way round (`PollDesc::close` releases its
/// lock before `remove`). Nobody is woken here: the caller unparks `wake`
/// after the lock is gone.
pub(crate) fn notify_batch(events: impl Iterator<Item = Event>, wake: &mut Vec<Unparker>) {
    let slab = REGISTRY.lock();
    for ev in events {
        let token = Token(ev.token);
        match slab.get(token.index()) {
            Some(pd) if pd.token() == token => {
                trace!(
                    "epoll event fd {}: readable={} writable={} hang-up={}",
                    pd.fd(),
                    ev.readable,
                    ev.writable,
                    ev.read_closed
                );
                pd.notify(&ev, wake);
            }
            _ => trace!("drop stale event for token {:#x}", token.0),
        }
    }
}

/// Moves every descriptor registered in `dead` off it (see `PollDesc::rehome`)
/// and returns the waiters to wake, for the caller to unpark outside the lock.
pub(crate) fn rehome(dead: &Arc<super::Poller>) -> Vec<crate::task::park::Unparker> {
    let descs: Vec<Arc<PollDesc>> = REGISTRY.lock().iter().map(|(_, pd)| pd.clone()).collect();
    let mut wake = Vec::new();
    for pd in descs {
        pd.rehome(dead, &mut wake);
    }
    wake
}
