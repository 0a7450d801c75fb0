//! The client's gRPC-Web and Connect calls ([`ClientProtocol`]): the same
//! calls as gRPC (every stub, both faces, deadlines, cancellation,
//! metadata, compression, rich errors), with requests and responses in the
//! other protocol's framing, over HTTP/1.1 or HTTP/2. The call core
//! ([`rpc::run`](super::rpc::run)) hands the call here instead of to its
//! gRPC exchange; messages come in and go out as gRPC frames, so nothing
//! above the wire changes.

mod decode;
mod encode;
mod http;

pub use http::HttpVersion;

use std::sync::Arc;

use bytes::Bytes;

use super::call::CallShared;
use super::rpc::{Delivery, Invocation, Outgoing, call_credentials_metadata};
use crate::error::{Error, Kind};
use crate::server::Protocol;
use crate::stats::client::{AttemptNumber, AttemptTrace};
use crate::status::Status;
use crate::wire::json::{Descriptors, JsonCodec, has_no_side_effects};
use encode::Shape;
use http::{Http1Pool, Pending, Sink};

/// The protocol a channel's calls speak ([`ChannelBuilder::protocol`]):
/// gRPC over HTTP/2 (the default), gRPC-Web, or Connect with protobuf or
/// JSON messages, over HTTP/1.1 or HTTP/2. Bidi streaming needs HTTP/2.
///
/// Connect's JSON needs the methods' descriptors
/// ([`add_file_descriptor_set`](Self::add_file_descriptor_set), e.g. a
/// generated `FILE_DESCRIPTOR_SET`); so does Connect GET
/// ([`unary_get`](Self::unary_get)), which is used for methods marked
/// `option idempotency_level = NO_SIDE_EFFECTS`.
///
/// ```
/// use grpc_core::{ChannelBuilder, ClientProtocol, HttpVersion};
/// let connect = ClientProtocol::connect().http_version(HttpVersion::Http1);
/// assert_eq!(connect.http(), HttpVersion::Http1);
/// let channel = ChannelBuilder::new("localhost:50051").protocol(connect).build()?;
/// # Ok::<(), grpc_core::Error>(())
/// ```
///
/// [`ChannelBuilder::protocol`]: crate::ChannelBuilder::protocol
#[derive(Clone, Debug)]
pub struct ClientProtocol {
    protocol: Protocol,
    http: HttpVersion,
    json: bool,
    text: bool,
    unary_get: bool,
    descriptors: Vec<Bytes>,
}

impl ClientProtocol {
    fn new(protocol: Protocol) -> ClientProtocol {
        ClientProtocol {
            protocol,
            http: HttpVersion::Http2,
            json: false,
            text: false,
            unary_get: false,
            descriptors: Vec::new(),
        }
    }

    /// gRPC over HTTP/2 (the default).
    pub fn grpc() -> ClientProtocol {
        ClientProtocol::new(Protocol::Grpc)
    }

    /// gRPC-Web (`application/grpc-web+proto`).
    pub fn grpc_web() -> ClientProtocol {
        ClientProtocol::new(Protocol::GrpcWeb)
    }

    /// gRPC-Web in its text form (`application/grpc-web-text`): request
    /// and response bodies base64, as browsers without binary streaming
    /// support send them.
    pub fn grpc_web_text() -> ClientProtocol {
        ClientProtocol {
            text: true,
            ..ClientProtocol::grpc_web()
        }
    }

    /// Connect with protobuf messages (`application/proto`,
    /// `application/connect+proto`).
    pub fn connect() -> ClientProtocol {
        ClientProtocol::new(Protocol::Connect)
    }

    /// Connect with JSON messages (`application/json`,
    /// `application/connect+json`); needs the methods' descriptors.
    pub fn connect_json() -> ClientProtocol {
        ClientProtocol {
            json: true,
            ..ClientProtocol::connect()
        }
    }

