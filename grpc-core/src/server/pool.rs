//! The worker pool (grpcio's `ThreadPoolExecutor`): at most `max_workers`
//! threads run blocking handlers' code at once; they never drive a socket.
//!
//! `max_workers` bounds handlers *running user code*, not handlers waiting
//! on the network, so a few slow peers cannot take the server offline:
//!
//! - A blocking handler runs as a future polled by a worker ([`spawn`]):
//!   when it waits inside the framework for the stream to take the next
//!   response (a peer that does not read), the poll returns and the worker
//!   takes other work; the stream's wake-up queues the handler again.
//! - A handler parked inside user code on the network (the blocking
//!   `Requests::next`) gives its slot up while it waits ([`park`]); a
//!   temporary thread takes the slot, up to a hard cap of parked threads.
//!   Past the cap a parked handler keeps its slot (the old behaviour).
//!
//! Waking a thread costs two context switches (on a busy core the woken
//! worker also preempts the I/O thread that queued the job), so a job wakes
//! a worker only when no worker will take it soon: none is looking for
//! work (spinning, or woken and not yet running) and none is running a job
//! it will come back from. A burst of jobs is drained by the worker that is
//! awake. What keeps a long-running handler from stalling the jobs queued
//! behind it is the **stall watch**: a thread that, while jobs are queued,
//! looks every [`STALL_CHECK`] and wakes another worker when a job queued
//! before its last look is still waiting (at most one wake-up per look) and
//! either no running handler took a job since (they are stuck) or fewer
//! handlers run than there are CPUs (a busy core needs no second thread).
//!
//! [`spawn`]: WorkerPool::spawn

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Wake, Waker};
use std::time::Duration;

/// Work for a worker: a closure, or a pool future to poll (no box per
/// wake-up).
enum Job {
    /// A closure (the pool's own tests).
    #[cfg(test)]
    Once(Box<dyn FnOnce() + Send + 'static>),
    Poll(Arc<PoolTask>),
}

impl Job {
    fn run(self) {
        match self {
            #[cfg(test)]
            Job::Once(job) => job(),
            Job::Poll(task) => task.run(),
        }
    }
}

/// How many times a worker that found no job yields the CPU and looks
/// again before it sleeps: under load the next job usually arrives within
/// a few yields, and a worker that is awake needs no wake-up (two futex
/// calls and two context switches per job otherwise). One worker at a
/// time spins.
const SPINS_BEFORE_PARK: u32 = 16;

/// A future run on the pool.
pub(crate) type PoolFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// How often the stall watch looks at the queue while jobs wait: a job
/// that waited longer than this (at most twice this) behind running
/// handlers gets a worker of its own.
const STALL_CHECK: Duration = Duration::from_millis(1);

/// How often the stall watch looks at the queue while it sleeps: the
/// pool's rules wake it whenever a job is queued behind running handlers,
/// and this bounds what any wake-up missed by them could cost (a job waits
/// at most this long plus one [`STALL_CHECK`], never forever).
const ASLEEP_LOOK: Duration = Duration::from_millis(100);

/// Threads beyond `max_workers` linger this long without work, then exit.
const SPARE_THREAD_IDLE: Duration = Duration::from_secs(30);

/// A lazily grown pool of threads taking jobs from one queue.
#[derive(Clone)]
pub(crate) struct WorkerPool {
    shared: Arc<PoolShared>,
}

struct PoolShared {
    state: Mutex<PoolState>,
    /// Idle workers wait here for a job and a free slot.
    available: Condvar,
    /// Parked handlers whose wait is over wait here for a free slot.
    slot_free: Condvar,
    /// The stall watch sleeps here while no job is queued.
    watch_wake: Condvar,
    max_workers: usize,
    max_parked: usize,
    /// CPUs this process may use: while the running handlers make
    /// progress, the watch adds workers only up to this many.
    cpus: usize,
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// Workers awake and looking for a job (at most one).
    spinning: usize,
    /// Idle workers notified and not yet awake.
    notified: usize,
    /// Threads started and not yet looking at the queue.
    starting: usize,
    /// Slots in use: threads running user code (at most `max_workers`).
    running: usize,
    /// Handlers waiting on the network without a slot.
    parked: usize,
    /// Handlers whose wait is over, queued for a slot; they go before
    /// new jobs.
    resuming: usize,
    shutdown: bool,
    /// Jobs queued since the start, and jobs taken: what the stall watch
    /// compares between two looks.
    queued_total: u64,
    taken_total: u64,
    watch: Watch,
}

/// Where the stall watch stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// Not started (no worker thread yet).
    Absent,
    /// Asleep until a job is queued behind a running handler.
    Asleep,
    /// Looking every [`STALL_CHECK`].
    Watching,
}

