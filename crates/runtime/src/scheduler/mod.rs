//! The scheduler: N worker threads, each with its own run queue and poller
//! (Go's Ps and Ms, one M per P), a monitor (Go's `sysmon`), and spare
//! workers the monitor starts when every worker is stuck (Go's `startm`).
//!
//! # Queues of one worker
//!
//! | queue | holds | touched by |
//! |---|---|---|
//! | `runnext` | the newest task spawned here (unstarted) | owner puts; owner and monitor take |
//! | `unstarted` | every other unstarted task of this worker, with its sequence number | owner, idle peers (steal), other threads' spawns, monitor (hand-off) |
//! | `queue` | woken and yielded tasks (started, so only the owner runs them) | owner only |
//! | `inbox` | wakes from other threads, dump requests | any thread sends, owner receives |
//!
//! A spawn from a worker goes to `runnext` (run as soon as the spawner blocks, as
//! Go and tokio do), pushing the previous `runnext` to `unstarted` and waking an
//! idle peer to steal it, so an accept loop that spawns a burst spreads the
//! burst over every worker. A spawn from another thread goes to the
//! `unstarted` queue of the next worker in turn that is not stuck, pinned
//! there (round robin places it; peers do not steal it). A spawn with
//! `task::Builder::same_worker` goes to `unstarted` pinned too, so tasks
//! that wake each other constantly stay on one thread. Only the monitor's
//! hand-off moves a pinned task.
//!
//! **Architecture Invariant:** a started task is only ever resumed by its owner
//! worker. A wake from another thread is a message in the owner's inbox plus an
//! eventfd write if the owner sleeps in `epoll_wait`.
//!
//! **Architecture Invariant:** an unstarted task is never in owner-only
//! storage: it is in `runnext` or `unstarted`, which other threads can reach.
//! So a worker held by one task (a blocking call, a busy loop) strands no task
//! that has not started: the monitor hands them off.
//!
//! # Hand-off (Go's `retake` / `handoffp` / `startm`)
//!
//! ```text
//!            monitor: the same task has held the worker ≥ stuck_threshold,
//!            and its thread sleeps in the kernel or has used CPU (monitor.rs)
//!   running ─────────────────────────────────────────────────────────────► stuck
//!      ▲      every monitor period while stuck: take runnext + unstarted     │
//!      │      (pinned too) and give them to a peer that is not stuck, else   │
//!      │      to a spare worker (started now if none runs)                   │
//!      └──────────────── monitor: the worker switched tasks ─────────────────┘
//! ```
//!
//! Taking from `runnext` is an atomic swap and from `unstarted` a pop under
//! its lock, the same moves the owner makes, so a stuck worker that wakes in
//! the middle of a hand-off and a monitor that takes its tasks never both get
//! one. Spawns from other threads skip stuck workers; a task that spawns
//! while its own worker is marked stuck puts the new task in `unstarted` and
//! wakes an idle peer instead of filling `runnext`.
//!
//! A spare worker is a worker slot past the regular ones, with its own
//! poller, idle (`on == false`, no thread) until the monitor starts a thread
//! for it. Its thread runs the ordinary loop and retires, giving the slot
//! back, as soon as it has no task left (every one it started has returned
//! and none is queued).
//!
//! ```text
//!   off ──monitor: start_spare (under the unstarted lock: on = true, push)──► on
//!   on ──spare: no task left; poller killed (fds re-home); under the same
//!        lock, still nothing queued: on = false, the thread exits──────────► off
//! ```

mod monitor;
mod run_queue;
mod worker;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::io;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use parking_lot::Mutex;
use slab::Slab;

use crate::reactor::Poller;
use crate::stats;
use crate::task::context::{NewTask, NewTaskSlot};
use crate::task::park::{self, WaitReason};
use crate::task::stack::Stack;
use crate::task::{self, JoinError, JoinHandle, Task};
use crate::time::timers::{TimerKey, Timers};

/// Default usable stack size of a task: 256 KiB of address space, committed
/// page by page as it is touched.
pub const DEFAULT_STACK_SIZE: usize = 256 * 1024;

/// Default time a task may hold its worker before the monitor warns.
pub const DEFAULT_STUCK_THRESHOLD: Duration = Duration::from_millis(10);

/// Finished stacks a worker keeps for reuse.
const STACK_POOL_MAX: usize = 1024;

/// Finished task headers a worker keeps for reuse.
const FREE_TASKS_MAX: usize = 1024;

/// Default number of spare worker slots (see [`Builder::max_spare_workers`]).
pub const DEFAULT_MAX_SPARE_WORKERS: usize = 4;

/// An entry of a run queue; holding one is holding the task's run permission
/// (task/context.rs).
pub(crate) enum Runnable {
    /// Start this unstarted task on the worker that pops it.
    New(NewTask),
    /// Resume the started task with this header (`Arc::as_ptr`), which the
    /// owner's task table holds: only ever queued on its owner, and a queued
    /// task cannot end (it ends only while it runs), so the entry never
    /// outlives the table's `Arc`. The resume reads the header it points
    /// at, not the table: one cache line fewer a wake at 1,000 connections.
    Resume(*const Task),
}

/// A message in a worker's inbox: a wake for its run queue, or a request the
/// worker answers from its loop without queueing it. Unstarted tasks never
/// travel here (they go to `unstarted`, which a stuck worker cannot hide).
pub(crate) enum Message {
    /// Wake the task with this key in this worker's task table, if it is
    /// still the task with this id (`task/park.rs`). No reference is held:
    /// a task that finished meanwhile is simply not found.
    Wake { key: usize, id: u64 },
    /// List this worker's tasks into the sender (`dump()`).
    Dump(Sender<String>),
}

/// An unstarted task in a worker's `unstarted` queue.
#[derive(Debug)]
struct Unstarted {
    /// Position in the worker's one FIFO order (with `queue`).
    seq: u64,
    /// Spawned with `same_worker`: peers do not steal it (the monitor's
    /// hand-off still moves it off a stuck worker).
    pinned: bool,
    /// The task and its run permission.
    task: NewTask,
}

/// A worker's `unstarted` queue, behind its lock.
#[derive(Debug, Default)]
struct UnstartedQueue {
    /// Oldest first (by `seq`, roughly: pushes from other threads use the
    /// owner's last published number).
    q: VecDeque<Unstarted>,
    /// How many entries of `q` are pinned.
    pinned: usize,
}

