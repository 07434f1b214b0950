//! A worker's run queue: a FIFO ring of entries, each with the sequence
//! number that orders it against the worker's stealable queue.
//!
//! Each entry is one `u64`: a started task's key in the task table, or, with
//! [`NEW`] set, the key of an unstarted task parked in `unstarted` until it
//! is popped. `VecDeque<(u64, Runnable)>` did the same job, but it built each
//! 24-byte entry on the stack and copied it with a 16-byte load of two
//! 8-byte stores: a store-forwarding stall on every wake, a sixth of a
//! ping-pong hop by `perf annotate`. Plain words go straight into their slots.

use slab::Slab;

use super::Runnable;
use crate::task::context::NewTask;

/// Slots a new queue starts with; a power of two, as every capacity is.
const INITIAL: usize = 64;

/// Marks an entry that names an unstarted task (a key into `unstarted`).
const NEW: u64 = 1 << 63;

/// The ring; owner-only (it lives in the worker's `Local`).
pub(crate) struct RunQueue {
    /// Sequence numbers of the entries; same indices as `entries`.
    seqs: Vec<u64>,
    /// The entries (see the module docs); the length is a power of two.
    entries: Vec<u64>,
    /// The unstarted tasks that entries with `NEW` name.
    unstarted: Slab<NewTask>,
    /// Index of the oldest entry.
    head: usize,
    /// Number of entries.
    len: usize,
}

impl Default for RunQueue {
    fn default() -> RunQueue {
        RunQueue {
            seqs: vec![0; INITIAL],
            entries: vec![0; INITIAL],
            unstarted: Slab::new(),
            head: 0,
            len: 0,
        }
    }
}

impl RunQueue {
    /// Appends `r`, queued as number `seq`.
    #[inline(always)]
    pub(crate) fn push(&mut self, seq: u64, r: Runnable) {
        if self.len == self.entries.len() {
            self.grow();
        }
        let entry = match r {
            Runnable::Resume(key) => key as u64,
            Runnable::New(t) => NEW | self.unstarted.insert(t) as u64,
        };
        let i = (self.head + self.len) & (self.entries.len() - 1);
        self.seqs[i] = seq;
        self.entries[i] = entry;
        self.len += 1;
    }

    /// Takes the oldest entry.
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<Runnable> {
        if self.len == 0 {
            return None;
        }
        let entry = self.entries[self.head];
        self.head = (self.head + 1) & (self.entries.len() - 1);
        self.len -= 1;
        Some(if entry & NEW == 0 {
            Runnable::Resume(entry as usize)
        } else {
            Runnable::New(self.unstarted.remove((entry & !NEW) as usize))
        })
    }

    /// The sequence number of the oldest entry.
    pub(crate) fn front_seq(&self) -> Option<u64> {
        (self.len > 0).then(|| self.seqs[self.head])
    }

    /// The unstarted tasks in the queue, oldest first.
    pub(crate) fn unstarted(&self) -> impl Iterator<Item = &NewTask> {
        let mask = self.entries.len() - 1;
        (0..self.len)
            .map(move |i| self.entries[(self.head + i) & mask])
            .filter(|e| e & NEW != 0)
            .map(|e| &self.unstarted[(e & !NEW) as usize])
    }

    /// Drops every entry (an unstarted task's entry abandons its joiner).
    pub(crate) fn clear(&mut self) {
        self.unstarted.clear();
        self.head = 0;
        self.len = 0;
    }

    /// Doubles the ring, oldest entry first at index 0.
    #[cold]
    fn grow(&mut self) {
        let cap = self.entries.len() * 2;
        self.seqs.rotate_left(self.head);
        self.entries.rotate_left(self.head);
        self.seqs.resize(cap, 0);
        self.entries.resize(cap, 0);
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(q: &RunQueue) -> Vec<usize> {
        let mask = q.entries.len() - 1;
        (0..q.len)
            .map(|i| q.entries[(q.head + i) & mask] as usize)
            .collect()
    }

    #[test]
    fn entries_come_out_in_the_order_they_went_in_across_wraps_and_grows() {
        let mut q = RunQueue::default();
        let mut next_in = 0;
        let mut next_out = 0;
        // Interleave pushes and pops so the ring wraps, then outgrows itself.
        for round in 0..10 {
            for _ in 0..(INITIAL / 2 + round * 20) {
                q.push(next_in as u64, Runnable::Resume(next_in));
                next_in += 1;
            }
            assert_eq!(q.front_seq(), Some(next_out as u64));
            assert_eq!(keys(&q), (next_out..next_in).collect::<Vec<_>>());
            for _ in 0..INITIAL / 3 {
                match q.pop() {
                    Some(Runnable::Resume(k)) => assert_eq!(k, next_out),
                    _ => panic!("expected entry {next_out}"),
                }
                next_out += 1;
            }
        }
        while let Some(Runnable::Resume(k)) = q.pop() {
            assert_eq!(k, next_out);
            next_out += 1;
        }
        assert_eq!(next_out, next_in);
        assert_eq!(q.front_seq(), None);
    }

    #[test]
    fn clear_empties_the_queue() {
        let mut q = RunQueue::default();
        for k in 0..100 {
            q.push(k as u64, Runnable::Resume(k));
        }
        q.clear();
        assert!(q.pop().is_none());
        q.push(7, Runnable::Resume(7));
        assert_eq!(keys(&q), vec![7]);
    }
}
