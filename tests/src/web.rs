//! A plain HTTP client (hyper) for Connect and gRPC-Web tests: HTTP/1.1 or
//! HTTP/2 with prior knowledge, request bodies sent whole or piece by piece.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::sync::mpsc;

/// The HTTP version a [`Client`] speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.1.
    Http1,
    /// HTTP/2 with prior knowledge (h2c).
    Http2,
}

/// Both versions, for tests that run on each.
pub const VERSIONS: [Version; 2] = [Version::Http1, Version::Http2];

/// A request body.
pub type Body = BoxBody<Bytes, Infallible>;

/// One connection to a test server.
pub enum Client {
    /// HTTP/1.1.
    Http1(hyper::client::conn::http1::SendRequest<Body>),
    /// HTTP/2.
    Http2(hyper::client::conn::http2::SendRequest<Body>),
}

impl Client {
    /// Connects to `127.0.0.1:port`.
    pub async fn connect(port: u16, version: Version) -> Client {
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .expect("connect");
        let io = TokioIo::new(stream);
        match version {
            Version::Http1 => {
                let (send, conn) = hyper::client::conn::http1::handshake(io)
                    .await
                    .expect("HTTP/1.1 handshake");
                tokio::spawn(conn);
                Client::Http1(send)
            }
            Version::Http2 => {
                let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                    .await
                    .expect("HTTP/2 handshake");
                tokio::spawn(conn);
                Client::Http2(send)
            }
        }
    }

    /// Sends `request`; the response body is left to read.
    pub async fn send(&mut self, request: Request<Body>) -> Response<Incoming> {
        match self {
            Client::Http1(send) => {
                send.ready().await.expect("connection ready");
                send.send_request(request).await.expect("response")
            }
            Client::Http2(send) => {
                send.ready().await.expect("connection ready");
                send.send_request(request).await.expect("response")
            }
        }
    }

    /// Sends `request` and reads the whole response.
    pub async fn call(&mut self, request: Request<Body>) -> (http::response::Parts, Bytes) {
        let response = self.send(request).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.expect("response body").to_bytes();
        (parts, body)
    }
}

/// A body sent at once.
pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

/// A body sent piece by piece: push chunks into the sender, drop it to end.
pub fn streaming() -> (mpsc::Sender<Bytes>, Body) {
    let (tx, rx) = mpsc::channel(8);
    (tx, ChannelBody(rx).boxed())
}

struct ChannelBody(mpsc::Receiver<Bytes>);

impl hyper::body::Body for ChannelBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|chunk| Ok(Frame::data(chunk))))
    }
}

/// Reads the next chunk of a response body (`None` at its end).
pub async fn next_chunk(body: &mut Incoming) -> Option<Bytes> {
    loop {
        let frame = body.frame().await?.ok()?;
        if let Ok(data) = frame.into_data() {
            return Some(data);
        }
    }
}

/// Splits a body into `(flags, payload)` envelopes; panics when truncated.
pub fn envelopes(mut data: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while !data.is_empty() {
        assert!(data.len() >= 5, "truncated envelope prefix");
        let len = u32::from_be_bytes([data[1], data[2], data[3], data[4]]) as usize;
        assert!(data.len() >= 5 + len, "truncated envelope");
        out.push((data[0], data[5..5 + len].to_vec()));
        data = &data[5 + len..];
    }
    out
}

/// One envelope with `flags`.
pub fn envelope(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(flags);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}
