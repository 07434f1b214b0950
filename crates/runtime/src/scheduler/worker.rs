//! One worker thread's loop (Go's `schedule` + `findRunnable`).
//!
//! ```text
//! loop:
//!   every 61st turn: poll the network without blocking (if any fd is
//!                    registered), fire timers, read the inbox, and run an
//!                    older unstarted task first (fairness)
//!   runnext → queue/unstarted (older first) → inbox → expired timers
//!           → own unstarted → peers' unstarted (steal)
//!   nothing, fed by the inbox lately and a peer is busy: spin a few µs
//!                    watching the inbox and the peers' unstarted queues
//!   nothing, a spare: read the inbox once more (anything: go round
//!                    again), then with no task left retire (the thread exits)
//!   nothing: sleeping = true; re-check the inbox; epoll_wait until the next timer
//! ```
//!
//! A task that parks (a plain `park`, no commit) while the only runnable
//! task is the one queued entry may take the loop's next step itself, on
//! its own stack, when that step could only be "resume that entry"
//! (`Local::direct_switch`): the fairness tick counts those steps, and on
//! the tick's turn the task switches out to this loop as before.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corosensei::CoroutineResult;

use super::{Local, LocalGuard, Message, Runnable, RuntimeShared, FORCED_UNWIND, STACK_POOL_MAX};
use crate::reactor::{PollBuffers, DISPATCH_CHUNK};
use crate::task::context::{self, NewTask, Switch};
use crate::task::park::unpark_task;
use crate::task::stack;
use crate::task::{self, Task};
use crate::time::timers::Timers;

/// How often a busy worker polls the network and its inbox (Go's 61).
const FAIRNESS_TICK: u64 = 61;

/// How long an idle worker spins before it sleeps (see [`Worker::spin`]):
/// long enough for a busy peer's task to answer a hand-off (about 1 µs), far
/// shorter than waking a sleeping vCPU (20–100 µs on this kind of machine).
const SPIN_FOR: Duration = Duration::from_micros(10);

pub(crate) fn run(shared: Arc<RuntimeShared>, index: usize) {
    let me = shared.workers[index].clone();
    me.tid
        .store(crate::sys::thread::gettid(), Ordering::Relaxed);
    let local = Rc::new(Local {
        shared: shared.clone(),
        me: me.clone(),
        queue: Default::default(),
        seq: std::cell::Cell::new(0),
        timers: std::cell::RefCell::new(Timers::new()),
        stacks: Default::default(),
        tasks: Default::default(),
        free_tasks: Default::default(),
        tick: std::cell::Cell::new(0),
        direct_running: std::cell::Cell::new(false),
    });
    let guard = LocalGuard::set(local.clone());
    if me.spare {
        // A slot used before had its poller killed when its thread retired.
        me.poller.revive();
    }
    let _alt = stack::AltStack::ensure();
    let mut w = Worker {
        local,
        buf: PollBuffers::new(),
        fed_by_inbox: false,
    };
    match w.run_loop() {
        Exit::Shutdown => w.exit(),
        Exit::Retired => trace!("spare worker {index} retired"),
    }
    drop(guard);
}

/// Why a worker loop ended.
enum Exit {
    /// The runtime shuts down: unwind what is left.
    Shutdown,
    /// A spare with nothing left gave its slot back.
    Retired,
}

struct Worker {
    /// The owner-only state, shared with this thread's tasks through `LOCAL`.
    local: Rc<Local>,
    /// Event buffers for `epoll_wait`, reused.
    buf: PollBuffers,
    /// Work came through the inbox (a peer's wake or spawn) since the worker
    /// was last idle: the sign that it may come again soon (see `spin`).
    fed_by_inbox: bool,
}