impl UnstartedQueue {
    /// Appends `u`, counting it if pinned.
    fn push(&mut self, u: Unstarted) {
        self.pinned += usize::from(u.pinned);
        self.q.push_back(u);
    }

    /// Takes the oldest entry.
    fn pop_front(&mut self) -> Option<NewTask> {
        let u = self.q.pop_front()?;
        self.pinned -= usize::from(u.pinned);
        Some(u.task)
    }
}

/// The part of a worker other threads see.
#[derive(Debug)]
pub struct WorkerShared {
    /// Position in `RuntimeShared::workers`; immutable.
    pub(crate) index: usize,
    /// A spare slot (started by the monitor, retires when idle); immutable.
    spare: bool,
    /// A thread runs this worker now. Regular workers: always. Spares: set
    /// and cleared under the `unstarted` lock (see the module docs).
    on: AtomicBool,
    /// Sending side of the inbox; any thread.
    inbox_tx: Sender<Message>,
    /// Receiving side; only the owner worker receives.
    inbox_rx: Receiver<Message>,
    /// The worker's epoll + waker; polled only by the owner.
    pub(crate) poller: Arc<Poller>,
    /// The newest unstarted spawn; put by the owner, taken by the owner and
    /// the monitor (task/context.rs `NewTaskSlot`).
    runnext: NewTaskSlot,
    /// Every other unstarted task; short critical sections only.
    unstarted: Mutex<UnstartedQueue>,
    /// Set by shutdown before it drains the queues; spawners that see it
    /// drain what they queued themselves (SeqCst pair with the drain).
    closed: AtomicBool,
    /// Unpinned entries of `unstarted` (what peers can steal), readable
    /// without the lock; written under it.
    stealable_len: AtomicUsize,
    /// All entries of `unstarted`; as `stealable_len`.
    unstarted_len: AtomicUsize,
    /// The owner's next sequence number as of its last fairness tick or
    /// sleep (`Local::publish_seq`), for other threads that queue a task here.
    seq_hint: AtomicU64,
    /// When the monitor marked this worker stuck, in ns since the runtime's
    /// `epoch`, plus one; 0 when it is not stuck. Written by the monitor.
    stuck_since: AtomicU64,
    /// The owner is in (or about to enter) a blocking `epoll_wait`; written by the
    /// owner, read by wakers to decide whether to write the eventfd (SeqCst pair).
    sleeping: AtomicBool,
    /// Id of the task running now, 0 when none; written by the owner, read by the monitor.
    running: AtomicU64,
    /// Kernel id of the thread running this worker (0 before it starts);
    /// written by that thread as it starts, read by the monitor, which asks
    /// the kernel whether a held worker blocks, computes or is not run.
    tid: AtomicI32,
    /// The worker's counters (task resumes, timers, finished tasks); written
    /// only by the owner, read by the monitor and `stats()`.
    pub(crate) counters: Arc<stats::Counters>,
}

impl WorkerShared {
    /// Queues `m` in the inbox and wakes the worker if it sleeps.
    fn send(&self, m: Message) {
        let _ = self.inbox_tx.send(m);
        if self.closed.load(Ordering::SeqCst) {
            // Sent after shutdown drained the inbox: drop it here, so no
            // entry is left in a channel nobody reads.
            while self.inbox_rx.try_recv().is_ok() {}
            return;
        }
        self.wake_if_sleeping();
    }

    /// After queueing work for this worker: store (the work), fence, load
    /// (`sleeping`), the mirror of the worker's store-fence-load before it
    /// sleeps, so one of the two sees the other.
    fn wake_if_sleeping(&self) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst) {
            self.poller.wake();
        }
    }

    /// Whether the monitor has marked this worker stuck.
    #[inline]
    pub(crate) fn is_stuck(&self) -> bool {
        self.stuck_since.load(Ordering::Relaxed) != 0
    }

    /// Whether a thread runs this worker.
    fn is_on(&self) -> bool {
        self.on.load(Ordering::Acquire)
    }

    /// Queues unstarted tasks from another thread (a spawn outside the
    /// runtime, `pinned` so that it starts where the round robin put it; or
    /// the monitor's hand-off) and wakes the worker. Refused, returning the
    /// tasks, when no thread runs the worker.
    fn push_from_outside(&self, tasks: Vec<NewTask>, pinned: bool) -> Result<(), Vec<NewTask>> {
        {
            let mut st = self.unstarted.lock();
            if !self.is_on() {
                return Err(tasks);
            }
            let seq = self.seq_hint.load(Ordering::Relaxed);
            for task in tasks {
                st.push(Unstarted { seq, pinned, task });
            }
            self.publish_lens(&st);
        }
        if self.closed.load(Ordering::SeqCst) {
            // Queued after shutdown drained the queue: drop it here, so the
            // joiners are told (context::NewTask) instead of waiting on a
            // queue nobody reads.
            self.drain_unstarted();
            return Ok(());
        }
        self.wake_if_sleeping();
        Ok(())
    }

    /// Stores the lengths readers check without the lock; under it.
    fn publish_lens(&self, st: &UnstartedQueue) {
        self.unstarted_len.store(st.q.len(), Ordering::SeqCst);
        self.stealable_len
            .store(st.q.len() - st.pinned, Ordering::SeqCst);
    }

    /// Takes every unstarted task, `runnext` first (the monitor's hand-off).
    fn take_unstarted(&self) -> Vec<NewTask> {
        let mut out: Vec<NewTask> = self.runnext.take().into_iter().collect();
        if self.unstarted_len.load(Ordering::Acquire) > 0 {
            let mut st = self.unstarted.lock();
            out.extend(st.q.drain(..).map(|u| u.task));
            st.pinned = 0;
            self.publish_lens(&st);
        }
        out
    }

    /// Drops every unstarted task (shutdown: their joiners get `Shutdown`).
    fn drain_unstarted(&self) {
        drop(self.take_unstarted());
    }
}

