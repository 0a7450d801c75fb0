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
    max_workers: usize,
    max_parked: usize,
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    /// Workers awake and looking for a job (at most one).
    spinning: usize,
    /// Slots in use: threads running user code (at most `max_workers`).
    running: usize,
    /// Handlers waiting on the network without a slot.
    parked: usize,
    /// Handlers whose wait is over, queued for a slot; they go before
    /// new jobs.
    resuming: usize,
    shutdown: bool,
}

impl PoolState {
    fn can_start_job(&self, max_workers: usize) -> bool {
        !self.jobs.is_empty() && self.running < max_workers && self.resuming == 0
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
                    running: 0,
                    parked: 0,
                    resuming: 0,
                    shutdown: false,
                }),
                available: Condvar::new(),
                slot_free: Condvar::new(),
                max_workers: max_workers.max(1),
                max_parked,
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

    /// Makes sure a worker will take the jobs that can start now: an idle
    /// one is woken, or a thread is started.
    fn wake_worker(&self, mut state: MutexGuard<'_, PoolState>) {
        if !state.can_start_job(self.shared.max_workers) || state.jobs.len() <= state.spinning {
            // Nothing can start, or a spinning worker takes it.
            return;
        }
        // An idle worker that was notified counts as idle until it wakes,
        // so compare with the queue: every queued job needs a worker of its
        // own, or two quick submits share one wakeup.
        if state.jobs.len() <= state.idle + state.spinning || state.threads >= self.max_threads() {
            drop(state);
            self.shared.available.notify_one();
            return;
        }
        state.threads += 1;
        drop(state);
        let pool = self.clone();
        let started = std::thread::Builder::new()
            .name("grpc-worker".into())
            .spawn(move || pool.work());
        if let Err(error) = started {
            tracing::error!(%error, "cannot start a worker thread");
            self.lock().threads -= 1;
        }
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
    }

    fn work(self) {
        while let Some(job) = self.next_job() {
            SLOT.with(|slot| *slot.borrow_mut() = Some(self.clone()));
            job.run();
            SLOT.with(|slot| *slot.borrow_mut() = None);
            // This thread takes the next job itself; only a resuming
            // handler needs telling that the slot is free.
            let mut state = self.lock();
            state.running -= 1;
            let resuming = state.resuming > 0;
            drop(state);
            if resuming {
                self.shared.slot_free.notify_one();
            }
        }
    }

    /// Waits for a job this thread may start (taking a slot), or `None`
    /// when the thread should exit.
    fn next_job(&self) -> Option<Job> {
        let mut state = self.lock();
        let mut spins = 0;
        loop {
            if state.can_start_job(self.shared.max_workers) {
                state.running += 1;
                return state.jobs.pop_front();
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
            state = self
                .shared
                .slot_free
                .wait(state)
                .unwrap_or_else(|poison| poison.into_inner());
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

    #[test]
    fn a_notified_idle_worker_takes_one_job_only() {
        // A worker counts as idle until it wakes up and relocks, so right
        // after a submit notified it, it is "idle" yet already promised a job.
        let pool = WorkerPool::new(4, 0);
        pool.lock().idle = 1; // such a worker
        pool.submit(Box::new(|| {}));
        assert_eq!(
            pool.lock().threads,
            0,
            "the idle worker takes the first job"
        );
        pool.submit(Box::new(|| {}));
        assert_eq!(
            pool.lock().threads,
            1,
            "the second job needs its own worker"
        );
        while pool.queued() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        pool.lock().idle -= 1;
        pool.shutdown();
    }

    #[test]
    fn a_spinning_worker_takes_a_job_without_a_wake_up() {
        let pool = WorkerPool::new(4, 0);
        pool.lock().spinning = 1; // a worker between two jobs, looking
        pool.submit(Box::new(|| {}));
        assert_eq!(pool.lock().threads, 0, "the spinning worker takes it");
        pool.submit(Box::new(|| {}));
        assert_eq!(pool.lock().threads, 1, "a second job needs a second worker");
        pool.lock().spinning = 0;
        while pool.queued() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
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
