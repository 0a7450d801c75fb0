//! Bounds on a server's HTTP/1.1 connections: at most
//! [`Http1Limits::max_connections`] are served at once, and one may wait
//! for its next request head (including keep-alive idle time) at most
//! [`Http1Limits::idle_timeout`]. A connection past the cap is answered
//! `503 Service Unavailable` with `Connection: close` (a Connect error
//! body, code `unavailable`, which Connect and gRPC-Web clients report
//! as `UNAVAILABLE`), so a flood of HTTP/1.1 connections costs the
//! server one short-lived task each and never starves HTTP/2 (gRPC)
//! connections or the HTTP/1.1 connections already being served.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// HTTP/1.1 connections served at once, by default.
const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long an HTTP/1.1 connection may wait for a request head, by default.
const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(20);

/// The limits ([`ServerBuilder::max_http1_connections`],
/// [`ServerBuilder::http1_idle_timeout`]).
///
/// [`ServerBuilder::max_http1_connections`]: crate::ServerBuilder::max_http1_connections
/// [`ServerBuilder::http1_idle_timeout`]: crate::ServerBuilder::http1_idle_timeout
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Http1Limits {
    pub(crate) max_connections: usize,
    pub(crate) idle_timeout: Duration,
}

impl Default for Http1Limits {
    fn default() -> Self {
        Http1Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
        }
    }
}

/// A server's HTTP/1.1 connection slots.
#[derive(Debug)]
pub(crate) struct Http1Slots(Arc<Semaphore>);

impl Http1Slots {
    pub(crate) fn new(limits: &Http1Limits) -> Http1Slots {
        let permits = limits.max_connections.min(Semaphore::MAX_PERMITS);
        Http1Slots(Arc::new(Semaphore::new(permits)))
    }

    /// A slot for one connection, held until it is dropped; `None` when
    /// all are taken.
    pub(crate) fn take(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.0).try_acquire_owned().ok()
    }
}

/// Answers every request of a connection past the cap with 503 and
/// closes it (after the first response; a client that sends no complete
/// head within `head_timeout` is dropped).
pub(crate) async fn refuse<T>(io: T, head_timeout: Duration, max_connections: usize)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |_: Request<Incoming>| async move {
        Ok::<_, Infallible>(unavailable(max_connections))
    });
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout)
        .keep_alive(false)
        .serve_connection(TokioIo::new(io), service);
    if let Err(error) = connection.await {
        tracing::debug!(%error, "refused HTTP/1.1 connection ended");
    }
}

/// The 503: a Connect error (code `unavailable`) that says why.
fn unavailable(max_connections: usize) -> Response<Full<Bytes>> {
    let body = format!(
        "{{\"code\":\"unavailable\",\"message\":\"too many HTTP/1.1 connections \
         (the server serves at most {max_connections} at once); retry later or use HTTP/2\"}}"
    );
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    headers.insert(
        header::CONNECTION,
        header::HeaderValue::from_static("close"),
    );
    headers.insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    response
}