/// Everything the workers of one runtime share.
#[derive(Debug)]
pub(crate) struct RuntimeShared {
    /// Process-unique id; immutable.
    id: u64,
    /// Thread name prefix; immutable.
    name: String,
    /// The workers, regular ones first, then the spare slots; immutable
    /// after build.
    pub(crate) workers: Vec<Arc<WorkerShared>>,
    /// How many of `workers` are regular (always on); immutable.
    regular: usize,
    /// Threads of spare workers the monitor started; joined at shutdown.
    spare_threads: Mutex<Vec<thread::JoinHandle<()>>>,
    /// The "every spare is in use" warning has been logged and no spare has
    /// started since, so the monitor does not repeat it every period.
    spares_exhausted: AtomicBool,
    /// Origin of `WorkerShared::stuck_since`; immutable.
    epoch: Instant,
    /// Default stack size of tasks; immutable.
    stack_size: usize,
    /// Time a task may hold a worker before the monitor warns; immutable.
    stuck_threshold: Duration,
    /// With [`Builder::shared_epoll`]: the one poller (worker 0's) every fd of
    /// this runtime registers in; immutable.
    shared_poller: Option<Arc<Poller>>,
    /// Round-robin cursor for spawns from outside the runtime.
    next_worker: AtomicUsize,
    /// Set once by shutdown.
    shutdown: AtomicBool,
    /// Whether idle workers may spin before they sleep: more than one worker
    /// and more than one CPU to run them on; immutable.
    can_spin: bool,
    /// Names of the live named tasks by id, for the monitor's warning (it cannot
    /// ask a stuck worker). Unnamed tasks, the common case, never touch it.
    names: Mutex<HashMap<u64, String>>,
}

/// Every runtime alive in the process, for `dump()`.
static RUNTIMES: Mutex<Vec<Weak<RuntimeShared>>> = Mutex::new(Vec::new());
static NEXT_RUNTIME_ID: AtomicU64 = AtomicU64::new(1);

/// The owner-only state of a worker, reachable from its tasks through a thread-local.
pub(crate) struct Local {
    pub(crate) shared: Arc<RuntimeShared>,
    pub(crate) me: Arc<WorkerShared>,
    /// Runnable started tasks with their sequence numbers, FIFO. Together
    /// with `unstarted`, ordered by sequence, it forms one FIFO run queue.
    queue: RefCell<run_queue::RunQueue>,
    /// Next sequence number for `queue` and `unstarted`.
    seq: Cell<u64>,
    /// Sleeps and deadlines of this worker's tasks.
    timers: RefCell<Timers>,
    /// Finished default-size stacks for reuse.
    stacks: RefCell<Vec<Stack>>,
    /// The started tasks this worker owns, by key (`Task::key`). An entry is
    /// inserted when the task starts and removed when it returns (or at
    /// shutdown), so it keeps every started task alive; only the owner touches it.
    pub(crate) tasks: RefCell<Slab<Arc<Task>>>,
    /// Finished task headers that nothing refers to any more, for reuse by the
    /// next spawn (Go's `gfree` list); only the owner touches it.
    pub(crate) free_tasks: RefCell<Vec<Arc<Task>>>,
    /// Scheduler turns, for the fairness tick: one per task the worker loop
    /// runs and one per [`direct_switch`](Local::direct_switch). Owner only.
    pub(crate) tick: Cell<u64>,
    /// A task runs inside another's park ([`direct_switch`](Local::direct_switch)),
    /// so no second direct switch may nest in it. Owner only.
    pub(crate) direct_running: Cell<bool>,
}

