//! A worker's run queue of started tasks: a FIFO ring of task header
//! addresses, each with the sequence number that orders it against the
//! worker's `unstarted` queue.
//!
//! Each entry is one word, the address of a started task's header, which
//! the worker's task table keeps alive (`Runnable::Resume`; unstarted tasks
//! never come here: they wait where other threads can reach them,
//! scheduler/mod.rs). An entry used to be the task's key in the table, so
//! every resume read the table's slab entry first: one more cold line per
//! wake at 1,000 connections. `VecDeque<(u64, Runnable)>` did this job once, but it
//! built each 24-byte entry on the stack and copied it with a 16-byte load of
//! two 8-byte stores: a store-forwarding stall on every wake, a sixth of a
//! ping-pong hop by `perf annotate`. Plain words go straight into their slots.

/// Slots a new queue starts with; a power of two, as every capacity is.
const INITIAL: usize = 64;

/// The ring; owner-only (it lives in the worker's `Local`).
pub(crate) struct RunQueue {
    /// Sequence numbers of the entries; same indices as `entries`.
    seqs: Vec<u64>,
    /// Task header addresses (any word, to the ring); the length is a
    /// power of two.
    entries: Vec<usize>,
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
            head: 0,
            len: 0,
        }
    }
}

impl RunQueue {
    /// Appends the task whose header is at `task`, queued as number `seq`.
    #[inline(always)]
    pub(crate) fn push(&mut self, seq: u64, task: usize) {
        if self.len == self.entries.len() {
            self.grow();
        }
        let i = (self.head + self.len) & (self.entries.len() - 1);
        self.seqs[i] = seq;
        self.entries[i] = task;
        self.len += 1;
    }

    /// Takes the oldest entry.
    #[inline(always)]
    pub(crate) fn pop(&mut self) -> Option<usize> {
        if self.len == 0 {
            return None;
        }
        let task = self.entries[self.head];
        self.head = (self.head + 1) & (self.entries.len() - 1);
        self.len -= 1;
        Some(task)
    }

    /// Number of entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The oldest entry, left in place.
    pub(crate) fn front(&self) -> Option<usize> {
        (self.len > 0).then(|| self.entries[self.head])
    }

    /// Whether the queue is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The sequence number of the oldest entry.
    pub(crate) fn front_seq(&self) -> Option<u64> {
        (self.len > 0).then(|| self.seqs[self.head])
    }

    /// Drops every entry.
    pub(crate) fn clear(&mut self) {
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
        (0..q.len).map(|i| q.entries[(q.head + i) & mask]).collect()
    }

    #[test]
    fn entries_come_out_in_the_order_they_went_in_across_wraps_and_grows() {
        let mut q = RunQueue::default();
        let mut next_in = 0;
        let mut next_out = 0;
        // Interleave pushes and pops so the ring wraps, then outgrows itself.
        for round in 0..10 {
            for _ in 0..(INITIAL / 2 + round * 20) {
                q.push(next_in as u64, next_in);
                next_in += 1;
            }
            assert_eq!(q.front_seq(), Some(next_out as u64));
            assert_eq!(keys(&q), (next_out..next_in).collect::<Vec<_>>());
            for _ in 0..INITIAL / 3 {
                assert_eq!(q.pop(), Some(next_out));
                next_out += 1;
            }
        }
        while let Some(k) = q.pop() {
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
            q.push(k as u64, k);
        }
        q.clear();
        assert!(q.pop().is_none());
        q.push(7, 7);
        assert_eq!(keys(&q), vec![7]);
    }
}
