//! Graceful shutdown (Go's `Server.Shutdown`): stop accepting, close the
//! connections that are waiting for a request, let the others finish the
//! response they are on, and return once every connection is gone or the
//! time is up.
//!
//! # A connection's states (Go's `ConnState`, without `StateNew`)
//!
//! ```text
//!   state    who moves it                                            to
//!   ───────  ──────────────────────────────────────────────────────  ──────
//!   IDLE     its task, a request's first byte there: CAS              ACTIVE
//!   ACTIVE   its task, its response done, unless shutting down        IDLE
//!   ACTIVE   its task, its response done, shutting down (sent with    gone
//!            `Connection: close`)
//!   IDLE     shutdown: CAS, then closes the socket (the task's wait   CLOSED
//!            fails; a request that came meanwhile finds CLOSED at
//!            its CAS and is not served)
//! ```
//!
//! A connection starts idle, waiting for its first request. Its state is an
//! atomic of its own and `closing` one of the server's, so a request takes
//! no lock (the lock is for adding and removing connections and
//! listeners). Going idle stores the state, then reads `closing`; shutdown
//! stores `closing`, then reads the states (both `SeqCst`): a connection
//! going idle as the shutdown begins either sees `closing` and ends, or is
//! seen idle and closed, or both. IDLE → ACTIVE and IDLE → CLOSED are both
//! compare-and-swaps, so shutdown never closes a connection that has begun
//! a response (no client gets half of one); as in Go, a request whose first
//! bytes are on the wire as its idle connection is closed is not answered,
//! which HTTP/1.1 allows (a server may close an idle connection at any
//! time, and clients retry).

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use netpark_net::{TcpListener, TcpStream};

/// Every listener and connection of one `Server`, for `shutdown`.
#[derive(Default)]
pub(crate) struct Tracker {
    /// `shutdown` has begun; set once, by `shutdown`, read on every
    /// request.
    closing: AtomicBool,
    /// Held for a few instructions at a time, never across a wait or a
    /// wake, and only when a connection or listener comes or goes.
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// When the shutdown gives up waiting; set by `shutdown`.
    deadline: Option<Instant>,
    /// The listeners `serve` accepts on; taken and closed by `shutdown`.
    listeners: Vec<Arc<TcpListener>>,
    /// Open connections by id: the socket and its state (IDLE, ACTIVE,
    /// CLOSED; see the module docs).
    conns: HashMap<u64, (Arc<TcpStream>, Arc<AtomicU8>)>,
    /// The next connection id.
    next: u64,
    /// Connections whose task was unwound while a shutdown waited (its
    /// runtime ended: `serve` returns at the shutdown's deadline): cut
    /// off, not drained, so the shutdown still reports its timeout.
    cut_off: usize,
}

impl Tracker {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic never happens under this lock; a poisoned one is still sound.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `shutdown` has begun.
    pub(crate) fn closing(&self) -> bool {
        self.closing.load(Ordering::SeqCst)
    }

    /// Adds a listener, or `None` when shutting down; the guard takes it
    /// out again when `serve` returns, so the socket closes with it then.
    pub(crate) fn add_listener(&self, ln: &Arc<TcpListener>) -> Option<TrackedListener<'_>> {
        let mut st = self.lock();
        if self.closing() {
            return None;
        }
        st.listeners.push(ln.clone());
        Some(TrackedListener {
            tracker: self,
            ln: ln.clone(),
        })
    }

    /// Adds a new connection (idle), or `None` when shutting down; the
    /// guard takes it out again when it drops, also when the connection's
    /// task is unwound (the tracker would otherwise keep its socket open).
    pub(crate) fn add_conn(&self, conn: &Arc<TcpStream>) -> Option<TrackedConn<'_>> {
        let mut st = self.lock();
        if self.closing() {
            return None;
        }
        let id = st.next;
        st.next += 1;
        let state = Arc::new(AtomicU8::new(IDLE));
        st.conns.insert(id, (conn.clone(), state.clone()));
        Some(TrackedConn {
            tracker: self,
            id,
            state,
        })
    }

    /// See [`ServerHandle::shutdown`].
    fn shutdown(&self, timeout: Duration) -> io::Result<()> {
        self.closing.store(true, Ordering::SeqCst);
        let (listeners, deadline) = {
            let mut st = self.lock();
            let deadline = *st
                .deadline
                .get_or_insert(netpark_runtime::time::deadline_after(timeout));
            (std::mem::take(&mut st.listeners), deadline)
        };
        for ln in listeners {
            let _ = ln.close();
        }
        self.drain(deadline)
    }

    /// See [`ServerHandle::close`].
    fn close(&self) {
        self.closing.store(true, Ordering::SeqCst);
        let (listeners, conns) = {
            let mut st = self.lock();
            let conns: Vec<Arc<TcpStream>> = st
                .conns
                .values()
                .map(|c| {
                    c.1.store(CLOSED, Ordering::SeqCst);
                    c.0.clone()
                })
                .collect();
            (std::mem::take(&mut st.listeners), conns)
        };
        // Outside the lock: each close wakes whoever waits on the socket.
        for ln in listeners {
            let _ = ln.close();
        }
        for c in conns {
            let _ = c.close();
        }
    }

    /// `serve`'s end after a shutdown: returns once the shutdown is done,
    /// so a program whose root task serves does not end (and unwind the
    /// connections still answering) before its shutdown has let them
    /// finish. Go leaves that wait to the caller of `Serve`.
    pub(crate) fn wait_shutdown(&self) {
        let deadline = self.lock().deadline;
        if let Some(d) = deadline {
            let _ = self.drain(d);
        }
    }

    /// Closes idle connections until none is left or `deadline` passes.
    fn drain(&self, deadline: Instant) -> io::Result<()> {
        // Go polls too, from 1 ms doubling to 500 ms.
        let mut pause = Duration::from_millis(1);
        loop {
            let (idle, left, cut_off) = {
                let st = self.lock();
                let idle: Vec<Arc<TcpStream>> = st
                    .conns
                    .values()
                    .filter(|c| {
                        c.1.compare_exchange(IDLE, CLOSED, Ordering::SeqCst, Ordering::SeqCst)
                            .is_ok()
                    })
                    .map(|c| c.0.clone())
                    .collect();
                (idle, st.conns.len(), st.cut_off)
            };
            // Outside the lock: a close wakes the connection's task.
            for c in idle {
                let _ = c.close();
            }
            let now = Instant::now();
            // All gone: drained, unless the server's own end cut some off
            // at the deadline, as it does when `serve`'s runtime ends.
            if left == 0 && cut_off == 0 {
                return Ok(());
            }
            if now >= deadline || left == 0 {
                let open = left.max(cut_off);
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("http: shutdown timed out with {open} connection(s) still open"),
                ));
            }
            netpark_runtime::sleep(pause.min(deadline - now))?;
            pause = (pause * 2).min(Duration::from_millis(500));
        }
    }
}

