//! Call tracers over real sockets. Server: every message of the four
//! patterns with its wire size, on gRPC, Connect and gRPC-Web, compressed
//! sizes under gzip, headers and the final code. Client: every attempt the
//! channel makes — retries with `grpc-previous-rpc-attempts`, hedges
//! (the abandoned one included), transparent retries of refused streams.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use grpc_core::{
    AttemptInfo, AttemptTracer, CallOptions, ChannelBuilder, ClientProtocol, ClientTracer, Code,
    Compression, HandlerCallDetails, Metadata, Protocol, Server, ServerCallTracer, ServerTracer,
    ServiceConfig, Status, WireMessage,
};
use http::Request;
use prost::Message as _;
use rustgrpc_tests::backends::{Backend, CALL_ID, FAIL_FIRST, WHO};
use rustgrpc_tests::raw::{gzip, runtime};
use rustgrpc_tests::web::{Client, Version, envelope, envelopes, full};
use rustgrpc_tests::{EchoRequest, EchoResponse, TestServer, TestServiceStub, echo};

const PATIENCE: Duration = Duration::from_secs(20);
const UNARY: &str = "/rustgrpc.testing.TestService/UnaryCall";
const SERVER_STREAM: &str = "/rustgrpc.testing.TestService/StreamingOutputCall";
const CLIENT_STREAM: &str = "/rustgrpc.testing.TestService/StreamingInputCall";
const BIDI: &str = "/rustgrpc.testing.TestService/FullDuplexCall";

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

/// An uncompressed message of `message`'s encoded size.
fn plain(message: &impl prost::Message) -> WireMessage {
    WireMessage::new(message.encoded_len(), false)
}

// ---- server ---------------------------------------------------------------

/// What a tracer was told, in order (the same four events on both sides:
/// a message received, headers sent or received, a message sent, the end).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    Received(WireMessage),
    Headers,
    Sent(WireMessage),
    Ended(Code),
}

/// One traced call or attempt: what it was (`head`) and what it saw.
#[derive(Clone, Debug)]
struct Entry<H> {
    head: H,
    seen: Vec<Seen>,
}

impl<H> Entry<H> {
    fn received(&self) -> Vec<WireMessage> {
        let each = self.seen.iter();
        each.filter_map(|seen| match seen {
            Seen::Received(message) => Some(*message),
            _ => None,
        })
        .collect()
    }

    fn sent(&self) -> Vec<WireMessage> {
        let each = self.seen.iter();
        each.filter_map(|seen| match seen {
            Seen::Sent(message) => Some(*message),
            _ => None,
        })
        .collect()
    }

    fn code(&self) -> Option<Code> {
        match self.seen.last() {
            Some(Seen::Ended(code)) => Some(*code),
            _ => None,
        }
    }
}

type Shared<T> = Arc<Mutex<T>>;

/// A tracer that logs every call (attempt), in the order they started.
struct Log<H>(Shared<Vec<Shared<Entry<H>>>>);

impl<H> Clone for Log<H> {
    fn clone(&self) -> Self {
        Log(Arc::clone(&self.0))
    }
}

impl<H> Default for Log<H> {
    fn default() -> Self {
        Log(Arc::default())
    }
}

/// The tracer of one logged call (attempt).
struct Recording<H>(Shared<Entry<H>>);

impl<H: Clone> Log<H> {
    fn start(&self, head: H) -> Box<Recording<H>> {
        let entry = Arc::new(Mutex::new(Entry {
            head,
            seen: Vec::new(),
        }));
        lock(&self.0).push(Arc::clone(&entry));
        Box::new(Recording(entry))
    }

    fn entries(&self) -> Vec<Entry<H>> {
        let entries = lock(&self.0);
        entries.iter().map(|entry| lock(entry).clone()).collect()
    }
}

impl<H> Recording<H> {
    fn push(&self, seen: Seen) {
        lock(&self.0).seen.push(seen);
    }
}

/// What a server call was.
#[derive(Clone, Debug)]
struct CallHead {
    method: String,
    protocol: Protocol,
}

type ServerLog = Log<CallHead>;
type CallLog = Entry<CallHead>;

impl ServerTracer for ServerLog {
    fn start_call(&self, call: &HandlerCallDetails) -> Option<Box<dyn ServerCallTracer>> {
        let head = CallHead {
            method: call.method().to_owned(),
            protocol: call.context().protocol(),
        };
        Some(self.start(head))
    }
}