thread_local! {
    /// This thread's worker state while the thread runs a worker loop, null
    /// otherwise: set and cleared by a [`LocalGuard`], which owns an `Rc` of
    /// it for as long as the pointer is set. A plain pointer rather than a
    /// `RefCell<Option<Rc<Local>>>`, whose borrow flag every wake and every
    /// `is_local` check paid for: 984 → 930 instructions a channel
    /// round trip.
    static LOCAL: Cell<*const Local> = const { Cell::new(std::ptr::null()) };
    /// Set while a worker unwinds its remaining tasks at shutdown.
    static FORCED_UNWIND: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl Local {
    fn next_seq(&self) -> u64 {
        let s = self.seq.get();
        self.seq.set(s + 1);
        s
    }

    /// Publishes the next sequence number for other threads that queue a
    /// task here. Called on the fairness tick and before sleeping, not per
    /// push: the word shares a line with fields peers poll, and a stale
    /// value only ranks an outside task a little older than it is.
    pub(crate) fn publish_seq(&self) {
        self.me.seq_hint.store(self.seq.get(), Ordering::Relaxed);
    }

    /// Keeps a finished header for the next spawn if nothing else refers to it.
    pub(crate) fn recycle(&self, mut task: Arc<Task>) {
        // The plain load first: a header still shared (a handle not yet
        // joined) is the common case at finish, and get_mut costs an atomic.
        if Arc::strong_count(&task) != 1 || Arc::get_mut(&mut task).is_none() {
            return;
        }
        let mut free = self.free_tasks.borrow_mut();
        if free.len() < FREE_TASKS_MAX {
            free.push(task);
        }
    }

    /// The owner's half of a wake (`park::wake_local`), counted.
    pub(crate) fn wake(&self, task: &Task) -> bool {
        let queued = park::wake_local(task, |t| self.push(t));
        if queued {
            self.me.counters.wakes.add(1);
        }
        queued
    }

    /// Appends a started task of this worker to the run queue (by its
    /// header's address; see [`Runnable::Resume`]).
    #[inline(always)]
    pub(crate) fn push(&self, task: &Task) {
        let seq = self.next_seq();
        self.queue
            .borrow_mut()
            .push(seq, task as *const Task as usize);
    }

    /// Appends an unstarted task to `unstarted`; a `pinned` one stays here
    /// (peers do not steal it).
    pub(crate) fn push_unstarted(&self, task: NewTask, pinned: bool) {
        let seq = self.next_seq();
        let mut st = self.me.unstarted.lock();
        st.push(Unstarted { seq, pinned, task });
        self.me.publish_lens(&st);
    }

    /// The next task to run: `runnext`, then the older of the heads of `queue`
    /// and `unstarted`.
    #[inline]
    pub(crate) fn pop(&self) -> Option<Runnable> {
        if let Some(t) = self.me.runnext.take() {
            return Some(Runnable::New(t));
        }
        let mut q = self.queue.borrow_mut();
        if self.me.unstarted_len.load(Ordering::Acquire) > 0 {
            let mut st = self.me.unstarted.lock();
            let older = match (q.front_seq(), st.q.front()) {
                (Some(a), Some(u)) => u.seq < a,
                (None, Some(_)) => true,
                _ => false,
            };
            if older {
                let t = st.pop_front().expect("checked non-empty");
                self.me.publish_lens(&st);
                return Some(Runnable::New(t));
            }
        }
        q.pop().map(|p| Runnable::Resume(p as *const Task))
    }
}

impl WorkerShared {
    /// Takes the oldest unstarted task (the owner).
    pub(crate) fn pop_unstarted(&self) -> Option<NewTask> {
        if self.unstarted_len.load(Ordering::Acquire) == 0 {
            return None;
        }
        let mut st = self.unstarted.lock();
        let t = st.pop_front()?;
        self.publish_lens(&st);
        Some(t)
    }

    /// Takes the older half of the unpinned unstarted tasks, if the lock is
    /// free (a peer's steal).
    pub(crate) fn steal_half(&self) -> Vec<NewTask> {
        let Some(mut st) = self.unstarted.try_lock() else {
            return Vec::new();
        };
        let n = (st.q.len() - st.pinned).div_ceil(2);
        let taken: Vec<NewTask> = if st.pinned == 0 {
            st.q.drain(..n).map(|u| u.task).collect()
        } else {
            let mut taken = Vec::with_capacity(n);
            let mut kept = VecDeque::with_capacity(st.q.len() - n);
            for u in st.q.drain(..) {
                if !u.pinned && taken.len() < n {
                    taken.push(u.task);
                } else {
                    kept.push_back(u);
                }
            }
            st.q = kept;
            taken
        };
        self.publish_lens(&st);
        taken
    }
}

/// Makes a worker's state this thread's (`LOCAL`) until dropped.
pub(crate) struct LocalGuard {
    /// Keeps alive the `Local` that `LOCAL` points at; never read.
    _keep: Rc<Local>,
}

impl LocalGuard {
    pub(crate) fn set(local: Rc<Local>) -> LocalGuard {
        LOCAL.with(|l| l.set(Rc::as_ptr(&local)));
        LocalGuard { _keep: local }
    }
}

impl Drop for LocalGuard {
    fn drop(&mut self) {
        // Before the `Rc` this guard holds is dropped (fields drop after).
        LOCAL.with(|l| l.set(std::ptr::null()));
    }
}

fn with_local<R>(f: impl FnOnce(Option<&Local>) -> R) -> R {
    let p = LOCAL.with(|l| l.get());
    // SAFETY: a non-null `LOCAL` points at the `Local` whose `Rc` this
    // thread's `LocalGuard` holds, and the guard clears the pointer before
    // it lets the `Rc` go. The guard lives in `worker::run`'s frame for the
    // whole worker loop, and every `with_local` call runs inside that loop
    // (tasks, the reactor, the worker's own code) on this thread; the
    // borrow given to `f` ends when this call returns, so it cannot
    // outlive the guard. `Local` is only ever shared (`&`), as the
    // `RefCell` borrow this replaced was.
    f(unsafe { p.as_ref() })
}

pub(crate) fn forced_unwind() -> bool {
    FORCED_UNWIND.with(|f| f.get())
}

/// Whether the calling thread is unwinding a task's stack because the
/// task's runtime is shutting down (its destructors run; waits fail at
/// once with "runtime shut down").
///
/// Code that catches panics inside a task, as a server does around each
/// handler, catches that unwind too; it should pass it on with
/// `std::panic::resume_unwind` rather than answer it as a handler's panic.
/// (Caught and not passed on, the task just ends early; the process goes
/// on either way.)
pub fn shutdown_unwinding() -> bool {
    forced_unwind()
}

/// The poller of this worker thread, if this is a worker.
pub(crate) fn current_worker_poller() -> Option<Arc<Poller>> {
    with_local(|l| {
        l.map(|l| {
            l.shared
                .shared_poller
                .as_ref()
                .unwrap_or(&l.me.poller)
                .clone()
        })
    })
}

/// Applies a wake to `task` where the caller stands, if it can: `true` when
/// the caller runs on the task's owner worker (applied) or the task has not
/// started (nothing to wake, task/park.rs); `false` when the wake must go to
/// the owner's inbox ([`send_wake`]). With `prefetch`, a task it queued gets
/// its resume's first loads started (`park::prefetch_resume`).
#[inline(always)]
pub(crate) fn wake_here(task: &Task, prefetch: bool) -> bool {
    // SeqCst: pairs with `JoinHandle::cancel` (task/park.rs).
    let owner = task.owner.load(Ordering::SeqCst);
    owner == task::UNSTARTED
        || with_owner(task, owner, |l| {
            if l.wake(task) && prefetch {
                park::prefetch_resume(task);
            }
        })
        .is_some()
}

/// Wakes a started `task` that [`is_local`] found this thread's worker owns,
/// with no thread switch since (a channel's `Wake::Local`): the owner check
/// is not made twice.
pub(crate) fn wake_owned_here(task: &Task) {
    with_local(|l| {
        if let Some(l) = l {
            l.wake(task);
        }
    });
}

/// [`Local::direct_switch`] for the running task `parked`, on its worker.
pub(crate) fn direct_switch(parked: &Task) -> bool {
    with_local(|l| l.is_some_and(|l| l.direct_switch(parked)))
}

/// Whether the caller runs on the worker that owns the started `task` (so
/// a wake of it is a push on this thread's own queue, and the task cannot
/// run before the caller yields).
pub(crate) fn is_local(task: &Task) -> bool {
    let owner = task.owner.load(Ordering::Acquire);
    owner != task::UNSTARTED && with_owner(task, owner, |_| ()).is_some()
}

/// Runs `f` on this thread's worker state if this thread is the worker
/// `owner` of `task`'s runtime.
fn with_owner<R>(task: &Task, owner: u32, f: impl FnOnce(&Local) -> R) -> Option<R> {
    with_local(|l| {
        l.filter(|l| l.me.index as u32 == owner && Arc::ptr_eq(&l.shared, &task.runtime))
            .map(f)
    })
}

/// Sends a wake to the owner of a started `task`, which applies it from its
/// loop (task/park.rs); the caller has just set `wake_pending`.
pub(crate) fn send_wake(task: &Task) {
    let owner = task.owner.load(Ordering::Relaxed);
    let (key, id) = (task.key.load(Ordering::Relaxed), task.id);
    task.runtime.workers[owner as usize].send(Message::Wake {
        key: key as usize,
        id,
    });
}

/// Puts a finished task's header on the calling worker's free list (Go's
/// `gfput`) if nothing else refers to it and it belongs to this worker's
/// runtime; otherwise just drops it.
pub(crate) fn recycle(task: Arc<Task>) {
    with_local(|l| {
        if let Some(l) = l.filter(|l| Arc::ptr_eq(&l.shared, &task.runtime)) {
            l.recycle(task);
        }
    });
}

/// Arms a timer that unparks `task` at `when`; only on the task's own worker.
pub(crate) fn add_timer(when: Instant, task: &Task) -> TimerKey {
    with_local(|l| {
        l.expect("netpark: timer outside a worker")
            .timers
            .borrow_mut()
            .insert(when, task.key.load(Ordering::Relaxed) as usize, task.id)
    })
}

/// Disarms a timer (no-op if it fired).
pub(crate) fn remove_timer(key: TimerKey) {
    with_local(|l| {
        if let Some(l) = l {
            l.timers.borrow_mut().remove(key);
        }
    })
}

/// Spawns a task on `runtime`, or on the calling worker's runtime for `None`
/// (the engine of every spawn function); with `same_worker`, at the back of
/// the calling worker's queue, where no peer steals it. `make` builds the task header around
/// a stack from the worker's pool, reusing a header from its free list when it
/// has one. One thread-local lookup, no lock.
pub(crate) fn spawn_raw(
    runtime: Option<&Arc<RuntimeShared>>,
    name: Option<String>,
    stack_size: Option<usize>,
    same_worker: bool,
    make: impl FnOnce(&Arc<RuntimeShared>, Option<Arc<Task>>, Option<String>, Stack) -> Arc<Task>,
) -> io::Result<Arc<Task>> {
    with_local(|l| {
        let shared = match (runtime, l) {
            (Some(r), _) => r,
            (None, Some(l)) => &l.shared,
            (None, None) => return Err(io::Error::other(
                "netpark: spawn called outside a runtime; use Handle::spawn or Runtime::block_on",
            )),
        };
        // A spawn that meets a shut-down runtime makes its task as usual and
        // drops it unqueued (below), as shutdown drops tasks queued just
        // before: the task never runs and its join says `Shutdown`. No panic,
        // even from a destructor that runs while shutdown unwinds its task.
        let shut_down = shared.shutdown.load(Ordering::Acquire);
        let local = l.filter(|l| Arc::ptr_eq(&l.shared, shared));
        let size = stack_size.unwrap_or(shared.stack_size);
        let pooled = match local {
            Some(l) if size == shared.stack_size => l.stacks.borrow_mut().pop(),
            _ => None,
        };
        let stack = match pooled {
            Some(s) => s,
            None => Stack::new(size)?,
        };
        let free = local.and_then(|l| l.free_tasks.borrow_mut().pop());
        let task = make(shared, free, name, stack);
        let queued = NewTask::new(task.clone());
        if shut_down {
            trace!("spawn task {} after shutdown: never runs", task.id);
            // NewTask's drop abandons the join.
            drop(queued);
            return Ok(task);
        }
        if let Some(n) = &task.name {
            shared.names.lock().insert(task.id, n.clone());
        }
        stats::count(|c| c.tasks_spawned.add(1));
        trace!("spawn task {} ({:?})", task.id, task.name);
        match local {
            Some(l) if same_worker => l.push_unstarted(queued, true),
            Some(l) if l.me.is_stuck() => {
                // The spawner holds this worker (the monitor says so): the
                // new task would wait in `runnext` until the monitor's next
                // hand-off, so offer it to a peer now.
                l.push_unstarted(queued, false);
                shared.wake_idle_peer(l.me.index);
            }
            Some(l) => {
                if let Some(old) = l.me.runnext.put(queued) {
                    l.push_unstarted(old, false);
                    shared.wake_idle_peer(l.me.index);
                }
            }
            None => shared.spawn_from_outside(queued),
        }
        Ok(task)
    })
}

impl RuntimeShared {
    /// Whether worker `me` may spin before it sleeps: only while a peer is
    /// awake or about to be (its inbox holds work), since only a running peer
    /// can hand it work; a runtime whose other workers all sleep never spins.
    fn may_spin(&self, me: usize) -> bool {
        self.can_spin
            && self.workers.iter().any(|w| {
                w.index != me
                    && w.is_on()
                    && (!w.sleeping.load(Ordering::SeqCst) || !w.inbox_rx.is_empty())
            })
    }

    /// Whether a worker other than `me` has unstarted tasks to steal.
    fn peer_has_stealable(&self, me: usize) -> bool {
        self.workers
            .iter()
            .any(|w| w.index != me && w.stealable_len.load(Ordering::SeqCst) > 0)
    }

    /// Wakes one sleeping worker other than `except`, so it can steal.
    fn wake_idle_peer(&self, except: usize) {
        std::sync::atomic::fence(Ordering::SeqCst);
        if let Some(w) = self
            .workers
            .iter()
            .find(|w| w.index != except && w.is_on() && w.sleeping.load(Ordering::SeqCst))
        {
            w.poller.wake();
        }
    }

    /// Queues a spawn from outside the runtime on the next regular worker
    /// (round robin) that is not stuck; on the next one anyway when all are.
    fn spawn_from_outside(&self, task: NewTask) {
        let start = self.next_worker.fetch_add(1, Ordering::Relaxed);
        let pick = (0..self.regular)
            .map(|k| &self.workers[(start + k) % self.regular])
            .find(|w| !w.is_stuck())
            .unwrap_or(&self.workers[start % self.regular]);
        if let Err(tasks) = pick.push_from_outside(vec![task], true) {
            // Regular workers are always on; dropping abandons the joins.
            drop(tasks);
        }
    }

    /// The monitor's hand-off: moves every unstarted task of the stuck worker
    /// `from` to a worker that can run it (an idle peer first, then any
    /// peer that is not stuck, then a spare). Returns how many moved.
    fn hand_off(self: &Arc<Self>, from: &WorkerShared) -> usize {
        let tasks = from.take_unstarted();
        if tasks.is_empty() || self.shutdown.load(Ordering::Acquire) {
            return 0;
        }
        let n = tasks.len();
        let peers = || {
            self.workers
                .iter()
                .filter(|w| w.index != from.index && w.is_on() && !w.is_stuck())
        };
        let target = peers()
            .find(|w| w.sleeping.load(Ordering::SeqCst))
            .or_else(|| peers().next());
        let tasks = match target {
            Some(w) => match w.push_from_outside(tasks, false) {
                Ok(()) => {
                    trace!(
                        "hand-off: {n} task(s) from worker {} to {}",
                        from.index,
                        w.index
                    );
                    return n;
                }
                Err(tasks) => tasks,
            },
            None => tasks,
        };
        match self.start_spare(tasks) {
            Ok(index) => {
                trace!(
                    "hand-off: {n} task(s) from worker {} to spare {index}",
                    from.index
                );
                n
            }
            Err(tasks) => {
                // Every slot is busy: the tasks go back where any worker that
                // frees up can steal them, and the next period tries again.
                let _ = from.push_from_outside(tasks, false);
                0
            }
        }
    }

    /// Starts a thread for an idle spare slot and queues `tasks` on it.
    /// Returns the tasks when no slot is free or no thread can be made.
    fn start_spare(self: &Arc<Self>, tasks: Vec<NewTask>) -> Result<usize, Vec<NewTask>> {
        let Some(w) = self.workers[self.regular..].iter().find(|w| !w.is_on()) else {
            if !self.spares_exhausted.swap(true, Ordering::Relaxed) {
                log::warn!(
                    "netpark: every worker is stuck and all {} spare worker(s) are in use; \
                     unstarted tasks wait (Builder::max_spare_workers)",
                    self.workers.len() - self.regular
                );
            }
            return Err(tasks);
        };
        {
            // Under the lock a retiring thread of this slot turns it off
            // under: it finds the slot on and the queue filled, or not at all.
            let _st = w.unstarted.lock();
            w.on.store(true, Ordering::Release);
            w.sleeping.store(false, Ordering::SeqCst);
        }
        // Only this thread (the monitor) starts a slot, so it stays on and
        // the push is taken; should it not be, the slot goes back off.
        if let Err(tasks) = w.push_from_outside(tasks, false) {
            w.on.store(false, Ordering::Release);
            return Err(tasks);
        }
        let s = self.clone();
        let index = w.index;
        let t = thread::Builder::new()
            .name(format!("{}-spare-{}", self.name, index - self.regular))
            .spawn(move || worker::run(s, index));
        match t {
            Ok(t) => {
                self.spares_exhausted.store(false, Ordering::Relaxed);
                stats::count(|c| c.spare_workers_started.add(1));
                let mut threads = self.spare_threads.lock();
                threads.retain(|t| !t.is_finished());
                threads.push(t);
                Ok(index)
            }
            Err(e) => {
                log::error!("netpark: cannot start a spare worker: {e}");
                w.on.store(false, Ordering::Release);
                Err(w.take_unstarted())
            }
        }
    }

    /// Lists the runtime's tasks. Each worker lists its own (its task table and
    /// queues are owner-only): the caller's worker directly, the others when
    /// they next pass through their loop (a `Dump` message in the inbox, which
    /// also wakes them). Like Go's dump this sees each worker at a slightly
    /// different instant; a worker held by one task for longer than
    /// [`DUMP_ANSWER_WAIT`] is reported as such instead.
    fn dump_into(&self, out: &mut String) {
        let me = with_local(|l| {
            l.filter(|l| std::ptr::eq(Arc::as_ptr(&l.shared), self))
                .map(|l| l.me.index)
        });
        let mut pending = Vec::new();
        let mut body = String::new();
        if !self.shutdown.load(Ordering::Acquire) {
            for w in self
                .workers
                .iter()
                .filter(|w| Some(w.index) != me && w.is_on())
            {
                if let Some(line) = self.stuck_line(w) {
                    // A stuck worker cannot answer; say so at once.
                    body.push_str(&line);
                    continue;
                }
                let (tx, rx) = crossbeam_channel::bounded(1);
                w.send(Message::Dump(tx));
                pending.push((w, rx));
            }
        }
        with_local(|l| {
            if let Some(l) = l.filter(|l| Some(l.me.index) == me) {
                l.list_tasks(&mut body);
            }
        });
        let deadline = Instant::now() + DUMP_ANSWER_WAIT;
        for (w, rx) in pending {
            match rx.recv_deadline(deadline) {
                Ok(part) => body.push_str(&part),
                Err(_) => {
                    let _ = writeln!(
                        body,
                        "worker {} did not answer: held by task {} (busy or blocked); its tasks are not listed",
                        w.index,
                        w.running.load(Ordering::Relaxed)
                    );
                }
            }
        }
        let live = body.lines().filter(|l| l.starts_with("task ")).count();
        let spares = self.workers[self.regular..]
            .iter()
            .filter(|w| w.is_on())
            .count();
        let _ = write!(
            out,
            "runtime {} \"{}\": {} worker(s)",
            self.id, self.name, self.regular,
        );
        if spares > 0 {
            let _ = write!(out, " + {spares} spare");
        }
        let _ = writeln!(out, ", {live} live task(s)");
        out.push_str(&body);
    }

    /// The dump's line for a worker the monitor has marked stuck.
    fn stuck_line(&self, w: &WorkerShared) -> Option<String> {
        let since = w.stuck_since.load(Ordering::Relaxed).checked_sub(1)?;
        let held = self
            .epoch
            .elapsed()
            .saturating_sub(Duration::from_nanos(since));
        let running = w.running.load(Ordering::Relaxed);
        let name = self.names.lock().get(&running).cloned();
        Some(format!(
            "worker {} [stuck] held by task {running}{} for {held:.1?}; its started tasks wait for it, \
             its unstarted ones are handed off\n",
            w.index,
            name.map(|n| format!(" \"{n}\"")).unwrap_or_default(),
        ))
    }
}

/// How long `dump()` waits for the other workers to list their tasks.
pub const DUMP_ANSWER_WAIT: Duration = Duration::from_millis(200);

impl Local {
    /// Appends one line per task this worker holds: started tasks, then
    /// unstarted ones in `runnext` and `unstarted`.
    pub(crate) fn list_tasks(&self, out: &mut String) {
        for (_, t) in self.tasks.borrow().iter() {
            write_task(out, t);
        }
        // Taken and put back by the owner, the only one that puts; a task
        // the monitor takes meanwhile is listed by its new worker.
        if let Some(t) = self.me.runnext.take() {
            write_task(out, &t);
            if let Some(other) = self.me.runnext.put(t) {
                self.push_unstarted(other, false);
            }
        }
        for u in self.me.unstarted.lock().q.iter() {
            write_task(out, &u.task);
        }
    }
}

fn write_task(out: &mut String, t: &Task) {
    let _ = write!(out, "task {}", t.id);
    if let Some(n) = &t.name {
        let _ = write!(out, " \"{n}\"");
    }
    let state = match t.state.load(Ordering::Relaxed) {
        task::RUNNING => "running",
        task::PARKED_STATE => "parked",
        task::DONE => "done",
        _ if t.owner().is_none() => "runnable (not started)",
        _ => "runnable",
    };
    let _ = write!(out, " [{state}]");
    if let Some(w) = t.owner() {
        let _ = write!(out, " on worker {}", w.index);
    }
    if t.state.load(Ordering::Relaxed) == task::PARKED_STATE {
        let reason = t.wait_reason().unwrap_or(WaitReason::Other);
        let _ = write!(out, ", waiting: {reason}");
    }
    if t.cancelled.load(Ordering::Relaxed) {
        let _ = write!(out, " (cancelled)");
    }
    out.push('\n');
}

/// Lists every live task of every runtime with its state and what it waits on
/// (Go's goroutine dump).
///
/// ```text
/// runtime 1 "netpark": 2 worker(s), 3 live task(s)
/// task 1 "main" [parked] on worker 0, waiting: join task 2
/// task 2 "conn" [parked] on worker 1, waiting: read fd 7
/// task 3 [parked] on worker 0, waiting: sleep until +4.99s
/// ```
pub fn dump() -> String {
    let runtimes: Vec<Arc<RuntimeShared>> =
        RUNTIMES.lock().iter().filter_map(Weak::upgrade).collect();
    let mut out = String::new();
    for rt in runtimes {
        rt.dump_into(&mut out);
    }
    out
}

/// Configures a [`Runtime`].
#[derive(Debug, Clone)]
pub struct Builder {
    workers: usize,
    stack_size: usize,
    name: String,
    stuck_threshold: Duration,
    shared_epoll: bool,
    max_spare_workers: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            workers: thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            stack_size: DEFAULT_STACK_SIZE,
            name: "netpark".to_string(),
            stuck_threshold: DEFAULT_STUCK_THRESHOLD,
            shared_epoll: false,
            max_spare_workers: DEFAULT_MAX_SPARE_WORKERS,
        }
    }
}