impl Worker {
    fn run_loop(&mut self) -> Exit {
        let shared = self.local.shared.clone();
        let me = self.local.me.clone();
        loop {
            if shared.shutdown.load(Ordering::Acquire) {
                return Exit::Shutdown;
            }
            let tick = self.local.tick.get() + 1;
            self.local.tick.set(tick);
            if tick.is_multiple_of(FAIRNESS_TICK) {
                self.local.publish_seq();
                // With no fd registered, epoll could only report the eventfd,
                // which an awake worker does not need: skip the syscall (Go's
                // findRunnable polls only if netpollAnyWaiters()).
                if self.local.me.poller.has_fds() {
                    self.poll(Some(Duration::ZERO));
                }
                self.fire_timers();
                self.drain_inbox();
                if let Some(t) = me.pop_unstarted() {
                    self.run_one(Runnable::New(t));
                    continue;
                }
            }
            if let Some(r) = self.local.pop() {
                self.run_one(r);
                continue;
            }
            if self.buf.pending() {
                // The tasks the last chunk woke have run: wake the next.
                self.poll(None);
                continue;
            }
            if self.drain_inbox() > 0 || self.fire_timers() > 0 {
                continue;
            }
            if let Some(t) = self.steal() {
                self.run_one(Runnable::New(t));
                continue;
            }
            if self.spin() {
                continue;
            }
            if me.spare {
                // What the inbox holds now (a wake queues its task here)
                // is work: run it, neither retire nor sleep on it.
                if self.drain_inbox() > 0 {
                    continue;
                }
                if self.retire() {
                    return Exit::Retired;
                }
            }
            // Idle: announce sleep, then re-check everything a waker could have
            // queued before seeing `sleeping`: our inbox (pairs with
            // WorkerShared::send), our unstarted queue (pairs with
            // push_from_outside) and peers' unstarted queues (pairs with
            // spawn_raw's wake_idle_peer). Each side stores, fences, then loads.
            self.local.publish_seq();
            me.sleeping.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            if self.work_came() {
                me.sleeping.store(false, Ordering::SeqCst);
                continue;
            }
            let timeout = self
                .local
                .timers
                .borrow()
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            self.poll(timeout);
            me.sleeping.store(false, Ordering::SeqCst);
        }
    }

    /// Go's spinning M, kept for the case it pays off: a worker that was
    /// handed work through its inbox since it was last idle (a peer woke one
    /// of its tasks, or spawned) watches the inbox and the peers' unstarted
    /// queues for a moment before it sleeps, while a peer is awake
    /// (`RuntimeShared::may_spin`). A spinning worker is not `sleeping`, so the
    /// peer's next hand-off costs a queue push, not an eventfd write plus the
    /// wake-up of an idle vCPU (20–100 µs here): tasks on two workers that
    /// wake each other in turn stay fast. A worker fed only by its own epoll
    /// (an echo server) never spins, so it never takes CPU from others or
    /// delays its own events, which the spin does not watch. Returns whether
    /// work came.
    fn spin(&mut self) -> bool {
        let shared = &self.local.shared;
        let me = &self.local.me;
        if !std::mem::take(&mut self.fed_by_inbox) || !shared.may_spin(me.index) {
            return false;
        }
        let mut until = Instant::now() + SPIN_FOR;
        if let Some(d) = self.local.timers.borrow().next_deadline() {
            until = until.min(d);
        }
        loop {
            for _ in 0..64 {
                if self.work_came() {
                    return true;
                }
                std::hint::spin_loop();
            }
            if Instant::now() >= until {
                return false;
            }
        }
    }

    /// What another thread can hand an idle worker without its epoll: a
    /// message in its inbox, an unstarted task queued here from outside, a
    /// peer's stealable (unpinned) spawn, or shutdown. The loads are SeqCst: before
    /// sleeping they pair with the wakers' fences.
    fn work_came(&self) -> bool {
        let shared = &self.local.shared;
        let me = &self.local.me;
        !me.inbox_rx.is_empty()
            || me.unstarted_len.load(Ordering::SeqCst) > 0
            || shared.peer_has_stealable(me.index)
            || shared.shutdown.load(Ordering::SeqCst)
    }