impl ServerCallTracer for Recording<CallHead> {
    fn message_received(&self, message: WireMessage) {
        self.push(Seen::Received(message));
    }
    fn headers_sent(&self, _metadata: &Metadata) {
        self.push(Seen::Headers);
    }
    fn message_sent(&self, message: WireMessage) {
        self.push(Seen::Sent(message));
    }
    fn call_ended(&self, code: Code) {
        self.push(Seen::Ended(code));
    }
}

impl CallLog {
    /// One end, last; the headers once, before the first message sent.
    fn assert_well_formed(&self) {
        let ends = self.seen.iter().filter(|s| matches!(s, Seen::Ended(_)));
        assert_eq!(ends.count(), 1, "{self:?}");
        assert!(self.code().is_some(), "{self:?}");
        let headers = self.seen.iter().position(|s| *s == Seen::Headers);
        let first_sent = self.seen.iter().position(|s| matches!(s, Seen::Sent(_)));
        if let Some(first_sent) = first_sent {
            assert!(headers.is_some_and(|h| h < first_sent), "{self:?}");
        }
        let all_headers = self.seen.iter().filter(|s| **s == Seen::Headers);
        assert!(all_headers.count() <= 1, "{self:?}");
    }
}

impl ServerLog {
    /// Call `index` (in the order calls started), once it ended: the
    /// server ends a call after the client has its status.
    fn ended_call(&self, index: usize) -> CallLog {
        let give_up = Instant::now() + PATIENCE;
        loop {
            if let Some(call) = self.entries().into_iter().nth(index)
                && call.code().is_some()
            {
                call.assert_well_formed();
                return call;
            }
            assert!(Instant::now() < give_up, "call {index} never ended");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn calls(&self) -> usize {
        lock(&self.0).len()
    }
}

fn traced_server(log: &ServerLog) -> TestServer {
    TestServer::start_with(Server::builder().tracer(log.clone()))
}

fn streamed(tag: &str, count: u32) -> EchoRequest {
    EchoRequest {
        response_count: count,
        response_size: 10 * count,
        ..echo(tag)
    }
}

#[test]
fn server_tracer_sees_every_message_of_the_four_patterns_over_grpc() {
    let log = ServerLog::default();
    let server = traced_server(&log);
    let stub = server.stub();

    let request = EchoRequest {
        response_size: 100,
        ..echo("unary")
    };
    let reply = stub.unary_call().call(request.clone()).expect("unary");
    let call = log.ended_call(0);
    assert_eq!(
        (call.head.method.as_str(), call.head.protocol),
        (UNARY, Protocol::Grpc)
    );
    let expected = [
        Seen::Received(plain(&request)),
        Seen::Headers,
        Seen::Sent(plain(&reply)),
        Seen::Ended(Code::Ok),
    ];
    assert_eq!(call.seen, expected);

    let request = streamed("out", 3);
    let replies: Vec<EchoResponse> = stub
        .streaming_output_call()
        .call(request.clone())
        .expect("server stream")
        .collect::<Result<_, _>>()
        .expect("responses");
    let call = log.ended_call(1);
    assert_eq!(call.head.method, SERVER_STREAM);
    assert_eq!(call.received(), [plain(&request)]);
    assert_eq!(call.sent(), replies.iter().map(plain).collect::<Vec<_>>());
    assert_eq!(call.seen.last(), Some(&Seen::Ended(Code::Ok)));

    let requests = vec![echo("a"), echo("bb"), echo("ccc")];
    let summary = stub
        .streaming_input_call()
        .call(requests.clone().into_iter())
        .expect("client stream");
    let call = log.ended_call(2);
    assert_eq!(call.head.method, CLIENT_STREAM);
    assert_eq!(
        call.received(),
        requests.iter().map(plain).collect::<Vec<_>>()
    );
    assert_eq!(call.sent(), [plain(&summary)]);

    let replies: Vec<EchoResponse> = stub
        .full_duplex_call()
        .call(requests.clone().into_iter())
        .expect("bidi")
        .collect::<Result<_, _>>()
        .expect("responses");
    let call = log.ended_call(3);
    assert_eq!(call.head.method, BIDI);
    assert_eq!(
        call.received(),
        requests.iter().map(plain).collect::<Vec<_>>()
    );
    assert_eq!(call.sent(), replies.iter().map(plain).collect::<Vec<_>>());
    assert_eq!(call.seen.last(), Some(&Seen::Ended(Code::Ok)));
}

#[test]
fn server_tracer_sees_the_status_of_failed_calls_without_headers() {
    let log = ServerLog::default();
    let server = traced_server(&log);
    let request = EchoRequest {
        fail_code: Code::NotFound.value(),
        ..echo("missing")
    };
    let error = server.stub().unary_call().call(request.clone()).err();
    assert_eq!(error.map(|e| e.code()), Some(Code::NotFound));
    let call = log.ended_call(0);
    let expected = [Seen::Received(plain(&request)), Seen::Ended(Code::NotFound)];
    assert_eq!(call.seen, expected);
}

#[test]
fn gzip_makes_the_wire_sizes_the_compressed_ones() {
    let log = ServerLog::default();
    let server = TestServer::start_with(
        Server::builder()
            .tracer(log.clone())
            .compression(Compression::Gzip),
    );
    let channel = ChannelBuilder::new(server.target())
        .compression(Compression::Gzip)
        .build()
        .expect("channel");
    let request = EchoRequest {
        payload: vec![7; 4096],
        response_size: 4096,
        ..echo("squeezed")
    };
    let reply = TestServiceStub::new(channel)
        .unary_call()
        .call(request.clone())
        .expect("compressed call");
    let call = log.ended_call(0);
    let (received, sent) = (call.received(), call.sent());
    eprintln!(
        "gzip: request {} B encoded, {} B on the wire; response {} B encoded, {} B on the wire",
        request.encoded_len(),
        received[0].wire_len(),
        reply.encoded_len(),
        sent[0].wire_len()
    );
    assert!(received[0].is_compressed() && sent[0].is_compressed());
    assert!(received[0].wire_len() < request.encoded_len() / 4);
    assert!(sent[0].wire_len() < reply.encoded_len() / 4);
}

/// Connect requests over HTTP/2 (bidi needs it), proto codec.
async fn connect_call(client: &mut Client, path: &str, body: Vec<u8>, streaming: bool) -> Bytes {
    let content_type = match streaming {
        true => "application/connect+proto",
        false => "application/proto",
    };
    let request = Request::post(path)
        .header("content-type", content_type)
        .header("connect-protocol-version", "1")
        .body(full(body))
        .expect("request");
    let (head, body) = client.call(request).await;
    assert_eq!(head.status, http::StatusCode::OK, "{path}: {body:?}");
    body
}

/// The messages of a streaming Connect or gRPC-Web response (its
/// end-of-stream or trailers envelope left out).
fn stream_messages(body: &[u8]) -> Vec<WireMessage> {
    envelopes(body)
        .into_iter()
        .filter(|(flags, _)| flags & 0x82 == 0)
        .map(|(flags, payload)| WireMessage::new(payload.len(), flags & 1 == 1))
        .collect()
}

fn enveloped(requests: &[EchoRequest]) -> Vec<u8> {
    let each = requests.iter().map(|r| envelope(0, &r.encode_to_vec()));
    each.flatten().collect()
}

#[test]
fn server_tracer_sees_every_message_of_connect_and_grpc_web_calls() {
    let log = ServerLog::default();
    let server = traced_server(&log);
    let requests = [echo("a"), echo("bb"), echo("ccc")];
    let one = streamed("x", 2);
    let bodies = runtime().block_on(async {
        let mut client = Client::connect(server.port(), Version::Http2).await;
        let unary = connect_call(&mut client, UNARY, one.encode_to_vec(), false).await;
        let gzipped = Request::post(UNARY)
            .header("content-type", "application/proto")
            .header("content-encoding", "gzip")
            .body(full(gzip(&one.encode_to_vec())))
            .expect("request");
        let (_, _) = client.call(gzipped).await;
        let out = connect_call(
            &mut client,
            SERVER_STREAM,
            enveloped(std::slice::from_ref(&one)),
            true,
        );
        let out = out.await;
        let input = connect_call(&mut client, CLIENT_STREAM, enveloped(&requests), true).await;
        let bidi = connect_call(&mut client, BIDI, enveloped(&requests), true).await;
        let web = Request::post(UNARY)
            .header("content-type", "application/grpc-web+proto")
            .body(full(enveloped(std::slice::from_ref(&one))))
            .expect("request");
        let (_, web) = client.call(web).await;
        [unary, out, input, bidi, web]
    });
    let [unary, out, input, bidi, web] = bodies;
    let calls: Vec<CallLog> = (0..6).map(|i| log.ended_call(i)).collect();
    for call in &calls[..5] {
        assert_eq!(call.head.protocol, Protocol::Connect, "{call:?}");
        assert_eq!(call.seen.last(), Some(&Seen::Ended(Code::Ok)), "{call:?}");
    }
    let expected = [
        Seen::Received(plain(&one)),
        Seen::Headers,
        Seen::Sent(WireMessage::new(unary.len(), false)),
        Seen::Ended(Code::Ok),
    ];
    assert_eq!(calls[0].seen, expected);
    let gzipped = WireMessage::new(gzip(&one.encode_to_vec()).len(), true);
    assert_eq!(calls[1].received(), [gzipped]);
    assert_eq!(calls[2].head.method, SERVER_STREAM);
    assert_eq!(calls[2].received(), [plain(&one)]);
    assert_eq!(calls[2].sent(), stream_messages(&out));
    assert_eq!(calls[2].sent().len(), 2);
    let plain_requests: Vec<WireMessage> = requests.iter().map(plain).collect();
    assert_eq!(calls[3].received(), plain_requests);
    assert_eq!(calls[3].sent(), stream_messages(&input));
    assert_eq!(calls[4].head.method, BIDI);
    assert_eq!(calls[4].received(), plain_requests);
    assert_eq!(calls[4].sent(), stream_messages(&bidi));
    assert_eq!(calls[4].sent().len(), 3);
    assert_eq!(calls[5].head.protocol, Protocol::GrpcWeb);
    assert_eq!(calls[5].received(), [plain(&one)]);
    assert_eq!(calls[5].sent(), stream_messages(&web));
    assert_eq!(log.calls(), 6);
}

// ---- client ---------------------------------------------------------------

/// What a client attempt was.
#[derive(Clone, Debug)]
struct AttemptHead {
    method: String,
    previous: u32,
    transparent: bool,
    call_id: Option<String>,
}

type ClientLog = Log<AttemptHead>;
type AttemptLog = Entry<AttemptHead>;

impl ClientTracer for ClientLog {
    fn start_attempt(&self, attempt: &AttemptInfo<'_>) -> Option<Box<dyn AttemptTracer>> {
        let head = AttemptHead {
            method: attempt.method().to_owned(),
            previous: attempt.previous_attempts(),
            transparent: attempt.is_transparent_retry(),
            call_id: attempt.metadata().get(CALL_ID).map(str::to_owned),
        };
        Some(self.start(head))
    }
}

impl AttemptTracer for Recording<AttemptHead> {
    fn message_sent(&self, message: WireMessage) {
        self.push(Seen::Sent(message));
    }
    fn headers_received(&self, _metadata: &Metadata) {
        self.push(Seen::Headers);
    }
    fn message_received(&self, message: WireMessage) {
        self.push(Seen::Received(message));
    }
    fn attempt_ended(&self, status: &Status) {
        self.push(Seen::Ended(status.code()));
    }
}

fn call_who(channel: &grpc_core::Channel, id: &str, fail_first: &str) -> Result<String, Status> {
    let metadata = Metadata::from_pairs([(CALL_ID, id), (FAIL_FIRST, fail_first)]);
    channel
        .unary_unary::<String, String>(WHO)
        .with_options(
            CallOptions::new()
                .timeout(PATIENCE)
                .metadata(metadata.expect("metadata")),
        )
        .call(String::from("hi"))
        .map_err(|error| Status::new(error.code(), error.details()))
}

fn policy_channel(target: &str, policy: &str, log: &ClientLog) -> grpc_core::Channel {
    let config = ServiceConfig::from_json(&format!(
        r#"{{"methodConfig": [{{"name": [{{"service": "demo.Lb"}}], {policy}}}]}}"#
    ))
    .expect("service config");
    ChannelBuilder::new(target)
        .service_config(config)
        .tracer(log.clone())
        .build()
        .expect("channel")
}

#[test]
fn every_retry_is_an_attempt_with_its_previous_attempts() {
    let backend = Backend::start("flaky");
    let log = ClientLog::default();
    let policy = r#""retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.01s",
        "maxBackoff": "0.05s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}"#;
    let channel = policy_channel(&backend.address(), policy, &log);
    assert_eq!(
        call_who(&channel, "retried", "2").expect("retried"),
        "flaky"
    );
    let attempts = log.entries();
    let previous: Vec<u32> = attempts.iter().map(|a| a.head.previous).collect();
    assert_eq!(previous, [0, 1, 2]);
    let codes: Vec<Option<Code>> = attempts.iter().map(AttemptLog::code).collect();
    assert_eq!(
        codes,
        [
            Some(Code::Unavailable),
            Some(Code::Unavailable),
            Some(Code::Ok)
        ]
    );
    let request = plain(&String::from("hi"));
    for attempt in &attempts {
        assert_eq!(attempt.head.method, WHO);
        assert_eq!(attempt.head.call_id.as_deref(), Some("retried"));
        assert!(!attempt.head.transparent);
        assert_eq!(attempt.seen.first(), Some(&Seen::Sent(request)));
    }
    // The failures were Trailers-Only; the success had headers and a reply.
    assert_eq!(
        attempts[0].seen,
        [Seen::Sent(request), Seen::Ended(Code::Unavailable)]
    );
    let reply = plain(&String::from("flaky"));
    let expected = [
        Seen::Sent(request),
        Seen::Headers,
        Seen::Received(reply),
        Seen::Ended(Code::Ok),
    ];
    assert_eq!(attempts[2].seen, expected);
    // What the server saw agrees.
    let seen_by_server = backend.behaviour.previous_attempts.lock().unwrap().clone();
    assert_eq!(seen_by_server, ["", "1", "2"]);
}

#[test]
fn every_hedge_is_an_attempt_and_the_abandoned_one_ends_cancelled() {
    let backend = Backend::start("hedged");
    let log = ClientLog::default();
    // Non-fatal failures send the next hedge at once.
    let policy = r#""hedgingPolicy": {"maxAttempts": 3, "hedgingDelay": "10s",
        "nonFatalStatusCodes": ["UNAVAILABLE"]}"#;
    let channel = policy_channel(&backend.address(), policy, &log);
    assert_eq!(
        call_who(&channel, "failing", "2").expect("hedged"),
        "hedged"
    );
    let attempts = log.entries();
    let summary: Vec<(u32, Option<Code>)> = attempts
        .iter()
        .map(|a| (a.head.previous, a.code()))
        .collect();
    assert_eq!(
        summary,
        [
            (0, Some(Code::Unavailable)),
            (1, Some(Code::Unavailable)),
            (2, Some(Code::Ok))
        ]
    );
    // A slow backend: the second hedge goes out while the first waits;
    // the first answer wins and the other attempt is abandoned.
    let log = ClientLog::default();
    let policy = r#""hedgingPolicy": {"maxAttempts": 2, "hedgingDelay": "0.05s"}"#;
    let channel = policy_channel(&backend.address(), policy, &log);
    backend
        .behaviour
        .delay_ms
        .store(500, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(call_who(&channel, "slow", "0").expect("hedged"), "hedged");
    let attempts = log.entries();
    let mut previous: Vec<u32> = attempts.iter().map(|a| a.head.previous).collect();
    previous.sort_unstable();
    assert_eq!(previous, [0, 1]);
    let mut codes: Vec<Option<Code>> = attempts.iter().map(AttemptLog::code).collect();
    codes.sort_by_key(|code| code.map(Code::value));
    assert_eq!(codes, [Some(Code::Ok), Some(Code::Cancelled)]);
}

#[test]
fn transparent_retries_of_refused_streams_are_attempts_too() {
    let rt = runtime();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    // Refuses every stream unprocessed.
    rt.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let Ok(mut connection) = h2::server::handshake(tcp).await else {
                    return;
                };
                while let Some(Ok((_, mut respond))) = connection.accept().await {
                    respond.send_reset(h2::Reason::REFUSED_STREAM);
                }
            });
        }
    });
    let log = ClientLog::default();
    let channel = ChannelBuilder::new(format!("127.0.0.1:{port}"))
        .tracer(log.clone())
        .build()
        .expect("channel");
    let error = TestServiceStub::new(channel)
        .unary_call()
        .with_options(CallOptions::new().timeout(PATIENCE))
        .call(echo("refused"))
        .expect_err("refused");
    assert_eq!(error.code(), Code::Unavailable);
    let attempts = log.entries();
    let kinds: Vec<(u32, bool, Option<Code>)> = attempts
        .iter()
        .map(|a| (a.head.previous, a.head.transparent, a.code()))
        .collect();
    let refused = Some(Code::Unavailable);
    assert_eq!(
        kinds,
        [(0, false, refused), (0, true, refused), (0, true, refused)]
    );
    drop(rt);
}

