//! `SpinLock`: the channel's lock, whose unlock is a plain store.
//!
//! Part of the channel's unsafe island with `sudog.rs` (ARCHITECTURE.md,
//! "Unsafe"). A channel's state is locked for a few dozen instructions at a
//! time (a queue push or pop, a value moved), never across a park, a
//! syscall or a call into user code. For such sections a lock that can
//! park its waiters (parking_lot's, Go's `runtime.lock`) pays a second
//! atomic read-modify-write to unlock, since the unlocker must learn
//! whether anyone sleeps; an uncontended one costs ~18 ns on the machines
//! this was measured on, and a ping-pong round trip between two tasks makes
//! four critical sections. Here unlocking is a `Release` store.
//!
//! ```text
//!   unlocked ──lock: CAS false → true (Acquire)──► locked
//!   locked ──unlock: store false (Release), by the guard's drop──► unlocked
//!   lock finds it locked: spin (with the CPU's pause hint) a while, then
//!   yield the thread between tries, so a holder preempted by the OS gets
//!   its CPU back
//! ```

use std::cell::UnsafeCell;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, Ordering};

/// Spins before the lock starts yielding the thread between tries.
const SPINS: u32 = 100;

/// A lock for short critical sections; see the module docs.
pub(super) struct SpinLock<T> {
    /// Held.
    locked: AtomicBool,
    /// The data; touched only by the guard's holder.
    data: UnsafeCell<T>,
}

// SAFETY: the lock hands out access to `data` to one thread at a time (the
// CAS that takes it is Acquire, the store that releases it Release), so it
// is Sync when the data may move between threads.
unsafe impl<T: Send> Sync for SpinLock<T> {}
// SAFETY: owning the lock is owning the data.
unsafe impl<T: Send> Send for SpinLock<T> {}

impl<T> SpinLock<T> {
    pub(super) fn new(data: T) -> SpinLock<T> {
        SpinLock {
            locked: AtomicBool::new(false),
            data: UnsafeCell::new(data),
        }
    }

    /// Takes the lock, spinning (then yielding) while another holds it.
    #[inline]
    pub(super) fn lock(&self) -> SpinGuard<'_, T> {
        if self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            self.lock_contended();
        }
        SpinGuard { lock: self }
    }

    #[cold]
    fn lock_contended(&self) {
        let mut tries = 0u32;
        loop {
            // Wait for it to look free before trying the CAS again, so the
            // waiters do not keep stealing the line from the holder.
            while self.locked.load(Ordering::Relaxed) {
                if tries < SPINS {
                    tries += 1;
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            if self
                .locked
                .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

/// Access to a [`SpinLock`]'s data; unlocks on drop.
pub(super) struct SpinGuard<'a, T> {
    lock: &'a SpinLock<T>,
}

impl<T> Deref for SpinGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock, so no other reference to the
        // data exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> DerefMut for SpinGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`; `&mut self` makes this the only access.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for SpinGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.lock.locked.store(false, Ordering::Release);
    }
}
