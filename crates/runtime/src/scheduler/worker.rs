//! One worker thread's loop (Go's `schedule` + `findRunnable`).
//!
//! ```text
//! loop:
//!   every 61st turn: poll the network without blocking, fire timers, read the
//!                    inbox, and run an older stealable spawn first (fairness)
//!   runnext → queue → inbox → expired timers → own stealable → peers' stealable
//!   nothing: sleeping = true; re-check the inbox; epoll_wait until the next timer
//! ```

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use corosensei::CoroutineResult;
use slab::Slab;

use super::{Local, NewTask, Runnable, RuntimeShared, FORCED_UNWIND, LOCAL, STACK_POOL_MAX};
use crate::reactor::PollBuffers;
use crate::task::context::{self, Coro, Switch};
use crate::task::park::unpark_task;
use crate::task::stack::{self, GuardInfo};
use crate::task::{self, Task};
use crate::time::timers::Timers;

/// How often a busy worker polls the network and its inbox (Go's 61).
const FAIRNESS_TICK: u64 = 61;

pub(crate) fn run(shared: Arc<RuntimeShared>, index: usize) {
    let me = shared.workers[index].clone();
    let local = Rc::new(Local {
        shared: shared.clone(),
        me: me.clone(),
        runnext: Default::default(),
        queue: Default::default(),
        seq: std::cell::Cell::new(0),
        timers: std::cell::RefCell::new(Timers::new()),
        stacks: Default::default(),
        current: Default::default(),
    });
    LOCAL.with(|l| *l.borrow_mut() = Some(local.clone()));
    let _alt = stack::AltStack::ensure();
    let mut w = Worker {
        local,
        coros: Slab::new(),
        buf: PollBuffers::new(),
        tick: 0,
    };
    w.run_loop();
    w.exit();
    LOCAL.with(|l| *l.borrow_mut() = None);
}

struct Worker {
    local: Rc<Local>,
    /// Coroutines of the started tasks this worker owns; never leaves this thread.
    coros: Slab<(Coro, (usize, usize))>,
    buf: PollBuffers,
    tick: u64,
}