impl Builder {
    /// Number of worker threads (default: available cores; at least 1).
    pub fn workers(mut self, n: usize) -> Builder {
        self.workers = n.max(1);
        self
    }

    /// Default usable stack size of tasks, in bytes (default [`DEFAULT_STACK_SIZE`]).
    pub fn stack_size(mut self, bytes: usize) -> Builder {
        self.stack_size = bytes;
        self
    }

    /// Thread name prefix (default `netpark`).
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = name.into();
        self
    }

    /// How long one task may hold its worker before the monitor counts the
    /// worker as stuck (default [`DEFAULT_STUCK_THRESHOLD`], 10 ms), if the
    /// worker's thread is asleep in the kernel then or has used half of it
    /// in CPU (not if the OS merely did not run it): it logs
    /// a warning naming the task, and from then on, once per period of this
    /// length, hands the worker's unstarted tasks to other workers (Go's
    /// sysmon `retake`), until the worker switches tasks again.
    pub fn stuck_threshold(mut self, d: Duration) -> Builder {
        self.stuck_threshold = d;
        self
    }

    /// How many spare worker threads the monitor may run at once for the
    /// unstarted tasks of stuck workers when no regular worker can take them
    /// (default [`DEFAULT_MAX_SPARE_WORKERS`]; 0 turns spares off). A spare
    /// is started only when needed and retires when its tasks have ended;
    /// each slot costs an epoll fd and an eventfd from the start.
    pub fn max_spare_workers(mut self, n: usize) -> Builder {
        self.max_spare_workers = n;
        self
    }

    /// Registers every fd in one epoll instance, worker 0's, instead of the
    /// epoll of the worker whose task first waits on it (default off).
    ///
    /// This is the other reactor shape, kept for the measurement recorded in
    /// ARCHITECTURE.md: with it, every event for a task on another worker is a
    /// cross-thread wake.
    pub fn shared_epoll(mut self, on: bool) -> Builder {
        self.shared_epoll = on;
        self
    }

    /// Starts the workers and the monitor.
    ///
    /// # Errors
    ///
    /// The OS error when an epoll instance, an eventfd or a thread cannot be
    /// made (so also for more workers than the fd limit allows);
    /// `InvalidInput` for a stack size past what the address space holds, or
    /// a worker count that overflows.
    pub fn build(self) -> io::Result<Runtime> {
        task::stack::Stack::layout(self.stack_size)?;
        let slots = self
            .workers
            .checked_add(self.max_spare_workers)
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "netpark: workers plus max_spare_workers overflows",
                )
            })?;
        task::stack::install_overflow_handler();
        // Not with_capacity(slots): a count too large to allocate fails
        // below, as an error, when its epolls or threads cannot be made.
        let mut workers = Vec::with_capacity(slots.min(1024));
        for index in 0..slots {
            let (inbox_tx, inbox_rx) = crossbeam_channel::unbounded();
            let spare = index >= self.workers;
            workers.push(Arc::new(WorkerShared {
                index,
                spare,
                on: AtomicBool::new(!spare),
                inbox_tx,
                inbox_rx,
                poller: Poller::new()?,
                runnext: NewTaskSlot::default(),
                unstarted: Mutex::new(UnstartedQueue::default()),
                closed: AtomicBool::new(false),
                stealable_len: AtomicUsize::new(0),
                unstarted_len: AtomicUsize::new(0),
                seq_hint: AtomicU64::new(0),
                stuck_since: AtomicU64::new(0),
                sleeping: AtomicBool::new(spare),
                running: AtomicU64::new(0),
                tid: AtomicI32::new(0),
                counters: stats::register(),
            }));
        }
        let shared_poller = self.shared_epoll.then(|| workers[0].poller.clone());
        let shared = Arc::new(RuntimeShared {
            id: NEXT_RUNTIME_ID.fetch_add(1, Ordering::Relaxed),
            name: self.name.clone(),
            workers,
            regular: self.workers,
            spare_threads: Mutex::new(Vec::new()),
            spares_exhausted: AtomicBool::new(false),
            epoch: Instant::now(),
            stack_size: self.stack_size,
            stuck_threshold: self.stuck_threshold,
            shared_poller,
            next_worker: AtomicUsize::new(0),
            shutdown: AtomicBool::new(false),
            can_spin: self.workers > 1
                && thread::available_parallelism().map_or(1, |n| n.get()) > 1,
            names: Mutex::new(HashMap::new()),
        });
        {
            let mut all = RUNTIMES.lock();
            all.retain(|w| w.strong_count() > 0);
            all.push(Arc::downgrade(&shared));
        }
        let mut threads = Vec::new();
        for index in 0..self.workers {
            let s = shared.clone();
            let t = thread::Builder::new()
                .name(format!("{}-worker-{index}", self.name))
                .spawn(move || worker::run(s, index));
            match t {
                Ok(t) => threads.push(t),
                Err(e) => {
                    shutdown(&shared, threads, None);
                    return Err(e);
                }
            }
        }
        let s = shared.clone();
        let monitor = thread::Builder::new()
            .name(format!("{}-monitor", self.name))
            .spawn(move || monitor::run(s))?;
        Ok(Runtime {
            handle: Handle { shared },
            threads,
            monitor: Some(monitor),
        })
    }
}

