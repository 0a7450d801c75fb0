//! Hedging: the same unary request sent up to `max_attempts` times,
//! `hedging_delay` apart; the first success (or fatal status) wins and the
//! other attempts are cancelled (their streams reset).

use std::pin::Pin;

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use tokio::time::Instant;

use super::{Replayable, record_code, throttle_allows};
use crate::channel::HedgingPolicy;
use crate::client::call::CallShared;
use crate::client::rpc::{Attempt, Delivery, Invocation, Outgoing, attempt};
use crate::stats::client::AttemptNumber;
use crate::status::Status;

type Running<'a> = Pin<Box<dyn std::future::Future<Output = (Attempt, Option<Bytes>)> + Send + 'a>>;

/// Runs the hedged attempts; the winner's response lands in `slot`.
pub(super) async fn run(
    invocation: &Invocation<'_>,
    call: &CallShared,
    frame: Bytes,
    slot: &mut Option<Bytes>,
    policy: &HedgingPolicy,
) -> Status {
    let mut running: FuturesUnordered<Running<'_>> = FuturesUnordered::new();
    let mut started = 0u32;
    let mut next_at = Instant::now();
    let mut last = Status::unavailable("no hedged attempt ran");
    loop {
        if started < policy.max_attempts
            && Instant::now() >= next_at
            && (started == 0 || throttle_allows(invocation))
        {
            running.push(one(invocation, call, frame.clone(), started));
            started += 1;
            next_at = Instant::now() + policy.hedging_delay;
        }
        let more = started < policy.max_attempts;
        tokio::select! {
            Some((outcome, payload)) = running.next() => {
                let (status, committed) = match outcome {
                    Attempt::Committed(status) => (status, true),
                    Attempt::Ended(status) | Attempt::Refused(status) => (status, false),
                };
                let non_fatal = policy.non_fatal_status_codes.contains(&status.code());
                record_code(invocation, status.code(), non_fatal);
                if status.is_ok() || committed || !non_fatal {
                    *slot = payload;
                    return status; // dropping `running` cancels the others
                }
                last = status;
                // A non-fatal failure sends the next hedge at once.
                next_at = Instant::now();
                if running.is_empty() && (!more || !throttle_allows(invocation)) {
                    return last;
                }
            }
            () = tokio::time::sleep_until(next_at), if more => {}
            else => return last,
        }
    }
}

fn one<'a>(
    invocation: &'a Invocation<'_>,
    call: &'a CallShared,
    frame: Bytes,
    previous: u32,
) -> Running<'a> {
    Box::pin(async move {
        let mut slot = None;
        let mut requests = Replayable::new(Outgoing::One(frame), usize::MAX);
        let outcome = attempt(
            invocation,
            call,
            &mut requests,
            &mut Delivery::Single(&mut slot),
            AttemptNumber {
                previous,
                transparent: false,
            },
        )
        .await;
        (outcome, slot)
    })
}