    /// A spare with no task left gives its slot back (module docs of
    /// scheduler/mod.rs): kill the poller first, so any fd registered here
    /// re-homes before the slot can be started again, then, under the
    /// `unstarted` lock the monitor pushes under, turn off if still nothing
    /// came. Returns whether the worker retired.
    fn retire(&mut self) -> bool {
        let me = self.local.me.clone();
        let nothing_queued =
            || !me.runnext.is_full() && me.unstarted_len.load(Ordering::SeqCst) == 0;
        if !self.local.tasks.borrow().is_empty()
            || !self.local.queue.borrow().is_empty()
            || !nothing_queued()
        {
            return false;
        }
        // Re-homing walks every registered fd: only when some fd lives here.
        if me.poller.has_fds() {
            me.poller.kill();
        }
        let st = me.unstarted.lock();
        if !st.q.is_empty() || me.runnext.is_full() {
            drop(st);
            me.poller.revive();
            return false;
        }
        me.sleeping.store(true, Ordering::SeqCst);
        me.on.store(false, Ordering::Release);
        drop(st);
        me.counters.spare_workers_retired.add(1);
        true
    }

    /// One reactor turn: the next chunk of the last `epoll_wait`'s events
    /// if some are left (without a syscall, and without waiting), else a
    /// new `epoll_wait` of up to `timeout` and its first chunk
    /// (reactor/mod.rs, "One turn").
    fn poll(&mut self, timeout: Option<Duration>) {
        let poller = &self.local.me.poller;
        if self.buf.pending() {
            poller.dispatch(&mut self.buf, DISPATCH_CHUNK);
            return;
        }
        if let Err(e) = poller.poll(timeout, &mut self.buf, DISPATCH_CHUNK) {
            log::error!(
                "netpark: worker {} epoll_wait failed: {e}",
                self.local.me.index
            );
        }
    }

    /// Moves the inbox into the run queue (spawns, and wakes of parked tasks;
    /// a wake of a task that has not parked yet leaves NOTIFIED); answers
    /// dump requests on the way.
    fn drain_inbox(&mut self) -> usize {
        let mut n = 0;
        while let Ok(r) = self.local.me.inbox_rx.try_recv() {
            match r {
                Message::Dump(tx) => self.answer_dump(&tx),
                Message::Wake { key, id } => {
                    let tasks = self.local.tasks.borrow();
                    // A task that finished since is not found (its header may
                    // even be a new task's by now, with another id).
                    if let Some(t) = tasks.get(key).filter(|t| t.id == id) {
                        // Cleared before the wake is applied (task/park.rs).
                        t.wake_pending.swap(false, Ordering::AcqRel);
                        n += usize::from(self.local.wake(t));
                    }
                }
            }
        }
        self.fed_by_inbox |= n > 0;
        n
    }

    fn fire_timers(&self) -> usize {
        let mut due = Vec::new();
        self.local
            .timers
            .borrow_mut()
            .expire(Instant::now(), &mut due);
        let n = due.len();
        if n > 0 {
            self.local.me.counters.timers_fired.add(n as u64);
        }
        let tasks = self.local.tasks.borrow();
        for (key, id) in due {
            // A timer is disarmed by its task before the task can finish, so
            // the key is live; the id check is a second guard.
            if let Some(t) = tasks.get(key).filter(|t| t.id == id) {
                unpark_task(t);
            }
        }
        n
    }

    /// Takes an unstarted task from our own queue, else half of a peer's.
    fn steal(&self) -> Option<NewTask> {
        let me = &self.local.me;
        if let Some(t) = me.pop_unstarted() {
            return Some(t);
        }
        for peer in &self.local.shared.workers {
            if peer.index == me.index || peer.stealable_len.load(Ordering::Acquire) == 0 {
                continue;
            }
            let mut taken = peer.steal_half().into_iter();
            if let Some(first) = taken.next() {
                for t in taken {
                    self.local.push_unstarted(t, false);
                }
                trace!(
                    "worker {} stole task {} from worker {}",
                    me.index,
                    first.id,
                    peer.index
                );
                return Some(first);
            }
        }
        None
    }

    /// Lists this worker's tasks for a `dump()` on another thread.
    fn answer_dump(&self, tx: &crossbeam_channel::Sender<String>) {
        let mut out = String::new();
        self.local.list_tasks(&mut out);
        let _ = tx.send(out);
    }

