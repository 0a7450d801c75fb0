//! Keepalive: PING the peer every interval and give up on a peer that
//! stops answering (a dead socket), on either side of a connection.

use std::time::Duration;

use super::client_watch::DataSent;

/// How a side of a connection keeps it alive.
pub(crate) struct Keepalive {
    /// Time between pings.
    pub(crate) interval: Duration,
    /// How long a ping may go unanswered.
    pub(crate) timeout: Duration,
    /// With a counter of the data and headers we sent: at most this many
    /// pings in a row without any (gRPC core's
    /// `grpc.http2.max_pings_without_data`; 0 = no limit), so that a server
    /// that enforces a minimum ping interval never closes the connection.
    pub(crate) limit: Option<(DataSent, u32)>,
    /// With a count of calls in flight: no pings while it is zero
    /// (a client without `keepalive_permit_without_calls`).
    pub(crate) calls: Option<std::sync::Arc<std::sync::atomic::AtomicUsize>>,
}

/// Pings every `interval`; returns a reason when a ping goes unanswered.
/// Never completes without a keepalive.
pub(crate) async fn ping_loop(keepalive: Option<(Keepalive, h2::PingPong)>) -> String {
    let Some((keepalive, mut ping_pong)) = keepalive else {
        return std::future::pending().await;
    };
    let mut unanswered_data = Pings::default();
    loop {
        tokio::time::sleep(keepalive.interval).await;
        if let Some(calls) = &keepalive.calls
            && calls.load(std::sync::atomic::Ordering::Acquire) == 0
        {
            continue;
        }
        if let Some((sent, max)) = &keepalive.limit
            && !unanswered_data.may_ping(sent.count(), *max)
        {
            continue;
        }
        match tokio::time::timeout(keepalive.timeout, ping_pong.ping(h2::Ping::opaque())).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return format!("keepalive ping failed: {error}"),
            Err(_) => return "keepalive ping timed out".to_owned(),
        }
    }
}

/// Counts pings since data or headers last went out.
#[derive(Default)]
struct Pings {
    data_seen: u64,
    since_data: u32,
}

impl Pings {
    /// Whether another ping may go out, `data_sent` frames of data or
    /// headers having been sent so far; counts the ping when it may.
    fn may_ping(&mut self, data_sent: u64, max: u32) -> bool {
        if data_sent != self.data_seen {
            self.data_seen = data_sent;
            self.since_data = 0;
        }
        if max != 0 && self.since_data >= max {
            return false;
        }
        self.since_data += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pings_stop_after_the_limit_until_data_is_sent() {
        let mut pings = Pings::default();
        let allowed: Vec<bool> = [0, 0, 0, 0, 3, 3, 3, 4]
            .iter()
            .map(|&sent| pings.may_ping(sent, 2))
            .collect();
        assert_eq!(allowed, [true, true, false, false, true, true, false, true]);
        let mut unlimited = Pings::default();
        assert!((0..100).all(|_| unlimited.may_ping(0, 0)));
    }
}
