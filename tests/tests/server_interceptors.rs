//! Server interceptors over real sockets, on both servicer faces: order,
//! rejection before any worker runs, request-scoped values, and what an
//! interceptor sees after the handler ends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use grpc_core::{
    CallOptions, Code, Continuation, HandlerCallDetails, Metadata, Server, ServerInterceptor,
    ServicerContext, Status,
};
use rustgrpc_tests::{EchoRequest, EventKind, ServicerFace, TestServer, echo, entry, tagged};

const FACES: [ServicerFace; 2] = [ServicerFace::Blocking, ServicerFace::Async];

/// What the interceptors saw, in order.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: String) {
        self.0.lock().unwrap().push(line);
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }

    /// Waits until `count` lines are in (the chain's last step may run
    /// just after the client has its answer).
    fn wait_for(&self, count: usize) -> Vec<String> {
        let started = Instant::now();
        while self.0.lock().unwrap().len() < count && started.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.lines()
    }
}

/// Logs around the continuation: `name>` before, `<name CODE` after.
struct Around {
    name: &'static str,
    log: Log,
}

impl ServerInterceptor for Around {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        self.log
            .push(format!("{}> {}", self.name, details.method()));
        let status = continuation.call(details).await;
        self.log
            .push(format!("<{} {}", self.name, status.code().name()));
        status
    }
}

/// Lets calls with `authorization: Bearer secret` through and records who
/// the caller is for the handler; rejects the rest.
struct Auth;

#[derive(Clone, Debug, PartialEq)]
struct User(String);

impl ServerInterceptor for Auth {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        // An async check, as a token lookup over the network would be.
        tokio::task::yield_now().await;
        let token = details.invocation_metadata().get("authorization");
        match token.and_then(|value| value.strip_prefix("Bearer ")) {
            Some("secret") => {
                details.context().insert_extension(User("alice".into()));
                continuation.call(details).await
            }
            _ => Status::unauthenticated("missing or invalid bearer token"),
        }
    }
}

fn bearer(token: &str, tag: &str) -> CallOptions {
    let mut metadata =
        Metadata::from_pairs([("authorization", format!("Bearer {token}"))]).expect("metadata");
    metadata
        .append(rustgrpc_tests::TAG_KEY, tag)
        .expect("tag metadata");
    CallOptions::new().metadata(metadata)
}

#[test]
fn interceptors_run_outermost_first_around_the_handler() {
    for face in FACES {
        let log = Log::default();
        let builder = Server::builder()
            .interceptor(Around {
                name: "a",
                log: log.clone(),
            })
            .interceptor(Around {
                name: "b",
                log: log.clone(),
            });
        let server = TestServer::start_face(builder, face);
        let reply = server
            .stub()
            .unary_call()
            .with_options(tagged("order"))
            .call(echo("hi"))
            .expect("call");
        assert_eq!(reply.message, "hi");
        let method = "/rustgrpc.testing.TestService/UnaryCall";
        assert_eq!(
            log.wait_for(4),
            [
                format!("a> {method}"),
                format!("b> {method}"),
                "<b OK".to_owned(),
                "<a OK".to_owned()
            ],
            "{face:?}"
        );
        assert_eq!(server.events().count("order", EventKind::Started), 1);
    }
}

#[test]
fn a_rejected_call_never_reaches_a_worker() {
    // One worker, kept busy by a slow call: a rejection is answered while
    // it is still busy, and the handler never starts for it.
    let server = TestServer::start_face(
        Server::builder().max_workers(1).interceptor(Auth),
        ServicerFace::Blocking,
    );
    let stub = server.stub();
    let slow = stub
        .unary_call()
        .with_options(bearer("secret", "slow"))
        .future(EchoRequest {
            sleep_ms: 1500,
            ..echo("slow")
        });
    server
        .events()
        .expect("slow", EventKind::Started, Duration::from_secs(10));
    let error = stub
        .unary_call()
        .with_options(bearer("wrong", "rejected"))
        .call(echo("x"))
        .expect_err("rejected");
    assert_eq!(error.code(), Code::Unauthenticated);
    assert_eq!(error.details(), "missing or invalid bearer token");
    assert!(
        !slow.done(),
        "the rejection waited for the only worker to be free"
    );
    assert_eq!(server.events().count("rejected", EventKind::Started), 0);
    assert_eq!(slow.result(None).expect("slow call").message, "slow");
}