/// A handle to a runtime: spawn onto it from any thread. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Handle {
    pub(crate) shared: Arc<RuntimeShared>,
}

impl Handle {
    /// The runtime of the calling worker thread, if it is one.
    pub fn try_current() -> Option<Handle> {
        with_local(|l| {
            l.map(|l| Handle {
                shared: l.shared.clone(),
            })
        })
    }

    /// Spawns a task on this runtime, from any thread. On a runtime that has
    /// shut down (or is shutting down) the task never runs and its `join`
    /// returns [`JoinError::Shutdown`].
    ///
    /// # Panics
    ///
    /// When no stack can be mapped; use [`task::Builder::spawn_on`] to get the
    /// error instead.
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        match task::Builder::new().spawn_on(self, f) {
            Ok(h) => h,
            Err(e) => panic!("{e}"),
        }
    }

    /// Number of (regular) worker threads.
    pub fn workers(&self) -> usize {
        self.shared.regular
    }

    /// Lists this runtime's live tasks (see [`dump`]).
    pub fn dump(&self) -> String {
        let mut s = String::new();
        self.shared.dump_into(&mut s);
        s
    }
}

/// A set of worker threads running tasks, with their pollers and a monitor.
///
/// Several runtimes may live in one process. Dropping a runtime shuts it down.
#[derive(Debug)]
pub struct Runtime {
    handle: Handle,
    threads: Vec<thread::JoinHandle<()>>,
    monitor: Option<thread::JoinHandle<()>>,
}

