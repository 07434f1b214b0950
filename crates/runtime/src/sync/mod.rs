//! Task-aware synchronisation: waits that park the task (or thread) through
//! [`park`](crate::park) instead of blocking the worker's OS thread.
//!
//! A `std::sync::Mutex` held across a socket wait would block the whole worker
//! as soon as a second task on it asked for the lock: the holder could then
//! never be resumed, and the worker would hang. The types here queue the
//! waiter and park it, so the worker keeps running other tasks.
//!
//! | Go | netpark |
//! |---|---|
//! | `sync.Mutex` | [`Mutex`] |
//! | `make(chan T, n)`, `ch <- v`, `<-ch`, `close(ch)`, `range ch` | [`channel`], [`Sender::send`], [`Receiver::recv`], [`Sender::close`], [`Receiver::iter`] |
//! | `sync.WaitGroup` | [`WaitGroup`] |
//! | `sync.Once` | [`Once`] |
//! | `sync.OnceValue` (std's `OnceLock`) | [`OnceLock`] |
//! | `select { case … }` | [`Select`] (`recv`, `send`, `default`, `timeout`, then `wait`) |
//! | `sync.RWMutex` | [`RwLock`] |
//! | `sync.Cond` | [`Condvar`] (with [`Mutex`]); tokio's `Notify`: [`Notify`] |

pub mod channel;
pub mod mutex;
pub mod notify;
pub mod once_lock;
pub mod rwlock;
pub mod select;
mod spin_lock;
mod sudog;
pub mod wait_group;

pub use channel::{channel, Receiver, RecvError, SendError, Sender, TryRecvError, TrySendError};
pub use mutex::{LockQueue, LockWord, Mutex, MutexGuard, RawMutex, RawMutexGuard};
pub use notify::{Condvar, Notify};
pub use once_lock::OnceLock;
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use select::Select;
pub use wait_group::{Once, WaitGroup};
