//! netpark's runtime: Go's scheduler and netpoller for Rust programs written in
//! plain blocking style.
//!
//! # What runs where
//!
//! - **Worker threads** (one per core by default) each run many *tasks*: green
//!   threads with their own `mmap`'d stacks, switched by `corosensei`. A task that
//!   must wait calls [`park`] and its worker runs another task.
//! - **The reactor**: each worker owns an epoll instance. An fd is registered
//!   once, edge-triggered, when a task first has to wait on it; when the worker
//!   runs out of tasks it blocks in `epoll_wait` until the next timer, and turns
//!   readiness events into wake-ups of the parked tasks
//!   ([`reactor::poll_desc::PollDesc`], Go's `pollDesc`).
//! - **The monitor thread** (Go's `sysmon`) warns about a task that holds its
//!   worker too long.
//! - **Outside a runtime**, the same waits park the calling OS thread, and a
//!   background poller thread (started on first use) runs the reactor for them.
//! - **Helper threads** (a process-wide pool, started on demand) run the calls
//!   a task hands to [`run_blocking`], such as name lookups, while it parks.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! let total = netpark_runtime::run(|| {
//!     let handles: Vec<_> = (0..10)
//!         .map(|i| netpark_runtime::spawn(move || {
//!             netpark_runtime::sleep(Duration::from_millis(1)).unwrap();
//!             i
//!         }))
//!         .collect();
//!     handles.into_iter().map(|h| h.join().unwrap()).sum::<i32>()
//! });
//! assert_eq!(total, 45);
//! ```

#![deny(missing_docs, missing_debug_implementations, rust_2018_idioms)]
#![cfg_attr(test, deny(warnings))]
#![doc(test(attr(deny(warnings))))]

#[cfg(not(target_os = "linux"))]
compile_error!("netpark supports Linux only (epoll, eventfd, splice).");

#[macro_use]
mod macros;

pub mod error;
pub mod reactor;
pub mod scheduler;
mod stats;
pub mod sync;
pub mod sys;
pub mod task;
pub mod time;

#[doc(hidden)]
pub use libc as __libc;
#[doc(hidden)]
pub use log as __log;

/// Runs `f` out of line, marked cold: the rare branch of a hot function
/// (a trace line, an error, a deadline) gets a stack frame of its own
/// instead of widening the caller's.
#[cold]
#[inline(never)]
#[doc(hidden)]
pub fn cold<R>(f: impl FnOnce() -> R) -> R {
    f()
}

pub use reactor::poll_cache::PollHandle;
pub use reactor::poll_desc::{Mode, PollDesc};
pub use scheduler::{dump, run, shutdown_unwinding, Builder, Handle, Runtime};
pub use stats::{record_copy, stats, CopyPath, CopyStats, PathStats, Stats};
pub use task::blocking::run_blocking;
pub use task::coop::consume_budget;
pub use task::park::{
    current_unparker, current_waiter_id, park, yield_now, Unparker, WaitReason, WaiterId,
};
pub use task::{spawn, JoinError, JoinHandle, TaskId};
pub use time::{sleep, sleep_until};
