//! The poll cache: every [`PollDesc`] in the process lives in a block that is
//! never freed (Go's `pollCache` in `runtime/netpoll.go`).
//!
//! Memory that only ever holds `PollDesc`s (type-stable memory) lets the
//! reactor look a token up without a lock and without a reference count: the
//! slot an event's token names is always a valid descriptor, at worst a
//! vacant one or one refilled for another fd, and the descriptor's own lock
//! tells which (`PollDesc::notify` compares the event's token with the
//! slot's). Blocks hold 64 descriptors, one page (`BLOCK`), allocated as the
//! number of open fds first reaches each multiple of 64, and kept for the
//! life of the process as Go keeps its `pollDesc`s.
//!
//! # A slot's states
//!
//! ```text
//!                alloc (open: cache lock, then the slot's lock)
//!   ┌────────┐ ─────────────────────────────────────────────► ┌────────┐
//!   │ vacant │   token = index | a new generation                │ filled │
//!   └────────┘ ◄───────────────────────────────────────────── └────────┘
//!      on the        free (the PollHandle dropped: close, then
//!      free list     the slot's lock: token = VACANT, state reset;
//!                    then the cache lock: back on the free list)
//! ```
//!
//! Only the [`PollHandle`] that `alloc` returned moves its slot back, so one
//! owner at a time. The reactor never moves a slot: it locks a descriptor,
//! finds its token is not the event's (vacant, or filled again since) and
//! drops the event. `rehome` reads every slot the cache ever handed out.
//!
//! **Invariant:** a slot's token changes only under the slot's lock, and a
//! token is never issued twice while a slot holding it is filled (a new
//! generation for every fill), so an event applies to the registration it
//! was made for or to none.
//!
//! Lock order: nobody holds the cache lock and a descriptor's lock at once
//! (`alloc` releases the first before filling, `free` the second before
//! queueing the slot).

use std::io;
use std::ops::Deref;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;

use super::poll_desc::PollDesc;
use super::token::Token;
use super::Poller;
use crate::sys::epoll::Event;
use crate::task::park::Unparker;

/// Descriptors per block: 64 of 64 bytes, one page.
const BLOCK: usize = 64;

/// Blocks the cache can hold: 4 Mi descriptors, more fds than a process may
/// open by default (`fs.nr_open` is 1 Mi). The table is 1 MiB of zeroed
/// `.bss`; only its pages for blocks in use are ever touched.
const MAX_BLOCKS: usize = 1 << 16;

/// Each block, made once by `alloc` when the first of its slots is handed
/// out; read without a lock by every lookup.
static BLOCKS: [OnceLock<&'static [PollDesc; BLOCK]>; MAX_BLOCKS] =
    [const { OnceLock::new() }; MAX_BLOCKS];

/// The slots not in use; taken and given back by `alloc` and `free`.
static FREE: Mutex<FreeList> = Mutex::new(FreeList {
    made: 0,
    vacant: Vec::new(),
});

/// Source of generations; bumped for every fill of a slot.
static GENERATION: AtomicU32 = AtomicU32::new(1);

/// The cache's bookkeeping, under `FREE`.
struct FreeList {
    /// Slots handed out at least once: every slot below this index has a
    /// block. Only grows.
    made: u32,
    /// Vacant slots below `made`, the last freed on top (its line is the
    /// likeliest still cached).
    vacant: Vec<u32>,
}

/// The owning handle of one filled slot: what `PollDesc::open` returns and
/// a socket keeps (Go's `internal/poll.pollDesc.runtimeCtx`).
///
/// Dropping it runs [`PollDesc::close`] if the owner has not, and makes the
/// slot vacant, so drop it before `close(2)` (as `close` is called before
/// it): `close` takes the fd out of its epoll by number.
#[derive(Debug)]
pub struct PollHandle(&'static PollDesc);

impl Deref for PollHandle {
    type Target = PollDesc;

    fn deref(&self) -> &PollDesc {
        self.0
    }
}

impl Drop for PollHandle {
    fn drop(&mut self) {
        self.0.close();
        let index = self.0.vacate();
        FREE.lock().vacant.push(index);
    }
}

/// The descriptor in slot `index`, if the cache ever handed that slot out.
fn slot(index: usize) -> Option<&'static PollDesc> {
    let block = BLOCKS.get(index / BLOCK)?.get()?;
    Some(&block[index % BLOCK])
}

/// Takes a vacant slot (making a block when every slot made is in use) and
/// fills it for `fd` (Go's `pollCache.alloc`).
pub(crate) fn alloc(fd: RawFd) -> io::Result<PollHandle> {
    let index = {
        let mut free = FREE.lock();
        match free.vacant.pop() {
            Some(i) => i as usize,
            None => {
                let i = free.made as usize;
                if i >= MAX_BLOCKS * BLOCK {
                    return Err(io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        "netpark: poll cache is full",
                    ));
                }
                BLOCKS[i / BLOCK].get_or_init(new_block);
                free.made += 1;
                i
            }
        }
    };
    let pd = slot(index).expect("a slot below `made` has its block");
    let generation = GENERATION.fetch_add(1, Ordering::Relaxed);
    pd.fill(fd, Token::new(index, generation));
    Ok(PollHandle(pd))
}