    /// Over this HTTP version (default HTTP/2; gRPC needs HTTP/2).
    pub fn http_version(mut self, http: HttpVersion) -> ClientProtocol {
        self.http = http;
        self
    }

    /// Connect only: unary calls of `NO_SIDE_EFFECTS` methods go as GET
    /// requests (cacheable), the request in the query string.
    pub fn unary_get(mut self) -> ClientProtocol {
        self.unary_get = true;
        self
    }

    /// Adds an encoded `google.protobuf.FileDescriptorSet` (a generated
    /// `FILE_DESCRIPTOR_SET`), for JSON and GET.
    pub fn add_file_descriptor_set(mut self, encoded: impl Into<Bytes>) -> ClientProtocol {
        self.descriptors.push(encoded.into());
        self
    }

    /// The protocol.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The HTTP version.
    pub fn http(&self) -> HttpVersion {
        self.http
    }

    /// True for gRPC-Web's text form ([`grpc_web_text`](Self::grpc_web_text)).
    pub fn is_text(&self) -> bool {
        self.text
    }

    /// The channel's exchange for these settings; `None` for gRPC over
    /// HTTP/2 (the call core's own). Invalid combinations are errors.
    pub(crate) fn client(self) -> Result<Option<Arc<ProtocolClient>>, Error> {
        let invalid = |message: &str| Err(Error::new(Kind::InvalidArgument, message));
        match (self.protocol, self.http) {
            (Protocol::Grpc, HttpVersion::Http2) => return Ok(None),
            (Protocol::Grpc, _) => return invalid("gRPC needs HTTP/2 (use gRPC-Web or Connect)"),
            _ => {}
        }
        if self.unary_get && self.protocol != Protocol::Connect {
            return invalid("unary GET is a Connect feature");
        }
        let descriptors = Descriptors::default();
        for encoded in &self.descriptors {
            descriptors.add(encoded)?;
        }
        Ok(Some(Arc::new(ProtocolClient {
            protocol: self.protocol,
            http: self.http,
            json: self.json,
            text: self.text,
            unary_get: self.unary_get,
            descriptors,
            pool: Http1Pool::default(),
        })))
    }
}

/// A channel's gRPC-Web or Connect exchange.
#[derive(Debug)]
pub(crate) struct ProtocolClient {
    protocol: Protocol,
    http: HttpVersion,
    json: bool,
    /// gRPC-Web's text form (base64 bodies).
    text: bool,
    unary_get: bool,
    descriptors: Descriptors,
    pool: Http1Pool,
}

/// How one call goes on the wire.
pub(crate) struct Plan {
    pub(crate) shape: Shape,
    pub(crate) json: Option<JsonCodec>,
    pub(crate) http: HttpVersion,
    /// Bodies in base64 (`application/grpc-web-text`).
    pub(crate) text: bool,
}

impl ProtocolClient {
    /// Runs one call to its end (the counterpart of the gRPC exchange),
    /// as one attempt the channel's tracers see.
    pub(crate) async fn exchange(
        &self,
        invocation: &Invocation<'_>,
        call: &CallShared,
        outgoing: Outgoing,
        mut delivery: Delivery<'_>,
    ) -> Status {
        let trace = AttemptTrace::start(invocation, AttemptNumber::default(), call.deadline());
        let plan = match self.plan(invocation, &outgoing, &delivery) {
            Ok(plan) => plan,
            Err(status) => return trace.end_with(status),
        };
        let whole = match &outgoing {
            Outgoing::One(frame) => Some(frame.clone()),
            _ => None,
        };
        if let Some(frame) = &whole {
            trace.sent(frame);
        }
        let pending = match self.open(&plan, invocation, call, whole).await {
            Ok(pending) => pending,
            Err(status) => return trace.end_with(status),
        };
        call.set_opened();
        let Pending {
            response,
            mut sink,
            connection,
        } = pending;
        let max = invocation.channel.config().max_receive_message_length;
        let outcome = {
            let receiving = async {
                match response.await {
                    Ok(response) => {
                        decode::read(&plan, response, call, &mut delivery, &trace, max).await
                    }
                    Err(status) => decode::Outcome::broken(status),
                }
            };
            let sending = send_all(&plan, invocation, outgoing, &mut sink, &trace);
            tokio::select! {
                biased;
                outcome = receiving => outcome,
                Some(status) = sending => decode::Outcome::broken(status),
            }
        };
        if let Some(connection) = connection
            && outcome.drained
        {
            self.pool.release(connection);
        }
        trace.end_with(outcome.status)
    }