impl PoolState {
    fn can_start_job(&self, max_workers: usize) -> bool {
        !self.jobs.is_empty() && self.running < max_workers && self.resuming == 0
    }

    /// Workers that will look at the queue without a wake-up.
    fn seeking(&self) -> usize {
        self.spinning + self.notified + self.starting
    }
}

thread_local! {
    /// The pool whose slot this thread holds while it runs a job.
    static SLOT: RefCell<Option<WorkerPool>> = const { RefCell::new(None) };
}

impl WorkerPool {
    /// A pool running at most `max_workers` handlers' code at once, with
    /// up to `max_parked` more threads parked on the network.
    pub(crate) fn new(max_workers: usize, max_parked: usize) -> WorkerPool {
        WorkerPool {
            shared: Arc::new(PoolShared {
                state: Mutex::new(PoolState {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    spinning: 0,
                    notified: 0,
                    starting: 0,
                    running: 0,
                    parked: 0,
                    resuming: 0,
                    shutdown: false,
                    queued_total: 0,
                    taken_total: 0,
                    watch: Watch::Absent,
                }),
                available: Condvar::new(),
                slot_free: Condvar::new(),
                watch_wake: Condvar::new(),
                max_workers: max_workers.max(1),
                max_parked,
                cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Jobs run outside the lock, so poisoning cannot leave it inconsistent.
        self.shared
            .state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    fn max_threads(&self) -> usize {
        self.shared.max_workers + self.shared.max_parked
    }

    /// Queues `job`; it runs when a worker and a slot are free.
    #[cfg(test)]
    pub(crate) fn submit(&self, job: impl FnOnce() + Send + 'static) {
        self.push(Job::Once(Box::new(job)));
    }

    fn push(&self, job: Job) {
        let mut state = self.lock();
        state.jobs.push_back(job);
        state.queued_total += 1;
        if state.seeking() > 0 {
            // A worker between jobs takes it.
            return;
        }
        if state.running > 0 {
            // A worker comes back for it after its job; if that job runs
            // long, the stall watch wakes another.
            self.arm_watch(&mut state);
            return;
        }
        self.wake_worker(state);
    }

    /// Runs `future` on the pool: polled by a worker, and queued again by
    /// its waker whenever it returned `Pending`.
    pub(crate) fn spawn(&self, future: PoolFuture) {
        let task = Arc::new(PoolTask {
            future: Mutex::new(Some(future)),
            scheduled: AtomicBool::new(true),
            pool: self.clone(),
        });
        self.push(Job::Poll(task));
    }

    /// Wakes the stall watch if it sleeps: jobs are queued behind running
    /// ones.
    fn arm_watch(&self, state: &mut PoolState) {
        if state.watch == Watch::Asleep {
            state.watch = Watch::Watching;
            self.shared.watch_wake.notify_one();
        }
    }

    /// Makes sure a worker will look at the queue when a job can start
    /// and no worker is looking: an idle one is woken, or a thread started.
    fn wake_worker(&self, state: MutexGuard<'_, PoolState>) {
        if !state.can_start_job(self.shared.max_workers) || state.seeking() > 0 {
            return;
        }
        self.wake_one(state);
    }

    /// Wakes an idle worker, or starts a thread (and the stall watch with
    /// the first one).
    fn wake_one(&self, mut state: MutexGuard<'_, PoolState>) {
        if state.idle > state.notified || state.threads >= self.max_threads() {
            state.notified += usize::from(state.idle > state.notified);
            drop(state);
            self.shared.available.notify_one();
            return;
        }
        state.threads += 1;
        // Counted as looking until it looks: the jobs queued meanwhile
        // (a burst) start no thread each.
        state.starting += 1;
        let start_watch = state.watch == Watch::Absent;
        if start_watch {
            state.watch = Watch::Watching;
        }
        drop(state);
        self.start_thread(
            "grpc-worker",
            |pool| pool.work(),
            || {
                let mut state = self.lock();
                state.threads -= 1;
                state.starting -= 1;
            },
        );
        if start_watch {
            self.start_thread(
                "grpc-pool-watch",
                |pool| pool.watch(),
                || {
                    self.lock().watch = Watch::Absent;
                },
            );
        }
    }

    fn start_thread(&self, name: &str, body: fn(WorkerPool), failed: impl FnOnce()) {
        let pool = self.clone();
        let started = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || body(pool));
        if let Err(error) = started {
            tracing::error!(%error, "cannot start a {name} thread");
            failed();
        }
    }

    /// The stall watch: while jobs are queued, looks every [`STALL_CHECK`]
    /// and wakes a worker when a job queued before the previous look is
    /// still waiting; asleep while the queue is empty.
    fn watch(self) {
        let mut state = self.lock();
        let mut queued_at_last_look = state.queued_total;
        let mut taken_at_last_look = state.taken_total;
        while !state.shutdown {
            if state.jobs.is_empty() {
                state.watch = Watch::Asleep;
                while state.watch == Watch::Asleep && !state.shutdown {
                    state = self
                        .shared
                        .watch_wake
                        .wait_timeout(state, ASLEEP_LOOK)
                        .unwrap_or_else(|poison| poison.into_inner())
                        .0;
                    if !state.jobs.is_empty() {
                        // Queued with no one arming the watch: look at
                        // them as if they had waited a whole check.
                        state.watch = Watch::Watching;
                    }
                }
                queued_at_last_look = state.queued_total;
                taken_at_last_look = state.taken_total;
                continue;
            }
            state = self
                .shared
                .watch_wake
                .wait_timeout(state, STALL_CHECK)
                .unwrap_or_else(|poison| poison.into_inner())
                .0;
            // A job has waited a whole look. Another worker helps if the
            // running ones are stuck (none took a job since the last look:
            // handlers blocked on something), or if they progress but
            // leave CPUs idle; with every CPU busy, one more thread only
            // adds context switches.
            let stalled = state.taken_total < queued_at_last_look;
            let progressing = state.taken_total > taken_at_last_look;
            queued_at_last_look = state.queued_total;
            taken_at_last_look = state.taken_total;
            let helps = !progressing || state.running < self.shared.cpus;
            if stalled && helps && state.can_start_job(self.shared.max_workers) {
                self.wake_one(state);
                state = self.lock();
            }
        }
    }

    fn wait<'a>(
        &self,
        condvar: &Condvar,
        state: MutexGuard<'a, PoolState>,
    ) -> MutexGuard<'a, PoolState> {
        condvar
            .wait(state)
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Gives a slot back: a resuming handler gets it first, else a job.
    fn release_slot(&self, mut state: MutexGuard<'_, PoolState>) {
        state.running -= 1;
        if state.resuming > 0 {
            drop(state);
            self.shared.slot_free.notify_one();
        } else {
            self.wake_worker(state);
        }
    }

    /// Jobs waiting for a free worker.
    pub(crate) fn queued(&self) -> usize {
        self.lock().jobs.len()
    }

    /// Lets idle workers exit once the queue is empty.
    pub(crate) fn shutdown(&self) {
        self.lock().shutdown = true;
        self.shared.available.notify_all();
        self.shared.watch_wake.notify_all();
    }

    fn work(self) {
        let mut state = self.lock();
        state.starting -= 1;
        while let Some(job) = self.next_job(state) {
            SLOT.with(|slot| *slot.borrow_mut() = Some(self.clone()));
            job.run();
            SLOT.with(|slot| *slot.borrow_mut() = None);
            // This thread takes the next job itself, under the same lock
            // (so no job queued meanwhile wakes another worker); only a
            // resuming handler needs telling that the slot is free.
            state = self.lock();
            state.running -= 1;
            if state.resuming > 0 {
                drop(state);
                self.shared.slot_free.notify_one();
                state = self.lock();
            }
        }
    }

    /// Waits for a job this thread may start (taking a slot), or `None`
    /// when the thread should exit; the lock is released either way.
    fn next_job<'a>(&'a self, mut state: MutexGuard<'a, PoolState>) -> Option<Job> {
        let mut spins = 0;
        loop {
            if state.can_start_job(self.shared.max_workers) {
                state.running += 1;
                state.taken_total += 1;
                let job = state.jobs.pop_front();
                if !state.jobs.is_empty() {
                    // The jobs behind this one were queued for this
                    // worker; if this job runs long, the watch must see
                    // them wait.
                    self.arm_watch(&mut state);
                }
                return job;
            }
            if state.shutdown && state.jobs.is_empty() {
                state.threads -= 1;
                return None;
            }
            if spins < SPINS_BEFORE_PARK && state.spinning == 0 {
                spins += 1;
                state.spinning += 1;
                drop(state);
                std::thread::yield_now();
                state = self.lock();
                state.spinning -= 1;
                continue;
            }
            state.idle += 1;
            let (next, waited) = self
                .shared
                .available
                .wait_timeout(state, SPARE_THREAD_IDLE)
                .unwrap_or_else(|poison| poison.into_inner());
            state = next;
            state.idle -= 1;
            // Counted as looking from its notification until now.
            state.notified = state.notified.saturating_sub(1);
            if waited.timed_out()
                && state.threads > self.shared.max_workers
                && !state.can_start_job(self.shared.max_workers)
            {
                state.threads -= 1;
                return None;
            }
        }
    }

    /// Runs `wait` (a wait on the network) with this thread's slot given
    /// back, then takes a slot again before returning to user code.
    fn park_here<R>(&self, wait: impl FnOnce() -> R) -> R {
        let mut state = self.lock();
        if state.parked >= self.shared.max_parked {
            drop(state);
            return wait();
        }
        state.parked += 1;
        self.release_slot(state);
        let result = wait();
        let mut state = self.lock();
        state.parked -= 1;
        state.resuming += 1;
        while state.running >= self.shared.max_workers {
            state = self.wait(&self.shared.slot_free, state);
        }
        state.resuming -= 1;
        state.running += 1;
        // Jobs held back for this resumer may start if slots remain.
        self.wake_worker(state);
        result
    }
}

/// Runs `wait` — a wait on the network inside a blocking handler — without
/// holding a worker slot, when called on a worker thread of a pool; runs it
/// as it is anywhere else.
pub(crate) fn park<R>(wait: impl FnOnce() -> R) -> R {
    match SLOT.with(|slot| slot.borrow().clone()) {
        Some(pool) => {
            SLOT.with(|slot| *slot.borrow_mut() = None);
            let result = pool.park_here(wait);
            SLOT.with(|slot| *slot.borrow_mut() = Some(pool));
            result
        }
        None => wait(),
    }
}

/// A future owned by the pool, polled by whichever worker takes it.
struct PoolTask {
    future: Mutex<Option<PoolFuture>>,
    /// True from a wake-up until the poll it caused begins.
    scheduled: AtomicBool,
    pool: WorkerPool,
}

impl PoolTask {
    fn run(self: Arc<Self>) {
        self.scheduled.store(false, Ordering::Release);
        let waker = Waker::from(Arc::clone(&self));
        let mut slot = self
            .future
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        if let Some(future) = slot.as_mut()
            && future
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_ready()
        {
            *slot = None;
        }
    }
}

impl Wake for PoolTask {
    fn wake(self: Arc<Self>) {
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            let pool = self.pool.clone();
            pool.push(Job::Poll(self));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn runs_jobs_on_at_most_max_workers() {
        let pool = WorkerPool::new(2, 8);
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        for _ in 0..6 {
            let running = Arc::clone(&running);
            let peak = Arc::clone(&peak);
            let done = done_tx.clone();
            pool.submit(Box::new(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
                done.send(()).unwrap();
            }));
        }
        for _ in 0..6 {
            done_rx.recv_timeout(Duration::from_secs(5)).unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
        pool.shutdown();
    }

    /// Lets a pool whose counters a test set by hand run its jobs.
    fn run_queued_for_real(pool: &WorkerPool) {
        {
            let mut state = pool.lock();
            (state.idle, state.notified, state.spinning) = (0, 0, 0);
        }
        pool.wake_worker(pool.lock());
        while pool.queued() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        pool.shutdown();
    }

    #[test]
    fn a_notified_idle_worker_drains_a_burst() {
        // A worker counts as idle until it wakes up and relocks; once
        // notified, it takes every job queued before it runs.
        let pool = WorkerPool::new(4, 0);
        pool.lock().idle = 1; // such a worker
        pool.submit(Box::new(|| {}));
        assert_eq!(pool.lock().notified, 1, "the idle worker is woken");
        pool.submit(Box::new(|| {}));
        assert_eq!(pool.lock().threads, 0, "no second wake-up for a burst");
        assert_eq!(pool.lock().notified, 1);
        run_queued_for_real(&pool);
    }

    #[test]
    fn a_spinning_worker_takes_a_burst_without_a_wake_up() {
        let pool = WorkerPool::new(4, 0);
        pool.lock().spinning = 1; // a worker between two jobs, looking
        pool.submit(Box::new(|| {}));
        pool.submit(Box::new(|| {}));
        assert_eq!(pool.lock().threads, 0, "the spinning worker takes both");
        run_queued_for_real(&pool);
    }

    #[test]
    fn a_thread_being_started_takes_the_burst_behind_its_job() {
        // A burst into an empty pool started a thread per job (33 threads
        // for 256 calls in flight) while the first was still starting.
        let pool = WorkerPool::new(4, 0);
        pool.lock().starting = 1; // a thread on its way to the queue
        pool.submit(Box::new(|| {}));
        pool.submit(Box::new(|| {}));
        assert_eq!(pool.lock().threads, 0, "no thread per queued job");
        pool.lock().starting = 0;
        run_queued_for_real(&pool);
    }

    #[test]
    fn a_job_queued_behind_a_handler_that_blocks_gets_a_worker() {
        // The first job blocks until the second has run. The second is
        // queued while the first runs (no wake-up: a running worker comes
        // back for it), so only the stall watch can give it a worker.
        let pool = WorkerPool::new(2, 0);
        let (started_tx, started_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let first_done = done_tx.clone();
        pool.submit(Box::new(move || {
            started_tx.send(()).unwrap();
            release_rx.recv().unwrap();
            first_done.send("first").unwrap();
        }));
        started_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        pool.submit(Box::new(move || {
            done_tx.send("second").unwrap();
            release_tx.send(()).unwrap();
        }));
        let order = [
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        ];
        assert_eq!(order, ["second", "first"]);
        pool.shutdown();
    }

    /// A pool (4 workers) that ran one job and settled: its worker idle,
    /// its watch asleep on an empty queue.
    fn settled_pool_of_four() -> WorkerPool {
        let pool = WorkerPool::new(4, 0);
        let (warm_tx, warm_rx) = std::sync::mpsc::channel();
        pool.submit(Box::new(move || warm_tx.send(()).unwrap()));
        warm_rx.recv_timeout(Duration::from_secs(10)).unwrap();
        wait_for_state(&pool, |state| {
            state.idle == 1 && state.running == 0 && state.watch == Watch::Asleep
        });
        pool
    }

    /// Waits (bounded) until `ready` holds for the pool's state.
    fn wait_for_state(pool: &WorkerPool, ready: impl Fn(&PoolState) -> bool) {
        let start = std::time::Instant::now();
        while !ready(&pool.lock()) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "pool never settled"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_burst_taken_by_one_worker_is_watched_while_its_first_job_blocks() {
        // A worker that drained a job and went idle, and a watch asleep on
        // an empty queue: then a burst of two arrives for that one worker
        // (no second wake-up). The first job blocks until the second has
        // run, so the second must get another worker through the watch.
        let pool = settled_pool_of_four();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let first_done = done_tx.clone();
        pool.submit(Box::new(move || {
            let _ = release_rx.recv_timeout(Duration::from_secs(10));
            first_done.send("first").unwrap();
        }));
        pool.submit(Box::new(move || {
            done_tx.send("second").unwrap();
            release_tx.send(()).unwrap();
        }));
        let order = [
            done_rx.recv_timeout(Duration::from_secs(20)).unwrap(),
            done_rx.recv_timeout(Duration::from_secs(20)).unwrap(),
        ];
        assert_eq!(order, ["second", "first"]);
        pool.shutdown();
    }

    #[test]
    fn a_job_no_rule_woke_anyone_for_is_found_by_the_sleeping_watch() {
        // A miscounted "worker on its way" (as a lost wake-up would leave)
        // makes a submit wake no one; the watch's periodic look while it
        // sleeps still gets the job a worker.
        let pool = settled_pool_of_four();
        pool.lock().notified = 1; // a wake-up counted but never delivered
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        pool.submit(Box::new(move || done_tx.send(()).unwrap()));
        done_rx
            .recv_timeout(Duration::from_secs(20))
            .expect("the job ran");
        pool.shutdown();
    }

    #[test]
    fn a_parked_handler_frees_its_slot_for_other_jobs() {
        // One worker slot; the first job parks on a "network" wait that
        // only the second job can end. Without parking this deadlocks.
        let pool = WorkerPool::new(1, 4);
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let first_done = done_tx.clone();
        pool.submit(Box::new(move || {
            park(|| release_rx.recv().unwrap());
            first_done.send("first").unwrap();
        }));
        pool.submit(Box::new(move || {
            release_tx.send(()).unwrap();
            done_tx.send("second").unwrap();
        }));
        let mut order = vec![
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        ];
        order.sort_unstable();
        assert_eq!(order, ["first", "second"]);
        pool.shutdown();
    }

    #[test]
    fn parking_is_capped() {
        // No parked threads allowed: the parked job keeps its slot, so the
        // second job runs only after the first ends.
        let pool = WorkerPool::new(1, 0);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let first_done = done_tx.clone();
        pool.submit(Box::new(move || {
            park(|| std::thread::sleep(Duration::from_millis(50)));
            first_done.send("first").unwrap();
        }));
        pool.submit(Box::new(move || done_tx.send("second").unwrap()));
        let order = [
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
            done_rx.recv_timeout(Duration::from_secs(10)).unwrap(),
        ];
        assert_eq!(order, ["first", "second"]);
        pool.shutdown();
    }

    #[test]
    fn a_pending_future_gives_its_worker_back_and_resumes_on_wake() {
        let pool = WorkerPool::new(1, 0);
        let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<u32>();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let first_done = done_tx.clone();
        pool.spawn(Box::pin(async move {
            let value = gate_rx.await.unwrap();
            first_done.send(value).unwrap();
        }));
        // The only worker is free while the future waits.
        pool.submit(Box::new(move || {
            gate_tx.send(7).unwrap();
            done_tx.send(1).unwrap();
        }));
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)).unwrap(), 1);
        assert_eq!(done_rx.recv_timeout(Duration::from_secs(10)).unwrap(), 7);
        pool.shutdown();
    }
}
