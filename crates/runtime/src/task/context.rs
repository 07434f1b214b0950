//! The stack switch: creating a task's coroutine and suspending the running one.
//!
//! One of the three unsafe islands. `corosensei` does the architecture-specific
//! register save/restore; this file only keeps the current task's `Yielder`
//! reachable from deep inside its call stack.

use std::cell::Cell;
use std::ptr;

use corosensei::{Coroutine, Yielder};

use super::stack::Stack;

/// What a task tells its worker when it switches away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Switch {
    /// Go to the back of the run queue (`yield_now`).
    Yield,
    /// Commit the park (second phase of `park`, see `task/park.rs`).
    Park,
}

/// A task's coroutine: resumed with `()`, yields a [`Switch`], returns when the task ends.
pub(crate) type Coro = Coroutine<(), Switch, (), Stack>;

thread_local! {
    /// The `Yielder` of the task running on this thread. Set by the task itself at
    /// entry and again after every suspend returns (other tasks overwrite it
    /// while this one is suspended).
    static YIELDER: Cell<*const Yielder<(), Switch>> = const { Cell::new(ptr::null()) };
}

/// Builds the coroutine that runs `body` on `stack`.
pub(crate) fn new_coroutine(stack: Stack, body: Box<dyn FnOnce() + Send>) -> Coro {
    Coroutine::with_stack(stack, move |y: &Yielder<(), Switch>, ()| {
        YIELDER.with(|c| c.set(y));
        body();
    })
}

/// Switches from the running task back to its worker.
///
/// # Panics
///
/// Outside a task ("netpark: suspend outside a task"); callers check first.
pub(crate) fn suspend(sw: Switch) {
    let y = YIELDER.with(|c| c.get());
    assert!(!y.is_null(), "netpark: suspend outside a task");
    // SAFETY: `y` was stored by the task running now, on this thread, either at
    // its entry or after its previous suspend. The Yielder lives on this task's
    // stack, which is alive because this code runs on it, and a started task
    // never changes threads, so the pointer is this task's and valid.
    unsafe { (*y).suspend(sw) };
    YIELDER.with(|c| c.set(y));
}