    /// Makes this worker the owner of an unstarted task: it enters the task
    /// table, which keeps it alive until it returns. Returns its header.
    fn start(&self, task: Arc<Task>) -> *const Task {
        let mut tasks = self.local.tasks.borrow_mut();
        let entry = tasks.vacant_entry();
        let key = entry.key();
        // Every task holds a stack mapping, and a process has far fewer
        // than 2^32 of those (`vm.max_map_count`).
        let key32 = u32::try_from(key).expect("netpark: task table past 2^32 entries");
        task.key.store(key32, Ordering::Relaxed);
        // Only the holder of the NewTask starts a task, so this is the first
        // and only write; it publishes `key` with it. SeqCst: pairs with
        // `JoinHandle::cancel` (task/park.rs).
        debug_assert_eq!(task.owner.load(Ordering::Relaxed), task::UNSTARTED);
        task.owner
            .store(self.local.me.index as u32, Ordering::SeqCst);
        Arc::as_ptr(entry.insert(task))
    }

    /// Resumes one task until it yields, parks or ends.
    fn run_one(&mut self, r: Runnable) {
        let p = match r {
            Runnable::New(nt) => self.start(nt.start()),
            Runnable::Resume(p) => p,
        };
        self.local.resume(p);
    }

    /// Shutdown: unwind every task still parked here so its destructors run.
    fn exit(&mut self) {
        self.local.me.drain_unstarted();
        self.local.queue.borrow_mut().clear();
        self.local.timers.borrow_mut().clear();
        FORCED_UNWIND.with(|f| f.set(true));
        let tasks: Vec<Arc<Task>> = self.local.tasks.borrow_mut().drain().collect();
        let n = tasks.len();
        for t in &tasks {
            // SAFETY: the worker loop has ended, so no task runs, and this
            // worker owns every task in its table. Dropping a suspended coroutine
            // unwinds its stack (corosensei's force_unwind), here on the owner
            // thread; a task's own catch_unwind re-raises it (task/mod.rs).
            drop(unsafe { t.coro.take() });
            t.state.store(task::DONE, Ordering::Release);
            t.join.abandon();
        }
        drop(tasks);
        FORCED_UNWIND.with(|f| f.set(false));
        if n > 0 {
            log::debug!(
                "netpark: worker {} unwound {n} unfinished task(s) at shutdown",
                self.local.me.index
            );
        }
        // Waiters still registered in this poller (threads, other runtimes'
        // tasks) are sent to re-register elsewhere; wakes of our own unwound
        // tasks land in the queue cleared next.
        self.local.me.poller.kill();
        self.local.queue.borrow_mut().clear();
        self.local.stacks.borrow_mut().clear();
        self.local.free_tasks.borrow_mut().clear();
    }
}

impl Local {
    /// Resumes the started task at `p` until it yields, parks or ends, and
    /// does what its switch asks (the worker loop's step, also taken by a
    /// [`direct_switch`](Self::direct_switch)). Inlined into both: called,
    /// it cost the echo server 16 instructions a request.
    #[inline(always)]
    fn resume(&self, p: *const Task) {
        let me = &self.me;
        // SAFETY: `p` is a started task of this worker whose run permission
        // the caller took from the run queue (or just started it), so its
        // `Arc` is in the task table, and nothing removes it before the task
        // returns, which is handled below after the last use of `task`.
        let task = unsafe { context::borrow_task(p) };
        let task = &*task;
        task.state.store(task::RUNNING, Ordering::Relaxed);
        me.running.store(task.id, Ordering::Relaxed);
        me.counters.switches.add(1);
        task::coop::refill();
        context::set_current(Arc::as_ptr(task));
        // SAFETY: this worker holds the task's run permission (it popped the
        // task's only queue entry) and owns the task, and CURRENT is set to it.
        let result = unsafe { task.coro.resume() };
        context::set_current(std::ptr::null());
        me.running.store(0, Ordering::Relaxed);
        match result {
            CoroutineResult::Yield(Switch::Yield) => {
                task.state.store(task::RUNNABLE, Ordering::Relaxed);
                self.push(task);
            }
            // The task set PARKED itself; the wake that finds it queues it.
            CoroutineResult::Yield(Switch::Park) => me.counters.parks.add(1),
            // The same, with the second half of the park run here, off the
            // task's stack; refused, the task is queued to run again. No
            // wake can come in between from this thread, and one from
            // another thread is a message the worker loop applies later.
            CoroutineResult::Yield(Switch::ParkCommit(c)) => {
                if c.run(task) {
                    me.counters.parks.add(1);
                } else {
                    task.park.store(task::EMPTY, Ordering::Relaxed);
                    task.state.store(task::RUNNABLE, Ordering::Relaxed);
                    self.push(task);
                }
            }
            CoroutineResult::Return(()) => {
                self.finish(task.key.load(Ordering::Relaxed) as usize);
            }
        }
    }

