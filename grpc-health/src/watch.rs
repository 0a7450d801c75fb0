//! The `Watch` response stream: the current status, then every change.

use futures_util::stream::{self, Stream};
use grpc_core::Status;
use tokio::sync::watch;

use crate::ServingStatus;
use crate::servicer::Statuses;
use crate::v1::HealthCheckResponse;

/// Where one watch is.
struct Watcher {
    statuses: watch::Receiver<Statuses>,
    service: String,
    /// The last status sent, `None` before the first.
    sent: Option<ServingStatus>,
    ended: bool,
}

/// The updates of `service`: its status now, then each change (a watcher
/// that falls behind sees only the latest). Ends with `UNAVAILABLE` once
/// the server stops (after `NOT_SERVING` went out), or when the servicer
/// is gone.
pub(crate) fn updates(
    statuses: watch::Receiver<Statuses>,
    service: String,
) -> impl Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static {
    let watcher = Watcher {
        statuses,
        service,
        sent: None,
        ended: false,
    };
    stream::unfold(watcher, |mut watcher| async move {
        let item = watcher.next().await?;
        Some((item, watcher))
    })
}

impl Watcher {
    async fn next(&mut self) -> Option<Result<HealthCheckResponse, Status>> {
        if self.ended {
            return None;
        }
        loop {
            let (status, stopping) = {
                let statuses = self.statuses.borrow_and_update();
                let status = statuses
                    .of(&self.service)
                    .unwrap_or(ServingStatus::ServiceUnknown);
                (status, statuses.server_stopping())
            };
            if self.sent != Some(status) {
                self.sent = Some(status);
                return Some(Ok(HealthCheckResponse {
                    status: status as i32,
                }));
            }
            if stopping {
                self.ended = true;
                return Some(Err(Status::unavailable("the server is shutting down")));
            }
            if self.statuses.changed().await.is_err() {
                return None;
            }
        }
    }
}