impl Runtime {
    /// A builder with defaults: one worker per core, 256 KiB stacks.
    pub fn builder() -> Builder {
        Builder::default()
    }

    /// A runtime with the defaults.
    ///
    /// # Errors
    ///
    /// As [`Builder::build`].
    pub fn new() -> io::Result<Runtime> {
        Builder::default().build()
    }

    /// The runtime's handle.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// Spawns a task (see [`Handle::spawn`]).
    pub fn spawn<F, T>(&self, f: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.handle.spawn(f)
    }

    /// Runs `f` as a task and blocks the calling thread until it returns.
    ///
    /// # Panics
    ///
    /// Re-raises a panic of `f`; panics when called from inside a task (that
    /// would block a worker: spawn and join instead).
    pub fn block_on<F, T>(&self, f: F) -> T
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        assert!(
            with_local(|l| l.is_none()),
            "netpark: block_on called from a runtime worker; use spawn(...).join() inside tasks"
        );
        match task::Builder::new().name("main").spawn_on(&self.handle, f) {
            Ok(h) => match h.join() {
                Ok(v) => v,
                Err(JoinError::Panicked(p)) => std::panic::resume_unwind(p),
                Err(e) => panic!("netpark: block_on: {e}"),
            },
            Err(e) => panic!("netpark: block_on: {e}"),
        }
    }

    /// Stops the runtime: workers exit, tasks still parked are unwound (their
    /// destructors run, so their sockets close), and joiners of unfinished tasks
    /// get [`JoinError::Shutdown`].
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let threads = std::mem::take(&mut self.threads);
        shutdown(&self.handle.shared, threads, self.monitor.take());
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.stop();
    }
}