    fn finish(&self, key: usize) {
        let task = self.tasks.borrow_mut().remove(key);
        // SAFETY: the task returned, so its coroutine is not running, and the
        // run permission stays with this worker for good.
        let coro = unsafe { task.coro.take() }.expect("a returned task has its coroutine");
        let stack = coro.into_stack();
        if stack.size() == self.shared.stack_size && self.stacks.borrow().len() < STACK_POOL_MAX {
            self.stacks.borrow_mut().push(stack);
        }
        task.state.store(task::DONE, Ordering::Release);
        if task.name.is_some() {
            self.shared.names.lock().remove(&task.id);
        }
        self.me.counters.tasks_finished.add(1);
        trace!("task {} done", task.id);
        // A detached task (its handle dropped) is unreferenced now.
        self.recycle(task);
    }

    /// The direct switch: called by the running task `parked`, marked
    /// PARKED and about to switch out with `Switch::Park`, it takes the
    /// worker loop's next step right here, on the parking task's stack, when
    /// that step is sure to be "resume the one task in the run queue":
    /// nothing else queued or unstarted, no `runnext`, and not the turn on
    /// which the loop polls its fds, timers and inbox (the fairness tick
    /// counts direct switches too, so that turn comes as often as before).
    /// Go gets part of this with `runnext`, which runs a goroutine readied by
    /// a channel next, still through the scheduler's own stack.
    ///
    /// The task run here comes back to this frame when it parks, yields or
    /// ends (its coroutine was resumed from here). If it woke `parked`, whose
    /// entry is then the only one in the queue, `parked` takes that entry and
    /// returns `true`: it runs on without having switched out, so a channel
    /// ping-pong makes one switch each way where it made two through the
    /// worker loop. Otherwise (`false`) the caller switches out as it would
    /// have, and its entry, if it has one, runs it in its turn.
    ///
    /// Never nested: the task run here has `direct_running` set, so its own
    /// parks switch out normally, back to this frame. The run permission
    /// moves as in the worker loop: the entry popped here is the task's
    /// only one, on its owner's thread.
    pub(crate) fn direct_switch(&self, parked: &Task) -> bool {
        if self.direct_running.get() {
            return false;
        }
        let tick = self.tick.get() + 1;
        if tick.is_multiple_of(FAIRNESS_TICK)
            || self.me.runnext.is_full()
            || self.me.unstarted_len.load(Ordering::Acquire) > 0
        {
            return false;
        }
        let Some(next) = self.pop_only(None) else {
            return false;
        };
        // A running task has no queue entry: a wake while it runs leaves
        // NOTIFIED (task/park.rs), which its park consumed before this.
        debug_assert!(!std::ptr::eq(next, parked), "a running task was queued");
        self.tick.set(tick);
        self.me.counters.direct_switches.add(1);
        self.direct_running.set(true);
        self.resume(next);
        self.direct_running.set(false);
        context::set_current(parked);
        self.me.running.store(parked.id, Ordering::Relaxed);
        if self.pop_only(Some(parked)).is_some() {
            // Woken by the task run here (EMPTY, queued): run on.
            parked.state.store(task::RUNNING, Ordering::Relaxed);
            return true;
        }
        // Still parked, or queued behind others: switch out as usual.
        false
    }

    /// Takes the run queue's entry if it is the only one (and, with
    /// `expect`, that task's).
    fn pop_only(&self, expect: Option<&Task>) -> Option<*const Task> {
        let mut q = self.queue.borrow_mut();
        let only =
            q.len() == 1 && expect.is_none_or(|t| q.front() == Some(t as *const Task as usize));
        only.then(|| q.pop().expect("one entry") as *const Task)
    }
}
