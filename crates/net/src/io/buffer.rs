//! The copy buffers: 32 KiB each (Go's `io.Copy` size), kept per thread so
//! the buffer loop allocates none once warm.
//!
//! A started task never leaves its worker, so a buffer taken on a worker's
//! thread goes back to that thread's pool, even when the copy parked in
//! between; no lock is needed.

#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// The size of a pooled buffer (Go's `io.Copy`: 32 KiB).
pub(crate) const SIZE: usize = 32 * 1024;

/// Buffers a thread keeps for reuse; beyond that, a returned one is freed
/// (as many copies can be parked at once as there are connections).
const KEEP: usize = 64;

thread_local! {
    /// This thread's idle buffers; touched only by this thread.
    static POOL: RefCell<Vec<Box<[u8]>>> = const { RefCell::new(Vec::new()) };
}

/// A pooled buffer; goes back to its thread's pool when dropped.
pub(crate) struct Buffer(Option<Box<[u8]>>);

/// Takes a buffer from this thread's pool, or allocates one when it is empty.
pub(crate) fn take() -> Buffer {
    let b = POOL
        .try_with(|p| p.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| vec![0u8; SIZE].into_boxed_slice());
    Buffer(Some(b))
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if let Some(b) = self.0.take() {
            let _ = POOL.try_with(|p| {
                let mut p = p.borrow_mut();
                if p.len() < KEEP {
                    p.push(b);
                }
            });
        }
    }
}

impl Deref for Buffer {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0
            .as_deref()
            .expect("a Buffer holds its bytes until dropped")
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0
            .as_deref_mut()
            .expect("a Buffer holds its bytes until dropped")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_returned_buffer_is_reused() {
        let first = take();
        let addr = first.as_ptr();
        drop(first);
        let second = take();
        assert_eq!(second.as_ptr(), addr);
        assert_eq!(second.len(), SIZE);
    }
}
