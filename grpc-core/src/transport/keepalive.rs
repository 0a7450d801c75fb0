//! Keepalive: PING the peer every interval and give up on a peer that
//! stops answering (a dead socket), on either side of a connection.

use std::time::Duration;

/// Pings every `interval`; returns a reason when a ping goes unanswered.
pub(crate) async fn ping_loop(
    keepalive: Option<(Duration, h2::PingPong)>,
    timeout: Duration,
) -> String {
    let Some((interval, mut ping_pong)) = keepalive else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(interval).await;
        match tokio::time::timeout(timeout, ping_pong.ping(h2::Ping::opaque())).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return format!("keepalive ping failed: {error}"),
            Err(_) => return "keepalive ping timed out".to_owned(),
        }
    }
}
