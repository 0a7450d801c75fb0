//! How long a server keeps one connection (grpcio's
//! `grpc.max_connection_idle_ms`, `grpc.max_connection_age_ms` and
//! `grpc.max_connection_age_grace_ms`): a connection with no RPCs for the
//! idle time, or older than its age, is sent GOAWAY so the client moves
//! its next calls to a new connection (how clients re-balance behind load
//! balancers); RPCs still running get the grace period, then are reset.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

/// The limits, all off by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct ConnectionLimits {
    pub(crate) max_idle: Option<Duration>,
    pub(crate) max_age: Option<Duration>,
    pub(crate) max_age_grace: Option<Duration>,
}

/// Why a connection is being closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Retire {
    /// No RPC for `max_idle`.
    Idle,
    /// Older than `max_age`.
    Aged,
}

/// Counts a connection's RPCs in flight; each RPC task holds a
/// [`StreamGuard`].
#[derive(Clone)]
pub(crate) struct StreamCount(watch::Sender<usize>);

impl StreamCount {
    pub(crate) fn new() -> StreamCount {
        StreamCount(watch::Sender::new(0))
    }

    /// Counts one more RPC until the guard is dropped.
    pub(crate) fn guard(&self) -> StreamGuard {
        self.0.send_modify(|count| *count += 1);
        StreamGuard(self.0.clone())
    }

    fn watch(&self) -> watch::Receiver<usize> {
        self.0.subscribe()
    }
}

/// One RPC in flight on a connection.
pub(crate) struct StreamGuard(watch::Sender<usize>);

impl Drop for StreamGuard {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count = count.saturating_sub(1));
    }
}

impl ConnectionLimits {
    /// Completes when the connection should be sent GOAWAY.
    pub(crate) async fn retire(self, streams: &StreamCount, opened: Instant) -> Retire {
        let aged = async {
            match self.max_age {
                Some(age) => sleep_until(opened + jittered(age)).await,
                None => std::future::pending().await,
            }
        };
        let idle = async {
            match self.max_idle {
                Some(idle) => wait_idle(streams.watch(), idle).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = aged => Retire::Aged,
            () = idle => Retire::Idle,
        }
    }

    /// Completes when RPCs still running after GOAWAY have had their grace.
    pub(crate) async fn grace_over(self) {
        match self.max_age_grace {
            Some(grace) => sleep(grace).await,
            None => std::future::pending().await,
        }
    }
}

/// Completes once the count has stayed at zero for `idle`.
async fn wait_idle(mut count: watch::Receiver<usize>, idle: Duration) {
    loop {
        let quiet = count.wait_for(|count| *count == 0).await.is_ok();
        if !quiet {
            return std::future::pending().await;
        }
        let busy = async { count.wait_for(|count| *count > 0).await.is_ok() };
        tokio::select! {
            () = sleep(idle) => return,
            open = busy => {
                if !open {
                    return std::future::pending().await;
                }
            }
        }
    }
}

/// `age` ± 10%, so connections opened together do not all close together
/// (as gRPC core does).
fn jittered(age: Duration) -> Duration {
    let spread = age.as_millis() as u64 / 10;
    if spread == 0 {
        return age;
    }
    // A cheap, dependency-free spread: the clock's nanoseconds.
    let noise = u64::from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |now| now.subsec_nanos()),
    );
    let offset = noise % (2 * spread + 1);
    (age + Duration::from_millis(offset)).saturating_sub(Duration::from_millis(spread))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_ten_percent() {
        for _ in 0..100 {
            let age = jittered(Duration::from_secs(10));
            assert!(
                age >= Duration::from_secs(9) && age <= Duration::from_secs(11),
                "{age:?}"
            );
        }
        assert_eq!(jittered(Duration::from_millis(5)), Duration::from_millis(5));
    }

    #[tokio::test(start_paused = true)]
    async fn idle_counts_only_time_without_rpcs() {
        let streams = StreamCount::new();
        let limits = ConnectionLimits {
            max_idle: Some(Duration::from_secs(10)),
            ..ConnectionLimits::default()
        };
        let guard = streams.guard();
        let started = Instant::now();
        let retire = tokio::spawn({
            let streams = streams.clone();
            async move { limits.retire(&streams, Instant::now()).await }
        });
        sleep(Duration::from_secs(30)).await;
        assert!(!retire.is_finished(), "busy connections are never idle");
        drop(guard);
        assert_eq!(retire.await.unwrap(), Retire::Idle);
        assert!(started.elapsed() >= Duration::from_secs(40));
    }

    #[tokio::test(start_paused = true)]
    async fn age_retires_busy_connections_too() {
        let streams = StreamCount::new();
        let _busy = streams.guard();
        let limits = ConnectionLimits {
            max_age: Some(Duration::from_secs(100)),
            ..ConnectionLimits::default()
        };
        let opened = Instant::now();
        assert_eq!(limits.retire(&streams, opened).await, Retire::Aged);
        assert!(opened.elapsed() >= Duration::from_secs(90));
    }
}