    fn plan(
        &self,
        invocation: &Invocation<'_>,
        outgoing: &Outgoing,
        delivery: &Delivery<'_>,
    ) -> Result<Plan, Status> {
        let unary = matches!(outgoing, Outgoing::One(_)) && matches!(delivery, Delivery::Single(_));
        let bidi =
            !matches!(outgoing, Outgoing::One(_)) && matches!(delivery, Delivery::Forward(_));
        if bidi && self.http == HttpVersion::Http1 {
            return Err(Status::unimplemented(
                "bidirectional streaming needs HTTP/2 (this channel speaks HTTP/1.1)",
            ));
        }
        if invocation.codec != crate::codec::message::PROTO {
            return Err(Status::unimplemented(format!(
                "codec {:?} is not supported over gRPC-Web or Connect: use the default codec \
                 (ClientProtocol::connect_json for JSON)",
                invocation.codec
            )));
        }
        let method = self.descriptors.method(invocation.path);
        let json = match (self.json, &method) {
            (false, _) => None,
            (true, Some(method)) => Some(JsonCodec::new(method)),
            (true, None) => {
                return Err(Status::internal(format!(
                    "no descriptor for {} (JSON needs ClientProtocol::add_file_descriptor_set)",
                    invocation.path
                )));
            }
        };
        let get = self.unary_get && unary && method.as_ref().is_some_and(has_no_side_effects);
        let shape = match self.protocol {
            Protocol::GrpcWeb => Shape::GrpcWeb,
            _ if get => Shape::ConnectGet,
            _ if unary => Shape::ConnectUnary,
            _ => Shape::ConnectStream,
        };
        Ok(Plan {
            shape,
            json,
            http: self.http,
            text: self.text,
        })
    }

    /// Sends the request head (and a body known up front).
    async fn open(
        &self,
        plan: &Plan,
        invocation: &Invocation<'_>,
        call: &CallShared,
        whole: Option<Bytes>,
    ) -> Result<Pending, Status> {
        let auth = call_credentials_metadata(invocation).await?;
        let (mut request, body) = encode::request(plan, invocation, call.deadline(), whole)?;
        if let Some(auth) = &auth {
            auth.write_headers(request.headers_mut());
        }
        let wait = invocation.options.wait_for_ready;
        match self.http {
            HttpVersion::Http1 => {
                self.pool
                    .open(invocation.channel, wait, request, body)
                    .await
            }
            HttpVersion::Http2 => http::open_h2(invocation.channel, wait, request, body).await,
        }
    }
}

/// Sends a streamed request body; pending forever once it is all sent (or
/// the peer stopped taking it: the response says why), `Some` when the
/// request stream itself failed.
async fn send_all(
    plan: &Plan,
    invocation: &Invocation<'_>,
    mut outgoing: Outgoing,
    sink: &mut Sink,
    trace: &AttemptTrace,
) -> Option<Status> {
    if !matches!(outgoing, Outgoing::One(_)) {
        let compression = invocation.compression();
        let max = invocation.channel.config().max_send_message_length;
        while let Some(item) = outgoing.next().await {
            let envelope = match item.and_then(|frame| plan.envelope(frame, compression, max)) {
                Ok(envelope) => envelope,
                Err(status) => return Some(status),
            };
            trace.sent(&envelope);
            if sink.send(envelope).await.is_err() {
                break;
            }
        }
        sink.finish();
    }
    std::future::pending().await
}
