//! [`Completion`]: a value that appears once, waited for by blocking threads
//! (with timeouts) and by callbacks.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

type Callback = Box<dyn FnOnce() + Send + 'static>;

/// A write-once slot shared between the producer (an I/O task) and waiters.
pub(crate) struct Completion<T> {
    shared: Arc<Slot<T>>,
}

/// The slot itself, for embedding in a larger shared struct (one
/// allocation instead of one per slot).
pub(crate) struct Slot<T> {
    state: Mutex<State<T>>,
    ready: Condvar,
}

impl<T> std::ops::Deref for Completion<T> {
    type Target = Slot<T>;

    fn deref(&self) -> &Slot<T> {
        &self.shared
    }
}

struct State<T> {
    value: Option<T>,
    callbacks: Vec<Callback>,
    wakers: Vec<Waker>,
}

impl<T> Clone for Completion<T> {
    fn clone(&self) -> Self {
        Completion {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Completion<T> {
    pub(crate) fn new() -> Completion<T> {
        Completion {
            shared: Arc::new(Slot::new()),
        }
    }
}

impl<T> Slot<T> {
    pub(crate) fn new() -> Slot<T> {
        Slot {
            state: Mutex::new(State {
                value: None,
                callbacks: Vec::new(),
                wakers: Vec::new(),
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        // A panicking callback never runs under the lock, so poisoning only
        // means another waiter panicked; the state itself stays consistent.
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    /// Stores the value (the first one wins) and runs the callbacks.
    /// Returns false when a value was already there.
    pub(crate) fn complete(&self, value: T) -> bool {
        let (callbacks, wakers) = {
            let mut state = self.lock();
            if state.value.is_some() {
                return false;
            }
            state.value = Some(value);
            (
                std::mem::take(&mut state.callbacks),
                std::mem::take(&mut state.wakers),
            )
        };
        self.ready.notify_all();
        for waker in wakers {
            waker.wake();
        }
        for callback in callbacks {
            callback();
        }
        true
    }

    pub(crate) fn is_complete(&self) -> bool {
        self.lock().value.is_some()
    }

    /// Runs `callback` once complete; at once (returning false) if it already is.
    pub(crate) fn on_complete(&self, callback: Callback) -> bool {
        {
            let mut state = self.lock();
            if state.value.is_none() {
                state.callbacks.push(callback);
                return true;
            }
        }
        callback();
        false
    }

    /// Registers `callback` unless already complete; never runs it inline.
    pub(crate) fn add_callback_if_pending(&self, callback: Callback) -> bool {
        let mut state = self.lock();
        if state.value.is_none() {
            state.callbacks.push(callback);
            true
        } else {
            false
        }
    }

    /// Applies `f` to the value if there is one.
    pub(crate) fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> Option<R> {
        self.lock().value.as_ref().map(f)
    }

    /// Waits for the value up to `timeout` (forever with `None`) and applies `f`.
    ///
    /// On a worker of a multi-thread tokio runtime the wait hands the
    /// worker's other tasks off first (`block_in_place`), as blocking calls
    /// do: the value is often produced by a task of that same runtime.
    pub(crate) fn wait_with<R>(
        &self,
        timeout: Option<Duration>,
        f: impl FnOnce(&T) -> R,
    ) -> Option<R> {
        if self.is_complete() {
            return self.wait_blocking(timeout, f);
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| self.wait_blocking(timeout, f))
            }
            _ => self.wait_blocking(timeout, f),
        }
    }

    fn wait_blocking<R>(&self, timeout: Option<Duration>, f: impl FnOnce(&T) -> R) -> Option<R> {
        let deadline = timeout.map(|timeout| Instant::now() + timeout);
        let mut state = self.lock();
        loop {
            if let Some(value) = &state.value {
                return Some(f(value));
            }
            state = match deadline {
                None => self
                    .ready
                    .wait(state)
                    .unwrap_or_else(|poison| poison.into_inner()),
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return None;
                    }
                    self.ready
                        .wait_timeout(state, deadline - now)
                        .unwrap_or_else(|poison| poison.into_inner())
                        .0
                }
            };
        }
    }
}

impl<T> Slot<T> {
    /// Async waiting: ready with `f(value)` once complete.
    pub(crate) fn poll_with<R>(&self, cx: &mut Context<'_>, f: impl FnOnce(&T) -> R) -> Poll<R> {
        let mut state = self.lock();
        match &state.value {
            Some(value) => Poll::Ready(f(value)),
            None => {
                if !state.wakers.iter().any(|waker| waker.will_wake(cx.waker())) {
                    state.wakers.push(cx.waker().clone());
                }
                Poll::Pending
            }
        }
    }

    /// Waits asynchronously for the value and applies `f`.
    pub(crate) async fn wait_async<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        let mut f = Some(f);
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            match &state.value {
                Some(value) => match f.take() {
                    Some(f) => Poll::Ready(f(value)),
                    None => Poll::Pending,
                },
                None => {
                    if !state.wakers.iter().any(|waker| waker.will_wake(cx.waker())) {
                        state.wakers.push(cx.waker().clone());
                    }
                    Poll::Pending
                }
            }
        })
        .await
    }
}

impl<T: Clone> Slot<T> {
    /// Waits for the value up to `timeout` and clones it.
    pub(crate) fn wait(&self, timeout: Option<Duration>) -> Option<T> {
        self.wait_with(timeout, T::clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn waits_times_out_and_runs_callbacks() {
        let completion = Completion::<u32>::new();
        assert_eq!(completion.wait(Some(Duration::from_millis(10))), None);
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        assert!(completion.on_complete(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })));
        let producer = completion.clone();
        let thread = std::thread::spawn(move || producer.complete(5));
        assert_eq!(completion.wait(None), Some(5));
        assert!(thread.join().unwrap());
        assert!(!completion.complete(6));
        assert_eq!(completion.wait(None), Some(5));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let counter = Arc::clone(&calls);
        assert!(!completion.on_complete(Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
        })));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