#[test]
fn client_tracer_sees_every_message_of_the_four_patterns() {
    let server = TestServer::start();
    let log = ClientLog::default();
    let channel = ChannelBuilder::new(server.target())
        .tracer(log.clone())
        .build()
        .expect("channel");
    let stub = TestServiceStub::new(channel);
    let request = streamed("out", 3);
    let reply = stub.unary_call().call(request.clone()).expect("unary");
    let replies: Vec<EchoResponse> = stub
        .streaming_output_call()
        .call(request.clone())
        .expect("server stream")
        .collect::<Result<_, _>>()
        .expect("responses");
    let requests = vec![echo("a"), echo("bb"), echo("ccc")];
    let summary = stub
        .streaming_input_call()
        .call(requests.clone().into_iter())
        .expect("client stream");
    let echoed: Vec<EchoResponse> = stub
        .full_duplex_call()
        .call(requests.clone().into_iter())
        .expect("bidi")
        .collect::<Result<_, _>>()
        .expect("responses");

    let attempts = log.entries();
    assert_eq!(attempts.len(), 4);
    let methods: Vec<&str> = attempts.iter().map(|a| a.head.method.as_str()).collect();
    assert_eq!(methods, [UNARY, SERVER_STREAM, CLIENT_STREAM, BIDI]);
    let plain_all = |messages: &[EchoResponse]| messages.iter().map(plain).collect::<Vec<_>>();
    let plain_requests: Vec<WireMessage> = requests.iter().map(plain).collect();
    let expected_unary = [
        Seen::Sent(plain(&request)),
        Seen::Headers,
        Seen::Received(plain(&reply)),
        Seen::Ended(Code::Ok),
    ];
    assert_eq!(attempts[0].seen, expected_unary);
    assert_eq!(attempts[1].received(), plain_all(&replies));
    assert_eq!(attempts[2].sent(), plain_requests);
    assert_eq!(attempts[2].received(), [plain(&summary)]);
    assert_eq!(attempts[3].sent(), plain_requests);
    assert_eq!(attempts[3].received(), plain_all(&echoed));
    for attempt in &attempts {
        assert_eq!(attempt.code(), Some(Code::Ok), "{attempt:?}");
        assert_eq!(attempt.head.previous, 0);
    }
}