impl Worker {
    fn run_loop(&mut self) {
        let shared = self.local.shared.clone();
        let me = self.local.me.clone();
        loop {
            if shared.shutdown.load(Ordering::Acquire) {
                return;
            }
            self.tick += 1;
            if self.tick.is_multiple_of(FAIRNESS_TICK) {
                self.poll(Some(Duration::ZERO));
                self.fire_timers();
                self.drain_inbox();
                if let Some(nt) = me.pop_stealable() {
                    self.run_one(Runnable::New(nt));
                    continue;
                }
            }
            if let Some(r) = self.local.pop() {
                self.run_one(r);
                continue;
            }
            if self.drain_inbox() > 0 || self.fire_timers() > 0 {
                continue;
            }
            if let Some(nt) = self.steal() {
                self.run_one(Runnable::New(nt));
                continue;
            }
            // Idle: announce sleep, then re-check everything a waker could have
            // queued before seeing `sleeping`: our inbox (pairs with
            // WorkerShared::send) and peers' stealable queues (pairs with
            // spawn_raw's wake_idle_peer). Each side stores, fences, then loads.
            me.sleeping.store(true, Ordering::SeqCst);
            std::sync::atomic::fence(Ordering::SeqCst);
            let peer_work = shared
                .workers
                .iter()
                .any(|w| w.index != me.index && w.stealable_len.load(Ordering::SeqCst) > 0);
            if peer_work || !me.inbox_rx.is_empty() || shared.shutdown.load(Ordering::SeqCst) {
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

    fn poll(&mut self, timeout: Option<Duration>) {
        if let Err(e) = self.local.me.poller.poll(timeout, &mut self.buf) {
            log::error!(
                "netpark: worker {} epoll_wait failed: {e}",
                self.local.me.index
            );
        }
    }

    fn drain_inbox(&self) -> usize {
        let mut n = 0;
        while let Ok(r) = self.local.me.inbox_rx.try_recv() {
            self.local.push(r);
            n += 1;
        }
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
        for t in due {
            unpark_task(&t);
        }
        n
    }

    /// Takes an unstarted task from our own stealable queue, else half of a peer's.
    fn steal(&self) -> Option<NewTask> {
        let me = &self.local.me;
        if let Some(nt) = me.pop_stealable() {
            return Some(nt);
        }
        for peer in &self.local.shared.workers {
            if peer.index == me.index || peer.stealable_len.load(Ordering::Acquire) == 0 {
                continue;
            }
            let mut taken = peer.steal_half().into_iter();
            if let Some(first) = taken.next() {
                for nt in taken {
                    self.local.push_stealable(nt);
                }
                trace!(
                    "worker {} stole task {} from worker {}",
                    me.index,
                    first.task.id,
                    peer.index
                );
                return Some(first);
            }
        }
        None
    }

    /// Resumes one task until it yields, parks or ends.
    fn run_one(&mut self, r: Runnable) {
        let me = &self.local.me;
        let (task, key) = match r {
            Runnable::New(NewTask { task, body, stack }) => {
                if task.owner.swap(me.index, Ordering::AcqRel) != task::UNSTARTED {
                    panic!("netpark: task {} started twice", task.id);
                }
                let guard = stack.guard();
                let key = self
                    .coros
                    .insert((context::new_coroutine(stack, body), guard));
                task.coro_key.store(key, Ordering::Relaxed);
                (task, key)
            }
            Runnable::Resume(task) => {
                let key = task.coro_key.load(Ordering::Relaxed);
                (task, key)
            }
        };
        let (lo, hi) = self.coros[key].1;
        stack::set_running(GuardInfo {
            lo,
            hi,
            task_id: task.id,
            stack_size: task.stack_size,
            name: task.name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr()),
            name_len: task.name.as_ref().map_or(0, |n| n.len()),
        });
        task.state.store(task::RUNNING, Ordering::Relaxed);
        me.running.store(task.id, Ordering::Relaxed);
        me.counters.switches.add(1);
        // The task's Arc moves into `current` for the run and back out after.
        *self.local.current.borrow_mut() = Some(task);

        let result = self.coros[key].0.resume(());

        me.running.store(0, Ordering::Relaxed);
        let task = self
            .local
            .current
            .borrow_mut()
            .take()
            .expect("the running task is current");
        stack::set_running(GuardInfo::NONE);
        match result {
            CoroutineResult::Yield(Switch::Yield) => {
                task.state.store(task::RUNNABLE, Ordering::Relaxed);
                self.local.push(Runnable::Resume(task));
            }
            CoroutineResult::Yield(Switch::Park) => self.commit_park(task),
            CoroutineResult::Return(()) => self.finish(task, key),
        }
    }

    /// Second phase of `park`: the task is off its stack, so it may now be woken.
    fn commit_park(&self, task: Arc<Task>) {
        task.state.store(task::PARKED_STATE, Ordering::Relaxed);
        if task
            .park
            .compare_exchange(
                task::EMPTY,
                task::PARKED,
                Ordering::AcqRel,
                Ordering::Acquire,
            )
            .is_err()
        {
            // Interleaving 2 of park.rs: a wake arrived during the switch.
            task.state.store(task::RUNNABLE, Ordering::Relaxed);
            self.local.push(Runnable::Resume(task));
        }
    }

    fn finish(&mut self, task: Arc<Task>, key: usize) {
        let stack = self.coros.remove(key).0.into_stack();
        if stack.size() == self.local.shared.stack_size
            && self.local.stacks.borrow().len() < STACK_POOL_MAX
        {
            self.local.stacks.borrow_mut().push(stack);
        }
        self.local.shared.tasks.lock().try_remove(task.table_key);
        self.local.me.counters.tasks_finished.add(1);
        trace!("task {} done", task.id);
        task.finish();
    }

    /// Shutdown: unwind every task still parked here so its destructors run.
    fn exit(&mut self) {
        self.local.runnext.borrow_mut().take();
        self.local.queue.borrow_mut().clear();
        self.local.timers.borrow_mut().clear();
        FORCED_UNWIND.with(|f| f.set(true));
        let coros: Vec<(Coro, (usize, usize))> = self.coros.drain().collect();
        let n = coros.len();
        // Dropping a suspended coroutine unwinds its stack (corosensei's
        // force_unwind); a task's own catch_unwind re-raises it (task/mod.rs).
        drop(coros);
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
    }
}