#[test]
fn a_request_scoped_value_reaches_the_handler() {
    let server = Server::builder().interceptor(Auth).build();
    let mut service = grpc_core::ServiceBuilder::new("scoped.Who");
    service.unary_unary("Blocking", |_: String, ctx: &ServicerContext| {
        Ok(format!("{:?}", ctx.extension::<User>()))
    });
    service.unary_unary_async("Async", |_: String, ctx: ServicerContext| async move {
        Ok(format!("{:?}", ctx.extension::<User>()))
    });
    server.add_service(service.build());
    let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
    server.start().expect("start");
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).expect("channel");
    for method in ["/scoped.Who/Blocking", "/scoped.Who/Async"] {
        let who = channel
            .unary_unary::<String, String>(method)
            .with_options(bearer("secret", "who"))
            .call(String::new())
            .expect("call");
        assert_eq!(who, r#"Some(User("alice"))"#, "{method}");
    }
    server.stop(None).wait();
}

/// Records the final code, trailing metadata and time of every call, and
/// stamps its own trailing metadata on the way out.
struct Observe {
    log: Log,
}

impl ServerInterceptor for Observe {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        let started = Instant::now();
        let mut status = continuation.call(details).await;
        let trailing: Vec<String> = status
            .metadata()
            .iter()
            .map(|(key, value)| format!("{key}={}", String::from_utf8_lossy(value.as_bytes())))
            .collect();
        self.log.push(format!(
            "{} [{}] {}",
            status.code().name(),
            trailing.join(","),
            started.elapsed() > Duration::ZERO
        ));
        status
            .metadata_mut()
            .append("served-by", "observer")
            .expect("ascii metadata");
        status
    }
}

#[test]
fn an_interceptor_sees_how_the_call_ended_and_may_add_to_it() {
    for face in FACES {
        let log = Log::default();
        let server = TestServer::start_face(
            Server::builder().interceptor(Observe { log: log.clone() }),
            face,
        );
        let stub = server.stub();
        // A handler error with trailing metadata.
        let error = stub
            .unary_call()
            .call(EchoRequest {
                fail_code: Code::InvalidArgument.value(),
                fail_message: "bad".into(),
                trailing_metadata: vec![entry("why", "test")],
                ..echo("x")
            })
            .expect_err("fails");
        assert_eq!(error.code(), Code::InvalidArgument);
        assert_eq!(error.trailing_metadata().get("served-by"), Some("observer"));
        assert_eq!(error.trailing_metadata().get("why"), Some("test"));
        // A handler still sleeping when the deadline passes.
        let error = stub
            .unary_call()
            .with_options(CallOptions::new().timeout(Duration::from_millis(200)))
            .call(EchoRequest {
                sleep_ms: 5000,
                ..echo("late")
            })
            .expect_err("deadline");
        assert_eq!(error.code(), Code::DeadlineExceeded);
        let lines = log.wait_for(2);
        assert_eq!(lines[0], "INVALID_ARGUMENT [why=test] true", "{face:?}");
        // The server's own deadline, or the client's reset that follows its
        // deadline, whichever reaches the RPC first.
        assert!(
            ["DEADLINE_EXCEEDED [] true", "CANCELLED [] true"].contains(&lines[1].as_str()),
            "{face:?}: {lines:?}"
        );
        assert_eq!(lines.len(), 2);
    }
}