#[test]
fn client_tracer_sees_connect_and_grpc_web_calls_as_one_attempt_each() {
    let server = TestServer::start();
    for protocol in [ClientProtocol::connect(), ClientProtocol::grpc_web()] {
        let log = ClientLog::default();
        let channel = ChannelBuilder::new(server.target())
            .protocol(protocol.clone())
            .tracer(log.clone())
            .build()
            .expect("channel");
        let stub = TestServiceStub::new(channel);
        let request = streamed("web", 2);
        let reply = stub.unary_call().call(request.clone()).expect("unary");
        let replies: Vec<EchoResponse> = stub
            .streaming_output_call()
            .call(request.clone())
            .expect("server stream")
            .collect::<Result<_, _>>()
            .expect("responses");
        let requests = vec![echo("a"), echo("bb")];
        let summary = stub
            .streaming_input_call()
            .call(requests.clone().into_iter())
            .expect("client stream");
        let attempts = log.entries();
        let name = protocol.protocol().name();
        assert_eq!(attempts.len(), 3, "{name}: {attempts:?}");
        let expected = [
            Seen::Sent(plain(&request)),
            Seen::Headers,
            Seen::Received(plain(&reply)),
            Seen::Ended(Code::Ok),
        ];
        assert_eq!(attempts[0].seen, expected, "{name}");
        let mut streamed = vec![Seen::Sent(plain(&request)), Seen::Headers];
        streamed.extend(replies.iter().map(|r| Seen::Received(plain(r))));
        streamed.push(Seen::Ended(Code::Ok));
        assert_eq!(attempts[1].seen, streamed, "{name}");
        let sent: Vec<Seen> = requests.iter().map(|r| Seen::Sent(plain(r))).collect();
        assert_eq!(attempts[2].seen[..2], sent[..], "{name}: {:?}", attempts[2]);
        assert_eq!(
            attempts[2].seen[2..],
            [
                Seen::Headers,
                Seen::Received(plain(&summary)),
                Seen::Ended(Code::Ok)
            ],
            "{name}"
        );
    }
}
