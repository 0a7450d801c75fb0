//! The worker pool (grpcio's `ThreadPoolExecutor`): at most `max_workers`
//! threads run blocking handlers; they never drive a socket.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A lazily grown pool of threads taking jobs from one queue.
#[derive(Clone)]
pub(crate) struct WorkerPool {
    shared: Arc<PoolShared>,
}

struct PoolShared {
    state: Mutex<PoolState>,
    available: Condvar,
    max_workers: usize,
}

struct PoolState {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    shutdown: bool,
}

impl WorkerPool {
    pub(crate) fn new(max_workers: usize) -> WorkerPool {
        WorkerPool {
            shared: Arc::new(PoolShared {
                state: Mutex::new(PoolState {
                    jobs: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    shutdown: false,
                }),
                available: Condvar::new(),
                max_workers: max_workers.max(1),
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

    /// Queues `job`; it runs when a worker is free.
    pub(crate) fn submit(&self, job: Job) {
        let spawn = {
            let mut state = self.lock();
            state.jobs.push_back(job);
            // An idle worker that was notified counts as idle until it
            // wakes, so compare with the queue: every queued job needs a
            // worker of its own, or two quick submits share one wakeup and
            // the second job waits behind the first.
            if state.jobs.len() > state.idle && state.threads < self.shared.max_workers {
                state.threads += 1;
                true
            } else {
                false
            }
        };
        if spawn {
            let pool = self.clone();
            let started = std::thread::Builder::new()
                .name("grpc-worker".into())
                .spawn(move || pool.work());
            if let Err(error) = started {
                tracing::error!(%error, "cannot start a worker thread");
                self.lock().threads -= 1;
            }
        } else {
            self.shared.available.notify_one();
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
        loop {
            let job = {
                let mut state = self.lock();
                loop {
                    if let Some(job) = state.jobs.pop_front() {
                        break Some(job);
                    }
                    if state.shutdown {
                        break None;
                    }
                    state.idle += 1;
                    state = self
                        .shared
                        .available
                        .wait(state)
                        .unwrap_or_else(|poison| poison.into_inner());
                    state.idle -= 1;
                }
            };
            match job {
                Some(job) => job(),
                None => {
                    self.lock().threads -= 1;
                    return;
                }
            }
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
        let pool = WorkerPool::new(2);
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
        let pool = WorkerPool::new(4);
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
}