#[test]
fn interceptors_wrap_streaming_calls_too() {
    for face in FACES {
        let log = Log::default();
        let server = TestServer::start_face(
            Server::builder().interceptor(Around {
                name: "s",
                log: log.clone(),
            }),
            face,
        );
        let stub = server.stub();
        let responses: Vec<_> = stub
            .streaming_output_call()
            .call(EchoRequest {
                response_count: 3,
                ..echo("stream")
            })
            .expect("call")
            .collect::<Result<_, _>>()
            .expect("responses");
        assert_eq!(responses.len(), 3);
        let summary = stub
            .streaming_input_call()
            .call(vec![echo("a"), echo("b")])
            .expect("call");
        assert_eq!(summary.message, "a,b");
        let lines = log.wait_for(4);
        assert_eq!(
            lines,
            [
                "s> /rustgrpc.testing.TestService/StreamingOutputCall",
                "<s OK",
                "s> /rustgrpc.testing.TestService/StreamingInputCall",
                "<s OK"
            ],
            "{face:?}"
        );
    }
}

/// The README's interceptor, as written there, on a real server.
mod readme {
    use grpc_core::{Continuation, HandlerCallDetails, ServerInterceptor, Status};

    #[derive(Clone)]
    pub(super) struct User(pub(super) String);

    pub(super) struct Auth;
    impl ServerInterceptor for Auth {
        async fn intercept_service(&self, next: Continuation, call: &HandlerCallDetails) -> Status {
            match call.invocation_metadata().get("authorization") {
                Some("Bearer secret") => {
                    // Handlers read it back with ctx.extension::<User>().
                    call.context().insert_extension(User("alice".into()));
                    next.call(call).await
                }
                _ => Status::unauthenticated("a valid bearer token is required"),
            }
        }
    }
}

#[test]
fn the_readme_interceptor_works_as_shown() {
    let server = Server::builder().interceptor(readme::Auth).build();
    let mut service = grpc_core::ServiceBuilder::new("readme.Who");
    service.unary_unary("Am", |_: String, ctx: &ServicerContext| {
        Ok(ctx
            .extension::<readme::User>()
            .map(|user| user.0)
            .unwrap_or_default())
    });
    server.add_service(service.build());
    let port = server.add_insecure_port("127.0.0.1:0").expect("bind");
    server.start().expect("start");
    let channel = grpc_core::insecure_channel(&format!("127.0.0.1:{port}")).expect("channel");
    let who = channel.unary_unary::<String, String>("/readme.Who/Am");
    assert_eq!(
        who.clone()
            .with_options(bearer("secret", "readme"))
            .call(String::new())
            .expect("call"),
        "alice"
    );
    let error = who.call(String::new()).expect_err("no token");
    assert_eq!(error.code(), Code::Unauthenticated);
    server.stop(None).wait();
}

/// Panics before calling the continuation when the caller asks it to:
/// its task ends without the chain ever producing a status.
struct PanicsOnRequest;

impl ServerInterceptor for PanicsOnRequest {
    async fn intercept_service(
        &self,
        continuation: Continuation,
        details: &HandlerCallDetails,
    ) -> Status {
        if details.invocation_metadata().get("panic").is_some() {
            panic!("interceptor panicked on purpose");
        }
        continuation.call(details).await
    }
}

#[test]
fn a_handler_that_vanishes_ends_the_call_with_internal_not_a_hang() {
    for face in FACES {
        let server = TestServer::start_face(Server::builder().interceptor(PanicsOnRequest), face);
        let stub = server.stub();
        // A deadline far away: a call left hanging would end with it.
        let options = CallOptions::new()
            .timeout(Duration::from_secs(30))
            .metadata(Metadata::from_pairs([("panic", "yes")]).unwrap());
        let error = stub
            .unary_call()
            .with_options(options)
            .call(echo("x"))
            .expect_err("the chain vanished");
        assert_eq!(error.code(), Code::Internal, "{face:?}: {error:?}");
        assert_eq!(error.details(), "handler ended without a status");
        // The server goes on serving.
        let reply = stub.unary_call().call(echo("after")).expect("next call");
        assert_eq!(reply.message, "after", "{face:?}");
    }
}
