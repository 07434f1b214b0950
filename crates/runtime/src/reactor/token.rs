//! `Token`: what `epoll_event.data` carries, and how stale events are rejected.
//!
//! A token packs the poll-cache slot index (low 32 bits) and a generation (high
//! 32 bits) taken from a process-wide counter when the slot is filled. When an fd
//! is closed its slot is freed; the kernel may hand the same fd number to a new
//! socket, and the cache may hand the same slot to a new fd, but the
//! generation differs. An event still queued for the old registration carries
//! the old generation, and `PollDesc::notify` drops it instead of waking
//! whoever now owns the slot (Go's `fdseq` tag in `netpoll_epoll.go`).
//!
//! The generation counter wraps after 2^32 registrations; a stale event would
//! have to survive that many opens and land on the same index to be misread.

/// Token of a registered fd: slab index plus generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub(crate) u64);

/// The reserved token of each poller's eventfd waker; never a cache slot.
pub(crate) const WAKER: Token = Token(u64::MAX);

/// The token of a vacant cache slot; its index is past every slot, so no
/// event carries it.
pub(crate) const VACANT: Token = Token(u64::MAX - 1);

impl Token {
    /// Packs an index and a generation.
    pub(crate) fn new(index: usize, generation: u32) -> Token {
        debug_assert!(
            index < u32::MAX as usize,
            "poll-cache index overflows a token"
        );
        Token(((generation as u64) << 32) | index as u64)
    }

    /// The slot index.
    pub(crate) fn index(self) -> usize {
        (self.0 & 0xffff_ffff) as usize
    }
}
