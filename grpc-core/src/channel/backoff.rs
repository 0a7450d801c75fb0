//! gRPC's connection backoff, one step at a time: after a failed attempt,
//! wait the current delay with ±20 % jitter, and grow the delay 1.6× (at
//! most the maximum) for the failure after it. Subchannels and the
//! HTTP/1.1 connections of Connect and gRPC-Web calls both use it.

use std::time::Duration;

/// The jittered wait after a failure at delay `current`, and the delay
/// for the next failure.
pub(crate) fn step(current: Duration, max: Duration) -> (Duration, Duration) {
    let wait = current.mul_f64(0.8 + 0.4 * super::random::unit());
    (wait, current.mul_f64(1.6).min(max))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_around_the_delay_and_grows_it_to_the_max() {
        let max = Duration::from_secs(3);
        let mut current = Duration::from_secs(1);
        for _ in 0..5 {
            let (wait, next) = step(current, max);
            assert!(wait >= current.mul_f64(0.8) && wait <= current.mul_f64(1.2));
            assert_eq!(next, current.mul_f64(1.6).min(max));
            current = next;
        }
        assert_eq!(current, max);
    }
}