fn shutdown(
    shared: &Arc<RuntimeShared>,
    threads: Vec<thread::JoinHandle<()>>,
    monitor: Option<thread::JoinHandle<()>>,
) {
    shared.shutdown.store(true, Ordering::Release);
    for w in &shared.workers {
        w.poller.wake();
    }
    let me = thread::current().id();
    for t in threads {
        if t.thread().id() != me {
            let _ = t.join();
        }
    }
    if let Some(m) = monitor {
        // The monitor parks with a timeout and re-reads `shutdown` when woken.
        m.thread().unpark();
        let _ = m.join();
    }
    // Only the monitor starts spares, and it has stopped.
    let spares = std::mem::take(&mut *shared.spare_threads.lock());
    for t in spares {
        if t.thread().id() != me {
            let _ = t.join();
        }
    }
    for w in &shared.workers {
        w.poller.kill();
        // Unstarted tasks dropped here are abandoned by NewTask's drop, so
        // their joiners get `Shutdown` (task/context.rs).
        w.closed.store(true, Ordering::SeqCst);
        w.drain_unstarted();
        while w.inbox_rx.try_recv().is_ok() {}
    }
    shared.names.lock().clear();
}

/// Starts a runtime with the defaults, runs `f` as its first task, shuts the
/// runtime down and returns `f`'s value (Go's `main` with goroutines).
///
/// # Panics
///
/// When the runtime cannot start, and re-raises a panic of `f`.
///
/// # Examples
///
/// ```
/// let answer = netpark_runtime::run(|| {
///     let h = netpark_runtime::spawn(|| 21 * 2);
///     h.join().unwrap()
/// });
/// assert_eq!(answer, 42);
/// ```
pub fn run<F, T>(f: F) -> T
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let rt = Runtime::new().unwrap_or_else(|e| panic!("netpark: cannot start the runtime: {e}"));
    rt.block_on(f)
}

#[cfg(test)]
mod tests {
    //! The inbox side of a wake from another thread (task/park.rs).

    use super::*;
    use crate::task::park::current_unparker;

    #[test]
    fn wakes_of_a_busy_task_from_a_thread_keep_one_message_in_flight() {
        let rt = Runtime::builder().workers(1).build().unwrap();
        let slot = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2) = (slot.clone(), stop.clone());
        // The task holds its worker, so the worker reads no message meanwhile.
        let h = rt.spawn(move || {
            *s2.lock() = Some(current_unparker());
            while !st2.load(Ordering::SeqCst) {
                std::hint::spin_loop();
            }
        });
        let u = loop {
            if let Some(u) = slot.lock().take() {
                break u;
            }
            thread::yield_now();
        };
        for _ in 0..10_000 {
            u.unpark();
        }
        let in_flight = rt.handle.shared.workers[0].inbox_rx.len();
        stop.store(true, Ordering::SeqCst);
        h.join().unwrap();
        assert_eq!(in_flight, 1, "one wake message, not one per unpark");
    }
}