/// A listener's entry in its `Tracker`, from `add_listener` to its drop.
pub(crate) struct TrackedListener<'t> {
    /// The tracker holding the entry.
    tracker: &'t Tracker,
    /// The listener, to find its entry.
    ln: Arc<TcpListener>,
}

impl Drop for TrackedListener<'_> {
    fn drop(&mut self) {
        let gone: Vec<Arc<TcpListener>> = {
            let mut st = self.tracker.lock();
            let (gone, kept) = std::mem::take(&mut st.listeners)
                .into_iter()
                .partition(|l| Arc::ptr_eq(l, &self.ln));
            st.listeners = kept;
            gone
        };
        drop(gone);
    }
}

/// One connection's entry in its `Tracker`, from `add_conn` to its drop.
pub(crate) struct TrackedConn<'t> {
    /// The tracker holding the entry.
    tracker: &'t Tracker,
    /// The entry's id.
    id: u64,
    /// The connection's state; see the module docs.
    state: Arc<AtomicU8>,
}

/// A connection waiting for a request (shutdown may close it).
const IDLE: u8 = 0;
/// A connection serving a request.
const ACTIVE: u8 = 1;
/// Closed by shutdown while idle.
const CLOSED: u8 = 2;

impl TrackedConn<'_> {
    /// The connection goes idle (waits for its next request); false when
    /// shutting down, and it should end instead.
    pub(crate) fn idle(&self) -> bool {
        // Only this task leaves ACTIVE, and only shutdown leaves IDLE.
        self.state.store(IDLE, Ordering::SeqCst);
        !self.tracker.closing()
    }

    /// A request has begun on the connection (or goes on: a pipelined
    /// one, read while it was active); false when shutdown closed it first
    /// (the request is then not served).
    pub(crate) fn active(&self) -> bool {
        self.state
            .compare_exchange(IDLE, ACTIVE, Ordering::SeqCst, Ordering::SeqCst)
            .unwrap_or_else(|s| s)
            != CLOSED
    }
}

impl Drop for TrackedConn<'_> {
    fn drop(&mut self) {
        // The socket is closed by whoever drops it last, after the lock.
        let gone = {
            let mut st = self.tracker.lock();
            if self.tracker.closing() && netpark_runtime::shutdown_unwinding() {
                st.cut_off += 1;
            }
            st.conns.remove(&self.id)
        };
        drop(gone);
    }
}

/// Shuts a [`Server`](crate::Server) down from any task or thread (Go's
/// `Server.Shutdown`); made by [`Server::handle`](crate::Server::handle)
/// before `serve` takes the server.
#[derive(Clone)]
pub struct ServerHandle(pub(crate) Arc<Tracker>);

impl std::fmt::Debug for ServerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerHandle").finish_non_exhaustive()
    }
}

impl ServerHandle {
    /// Stops the server gracefully: closes its listeners (so `serve`
    /// returns `Ok`), closes every connection waiting for a request, lets
    /// each connection in the middle of one finish its response (sent with
    /// `Connection: close`), and returns once all have ended.
    ///
    /// # Errors
    ///
    /// `TimedOut` when connections are still open after `timeout` (they
    /// are left to finish); `Interrupted` when the calling task is
    /// cancelled while it waits.
    pub fn shutdown(&self, timeout: Duration) -> io::Result<()> {
        self.0.shutdown(timeout)
    }

    /// Stops the server at once (Go's `Server.Close`): closes its
    /// listeners (so `serve` returns `Ok`) and every connection, those in
    /// the middle of a response too, whose clients then see it cut off.
    pub fn close(&self) {
        self.0.close();
    }
}
