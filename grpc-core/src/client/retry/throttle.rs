//! Retry throttling: a channel-wide token bucket. Each failed attempt
//! with a retryable status takes a token, each successful call returns
//! `token_ratio`; retries and hedges stop while half or fewer are left.

use crate::channel::{RetryThrottling, ServiceConfig};

/// The bucket.
#[derive(Debug)]
pub(crate) struct Throttle {
    tokens: f64,
    max_tokens: f64,
    ratio: f64,
}

impl Throttle {
    /// The bucket of a service config's `retryThrottling`, full.
    pub(crate) fn for_config(config: Option<&ServiceConfig>) -> Option<Throttle> {
        let RetryThrottling {
            max_tokens,
            token_ratio,
        } = config?.retry_throttling()?;
        Some(Throttle {
            tokens: f64::from(max_tokens),
            max_tokens: f64::from(max_tokens),
            ratio: token_ratio,
        })
    }

    pub(crate) fn failed(&mut self) {
        self.tokens = (self.tokens - 1.0).max(0.0);
    }

    pub(crate) fn succeeded(&mut self) {
        self.tokens = (self.tokens + self.ratio).min(self.max_tokens);
    }

    pub(crate) fn allows(&self) -> bool {
        self.tokens > self.max_tokens / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_close_and_successes_reopen_the_bucket() {
        let config = ServiceConfig::from_json(
            r#"{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.5}}"#,
        )
        .unwrap();
        let mut throttle = Throttle::for_config(Some(&config)).unwrap();
        let mut allowed = Vec::new();
        for _ in 0..6 {
            throttle.failed();
            allowed.push(throttle.allows());
        }
        assert_eq!(allowed, [true, true, true, true, false, false]);
        throttle.succeeded();
        throttle.succeeded();
        assert!(!throttle.allows());
        throttle.succeeded();
        assert!(throttle.allows());
    }
}