/// One block of vacant descriptors, leaked: blocks live as long as the process.
fn new_block() -> &'static [PollDesc; BLOCK] {
    let block: Box<[PollDesc; BLOCK]> = (0..BLOCK)
        .map(|_| PollDesc::vacant())
        .collect::<Box<[PollDesc]>>()
        .try_into()
        .expect("BLOCK descriptors");
    Box::leak(block)
}

/// How many slots are filled now (`stats().poll_descs_live`).
pub(crate) fn in_use() -> u64 {
    let free = FREE.lock();
    u64::from(free.made) - free.vacant.len() as u64
}

/// Lets every event of a batch reach the slot its token names
/// (`PollDesc::notify`, which drops it unless the slot still holds that
/// token, and otherwise sets `ready` and moves its waiters into `wake`).
/// No lock but each descriptor's own and no reference count per event;
/// nobody is woken here: the caller unparks `wake`.
pub(crate) fn notify_batch(events: impl Iterator<Item = Event>, wake: &mut Vec<Unparker>) {
    for ev in events {
        match slot(Token(ev.token).index()) {
            Some(pd) => pd.notify(&ev, wake),
            None => trace!("drop event for unknown token {:#x}", ev.token),
        }
    }
}

/// Moves every descriptor registered in `dead` off it (see `PollDesc::rehome`)
/// and returns the waiters to wake, for the caller to unpark outside the locks.
pub(crate) fn rehome(dead: &Arc<Poller>) -> Vec<Unparker> {
    let made = FREE.lock().made as usize;
    let mut wake = Vec::new();
    for pd in (0..made).filter_map(slot) {
        pd.rehome(dead, &mut wake);
    }
    wake
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_freed_slot_is_refilled_with_a_new_token_and_the_old_one_is_stale() {
        let first = alloc(-1).unwrap();
        let old = first.token();
        drop(first);
        let second = alloc(-1).unwrap();
        // Other tests allocate meanwhile; when the slot came back, its token is new.
        assert_ne!(second.token(), old);
        let stale = Event {
            token: old.0,
            readable: true,
            writable: false,
            read_closed: false,
        };
        let mut wake = Vec::new();
        notify_batch(std::iter::once(stale), &mut wake);
        assert!(
            !second.ready_for_test(crate::Mode::Read),
            "an event for the old registration reached the new one"
        );
        let fresh = Event {
            token: second.token().0,
            ..stale
        };
        notify_batch(std::iter::once(fresh), &mut wake);
        assert!(second.ready_for_test(crate::Mode::Read));
    }

    #[test]
    fn slots_are_reused_and_blocks_are_one_page() {
        assert_eq!(std::mem::size_of::<[PollDesc; BLOCK]>(), 4096);
        let handles: Vec<PollHandle> = (0..3 * BLOCK).map(|_| alloc(-1).unwrap()).collect();
        let mut indexes: Vec<usize> = handles.iter().map(|h| h.token().index()).collect();
        indexes.sort_unstable();
        indexes.dedup();
        assert_eq!(indexes.len(), 3 * BLOCK, "two live handles share a slot");
        drop(handles);
        let made = FREE.lock().made;
        let _again = alloc(-1).unwrap();
        assert_eq!(FREE.lock().made, made, "no vacant slot was reused");
    }
}
