//! [`RetryInfo`] to and from [`std::time::Duration`].

use std::time::Duration;

use crate::pb::RetryInfo;

impl RetryInfo {
    /// Retry after `delay` (saturating at the largest protobuf duration).
    ///
    /// ```
    /// use std::time::Duration;
    /// let retry = grpc_status::RetryInfo::after(Duration::from_millis(1500));
    /// assert_eq!(retry.delay(), Some(Duration::from_millis(1500)));
    /// ```
    pub fn after(delay: Duration) -> RetryInfo {
        let seconds = i64::try_from(delay.as_secs()).unwrap_or(i64::MAX);
        let nanos = i32::try_from(delay.subsec_nanos()).unwrap_or(0);
        RetryInfo {
            retry_delay: Some(prost_types::Duration { seconds, nanos }),
        }
    }

    /// The delay to wait before retrying; `None` when absent or negative.
    pub fn delay(&self) -> Option<Duration> {
        let delay = self.retry_delay?;
        let seconds = u64::try_from(delay.seconds).ok()?;
        let nanos = u32::try_from(delay.nanos).ok()?;
        (nanos < 1_000_000_000).then(|| Duration::new(seconds, nanos))
    }
}
