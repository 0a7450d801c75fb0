//! [`HealthServicer`]: the statuses, and the `Check` and `Watch` handlers.

use std::collections::HashMap;
use std::sync::Arc;

use grpc_core::{Server, ServicerContext, Status};
use tokio::sync::watch;

use crate::ServingStatus;
use crate::v1::{AsyncHealthServicer, HealthCheckRequest, HealthCheckResponse};

/// Where the servicer is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// `set` changes statuses.
    Open,
    /// [`HealthServicer::enter_graceful_shutdown`]: everything is
    /// `NOT_SERVING` and `set` is ignored.
    ShuttingDown,
    /// The server is stopping: as `ShuttingDown`, and watches end.
    ServerStopping,
}

/// The statuses every watcher looks at.
#[derive(Debug)]
pub(crate) struct Statuses {
    by_service: HashMap<String, ServingStatus>,
    phase: Phase,
}

impl Statuses {
    /// The status of `service`, if it was ever set.
    pub(crate) fn of(&self, service: &str) -> Option<ServingStatus> {
        self.by_service.get(service).copied()
    }

    /// Whether the server is stopping (watches end).
    pub(crate) fn server_stopping(&self) -> bool {
        self.phase == Phase::ServerStopping
    }

    fn shut_down(&mut self, phase: Phase) -> bool {
        let changed = self.phase != phase
            || self
                .by_service
                .values()
                .any(|status| *status != ServingStatus::NotServing);
        for status in self.by_service.values_mut() {
            *status = ServingStatus::NotServing;
        }
        self.phase = phase;
        changed
    }
}

/// The health service's state (grpcio's `HealthServicer`): a status per
/// service name, `""` standing for the whole server. Cheap to clone; clones
/// share the statuses.
///
/// It implements the generated [`AsyncHealthServicer`], so it can also be
/// mounted with `v1::add_async_health_servicer_to_server`; prefer
/// [`add_health_servicer_to_server`](crate::add_health_servicer_to_server),
/// which also turns everything `NOT_SERVING` when the server stops.
#[derive(Clone, Debug)]
pub struct HealthServicer {
    statuses: Arc<watch::Sender<Statuses>>,
}

impl Default for HealthServicer {
    fn default() -> Self {
        HealthServicer::new()
    }
}

impl HealthServicer {
    /// A servicer where the whole server (`""`) is `SERVING` and no other
    /// service is known.
    pub fn new() -> HealthServicer {
        let by_service = HashMap::from([(String::new(), ServingStatus::Serving)]);
        let (statuses, _) = watch::channel(Statuses {
            by_service,
            phase: Phase::Open,
        });
        HealthServicer {
            statuses: Arc::new(statuses),
        }
    }

    /// Registers this servicer on `server` and has the server's
    /// [`stop`](Server::stop) turn every status `NOT_SERVING` before it
    /// refuses anything.
    pub fn attach(&self, server: &Server) {
        crate::v1::add_async_health_servicer_to_server(self.clone(), server);
        let health = self.clone();
        server.add_stop_callback(move || health.server_stopping());
    }

    /// Sets the status of `service` (`""`: the whole server) and tells its
    /// watchers. Ignored after [`enter_graceful_shutdown`](Self::enter_graceful_shutdown).
    pub fn set(&self, service: impl Into<String>, status: ServingStatus) {
        let service = service.into();
        self.statuses.send_if_modified(|statuses| {
            if statuses.phase != Phase::Open {
                return false;
            }
            statuses.by_service.insert(service, status) != Some(status)
        });
    }

    /// Forgets `service`: `Check` answers `NOT_FOUND` again and watchers see
    /// `SERVICE_UNKNOWN`. Ignored after [`enter_graceful_shutdown`](Self::enter_graceful_shutdown).
    pub fn clear(&self, service: &str) {
        self.statuses.send_if_modified(|statuses| {
            statuses.phase == Phase::Open && statuses.by_service.remove(service).is_some()
        });
    }

    /// The status of `service`, if it was set.
    pub fn status(&self, service: &str) -> Option<ServingStatus> {
        self.statuses.borrow().of(service)
    }

    /// Turns every status `NOT_SERVING` for good: later [`set`](Self::set)
    /// calls are ignored (grpcio's `enter_graceful_shutdown`). Watches stay
    /// open.
    pub fn enter_graceful_shutdown(&self) {
        self.statuses.send_if_modified(|statuses| {
            if statuses.phase == Phase::Open {
                statuses.shut_down(Phase::ShuttingDown)
            } else {
                false
            }
        });
    }

    /// The server is stopping: as [`enter_graceful_shutdown`](Self::enter_graceful_shutdown),
    /// and every watch ends once it has sent `NOT_SERVING`.
    fn server_stopping(&self) {
        self.statuses
            .send_if_modified(|statuses| statuses.shut_down(Phase::ServerStopping));
    }
}

impl AsyncHealthServicer for HealthServicer {
    async fn check(
        &self,
        request: HealthCheckRequest,
        _context: &ServicerContext,
    ) -> Result<HealthCheckResponse, Status> {
        match self.status(&request.service) {
            Some(status) => Ok(HealthCheckResponse {
                status: status as i32,
            }),
            None => Err(Status::not_found(format!(
                "unknown service `{}`",
                request.service
            ))),
        }
    }

    async fn watch(
        &self,
        request: HealthCheckRequest,
        _context: &ServicerContext,
    ) -> Result<
        impl grpc_core::Stream<Item = Result<HealthCheckResponse, Status>> + Send + 'static,
        Status,
    > {
        Ok(crate::watch::updates(
            self.statuses.subscribe(),
            request.service,
        ))
    }
}
