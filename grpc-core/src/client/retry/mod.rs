//! Retries and hedging as the service config's `retryPolicy` and
//! `hedgingPolicy` describe them (gRPC's retry design, A6), plus the
//! transparent retry of streams the server refused unprocessed.
//!
//! An attempt is retried only while nothing of it reached the
//! application: before response headers (a Trailers-Only response may be
//! retried), and while every request message sent is still buffered
//! (up to [`RETRY_BUFFER_LIMIT`]).

mod hedging;
mod replay;
mod throttle;

pub(crate) use replay::Replayable;
pub(crate) use throttle::Throttle;

use std::time::Duration;

use super::call::CallShared;
use super::rpc::{Attempt, Delivery, Invocation, Outgoing, attempt};
use crate::channel::{RetryPolicy, lock};
use crate::stats::client::AttemptNumber;
use crate::status::{Code, Status};

/// Request bytes a call buffers for retries; past it, the call is
/// committed to its current attempt (gRPC's per-call retry buffer).
pub(crate) const RETRY_BUFFER_LIMIT: usize = 256 * 1024;

/// How often a call is sent again after the server refused it unseen.
const TRANSPARENT_RETRIES: usize = 2;

/// The trailer a server sets to ask for a retry delay, or (negative) no retry.
const PUSHBACK: &str = "grpc-retry-pushback-ms";

/// Runs the RPC: attempts, retries and hedges as its method config says.
pub(crate) async fn exchange(
    invocation: &Invocation<'_>,
    call: &CallShared,
    outgoing: Outgoing,
    mut delivery: Delivery<'_>,
) -> Status {
    let method = invocation.channel.method_config(invocation.path);
    let hedging = method.as_ref().and_then(|m| m.hedging_policy.clone());
    let one = match &outgoing {
        Outgoing::One(frame) => Some(frame.clone()),
        _ => None,
    };
    // Hedging sends unary requests with a unary response; other calls
    // run as one attempt.
    if let (Some(policy), Some(frame), Delivery::Single(slot)) = (hedging, one, &mut delivery) {
        return hedging::run(invocation, call, frame, slot, &policy).await;
    }
    let policy = method.and_then(|m| m.retry_policy.clone());
    let mut requests = Replayable::new(outgoing, RETRY_BUFFER_LIMIT);
    let mut number = AttemptNumber::default();
    let mut transparent_left = TRANSPARENT_RETRIES;
    loop {
        let outcome = attempt(invocation, call, &mut requests, &mut delivery, number).await;
        number.transparent = false;
        let status = match outcome {
            Attempt::Committed(status) => {
                record(invocation, status.code(), policy.as_ref());
                return status;
            }
            Attempt::Refused(status) => {
                if transparent_left > 0 && requests.rewind() {
                    transparent_left -= 1;
                    number.transparent = true;
                    tracing::debug!(
                        details = status.details(),
                        "stream refused unprocessed: sending it again"
                    );
                    continue;
                }
                return status;
            }
            Attempt::Ended(status) => status,
        };
        record(invocation, status.code(), policy.as_ref());
        number.previous += 1;
        let previous = number.previous;
        let Some(delay) = retry_delay(invocation, &status, policy.as_ref(), previous) else {
            return status;
        };
        if !requests.rewind() {
            return status;
        }
        tracing::debug!(
            code = status.code().name(),
            attempt = previous + 1,
            ?delay,
            "retrying"
        );
        tokio::time::sleep(delay).await;
    }
}

/// Counts a finished attempt in the channel's retry throttle.
fn record(invocation: &Invocation<'_>, code: Code, policy: Option<&RetryPolicy>) {
    let retryable = policy.is_some_and(|p| p.retryable_status_codes.contains(&code));
    record_code(invocation, code, retryable);
}

/// Counts an attempt that ended with `code`: a success returns tokens, a
/// failure the policy would retry (`counts`) takes one.
fn record_code(invocation: &Invocation<'_>, code: Code, counts: bool) {
    let mut throttle = lock(&invocation.channel.inner().throttle);
    if let Some(throttle) = throttle.as_mut() {
        match code {
            Code::Ok => throttle.succeeded(),
            _ if counts => throttle.failed(),
            _ => {}
        }
    }
}

/// Whether the throttle lets another attempt go out.
fn throttle_allows(invocation: &Invocation<'_>) -> bool {
    lock(&invocation.channel.inner().throttle)
        .as_ref()
        .is_none_or(Throttle::allows)
}

/// The delay before attempt `previous + 1`, or `None` when `status` ends
/// the call: not retryable, attempts used up, throttled, or the server's
/// pushback says no.
fn retry_delay(
    invocation: &Invocation<'_>,
    status: &Status,
    policy: Option<&RetryPolicy>,
    previous: u32,
) -> Option<Duration> {
    let policy = policy?;
    if status.is_ok()
        || !policy.retryable_status_codes.contains(&status.code())
        || previous >= policy.max_attempts
        || !throttle_allows(invocation)
    {
        return None;
    }
    if let Some(value) = status.metadata().get(PUSHBACK) {
        // A negative or malformed value means: do not retry.
        let millis = value.trim().parse::<u64>().ok()?;
        return Some(Duration::from_millis(millis));
    }
    Some(backoff(policy, previous))
}

/// A random delay up to `initial * multiplier^(n-1)`, capped at `max`.
fn backoff(policy: &RetryPolicy, previous: u32) -> Duration {
    let growth = policy
        .backoff_multiplier
        .powi(previous.saturating_sub(1).min(64) as i32);
    let bound = policy
        .initial_backoff
        .mul_f64(growth.min(1e9))
        .min(policy.max_backoff);
    bound.mul_f64(crate::channel::random::unit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_stays_under_the_growing_bound() {
        let policy = RetryPolicy {
            max_attempts: 5,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(300),
            backoff_multiplier: 2.0,
            retryable_status_codes: vec![Code::Unavailable],
        };
        for _ in 0..50 {
            assert!(backoff(&policy, 1) <= Duration::from_millis(100));
            assert!(backoff(&policy, 2) <= Duration::from_millis(200));
            assert!(backoff(&policy, 9) <= Duration::from_millis(300));
        }
        assert!((0..50).any(|_| backoff(&policy, 9) > Duration::from_millis(200)));
    }
}
