//! Generated async servicers (`Async<Service>Servicer`, implemented with
//! `async fn`) answer generated stubs over loopback, through both client
//! faces: streaming across packages, well-known types, keyword names,
//! deprecated services and the `UNIMPLEMENTED` defaults.

use std::time::Duration;

use futures_util::{StreamExt, stream};
use grpc_core::{Code, RequestStream, Server, ServicerContext, Status, Stream, insecure_channel};
use rustgrpc_codegen_tests::generated::hard;

use hard::common::deep::inner::Envelope;
use hard::common::{Color, Point};
use hard::r#type::self_::Match;

fn point(x: i32, y: i32) -> Point {
    Point {
        x,
        y,
        ..Point::default()
    }
}

struct AsyncRelay;

impl hard::streaming::AsyncRelayServicer for AsyncRelay {
    async fn fan(
        &self,
        request: Point,
        context: &ServicerContext,
    ) -> Result<impl Stream<Item = Result<Envelope, Status>> + Send + 'static, Status> {
        // An await before the stream starts, and the context afterwards.
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(context.is_active());
        Ok(stream::iter(0..3_u64).then(move |seq| {
            let point = request.clone();
            async move {
                tokio::task::yield_now().await;
                Ok(Envelope {
                    point: Some(point),
                    seq,
                    colors: vec![Color::Green as i32],
                    ..Envelope::default()
                })
            }
        }))
    }

    async fn collect(
        &self,
        mut requests: RequestStream<Envelope>,
        _context: &ServicerContext,
    ) -> Result<Point, Status> {
        let mut sum = point(0, 0);
        // With `StreamExt` in scope, method syntax is unambiguous (E0034 before
        // the request stream stopped being an `Iterator` too).
        while let Some(envelope) = requests.next().await {
            let p = envelope?.point.unwrap_or_default();
            sum.x += p.x;
            sum.y += p.y;
        }
        Ok(sum)
    }

    async fn echo(
        &self,
        requests: RequestStream<Point>,
        _context: &ServicerContext,
    ) -> Result<impl Stream<Item = Result<Point, Status>> + Send + 'static, Status> {
        Ok(requests.map(|p| p.map(|p| point(p.y, p.x))))
    }

    async fn now(
        &self,
        _request: (),
        _context: &ServicerContext,
    ) -> Result<prost_types::Timestamp, Status> {
        Ok(prost_types::Timestamp {
            seconds: 1_800_000_000,
            nanos: 7,
        })
    }

    async fn ping(
        &self,
        request: prost_types::Timestamp,
        context: &ServicerContext,
    ) -> Result<(), Status> {
        if request.seconds == 42 {
            Ok(())
        } else {
            Err(context.abort(Code::InvalidArgument, "expected 42 seconds"))
        }
    }

    // `ticks` and `stamp` keep the generated defaults.
}

/// A started server on a loopback port, stopped when dropped.
struct Fixture {
    server: Server,
    target: String,
}

impl Fixture {
    fn start(register: impl FnOnce(&Server)) -> Fixture {
        let server = Server::builder().max_workers(2).build();
        register(&server);
        let port = server
            .add_insecure_port("127.0.0.1:0")
            .expect("bind a loopback port");
        server.start().expect("start the server");
        Fixture {
            server,
            target: format!("127.0.0.1:{port}"),
        }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = self.server.stop(None).wait_timeout(Duration::from_secs(5));
    }
}

#[test]
fn async_servicer_answers_the_blocking_face() {
    let fixture = Fixture::start(|server| {
        hard::streaming::add_async_relay_servicer_to_server(AsyncRelay, server);
    });
    let stub = hard::streaming::RelayStub::new(insecure_channel(&fixture.target).unwrap());

    let fanned: Vec<Envelope> = stub
        .fan()
        .call(point(1, 2))
        .expect("fan starts")
        .collect::<Result<_, _>>()
        .expect("fan streams");
    assert_eq!(fanned.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(fanned[1].point, Some(point(1, 2)));
    assert_eq!(fanned[0].colors().collect::<Vec<_>>(), [Color::Green]);

    let envelopes = (1..=3).map(|n| Envelope {
        point: Some(point(n, 10 * n)),
        ..Envelope::default()
    });
    assert_eq!(stub.collect().call(envelopes).unwrap(), point(6, 60));
    let echoed: Vec<Point> = stub
        .echo()
        .call(vec![point(1, 2), point(3, 4)])
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(echoed, [point(2, 1), point(4, 3)]);
    assert_eq!(stub.now().call(()).unwrap().seconds, 1_800_000_000);
    let error = stub
        .ping()
        .call(prost_types::Timestamp::default())
        .unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    assert_eq!(error.details(), "expected 42 seconds");

    // The generated defaults, unary and server-streaming.
    let error = stub
        .stamp()
        .call(hard::streaming::Stamped::default())
        .unwrap_err();
    assert_eq!(
        (error.code(), error.details()),
        (Code::Unimplemented, "Method not implemented!")
    );
    let mut ticks = stub.ticks().call(()).expect("ticks start");
    let error = ticks.next().expect("an error").unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_servicer_answers_the_async_face() {
    // Built inside the runtime: the server runs its tasks on it.
    let fixture = Fixture::start(|server| {
        hard::streaming::add_async_relay_servicer_to_server(AsyncRelay, server);
    });
    let stub = hard::streaming::RelayStub::new(insecure_channel(&fixture.target).unwrap());

    let mut fanned = stub.fan().call_async(point(5, 6)).await.expect("fan");
    let mut seqs = Vec::new();
    while let Some(envelope) = fanned.next().await {
        seqs.push(envelope.expect("an envelope").seq);
    }
    assert_eq!(seqs, [0, 1, 2]);
    assert_eq!(fanned.code().await, Code::Ok);

    let envelopes = stream::iter((1..=4).map(|n| Envelope {
        point: Some(point(n, n)),
        ..Envelope::default()
    }));
    let (sum, call) = stub.collect().with_call_async(envelopes).await.unwrap();
    assert_eq!(sum, point(10, 10));
    assert_eq!(call.code(), Code::Ok);

    let echoed: Vec<Point> = stub
        .echo()
        .call_async(stream::iter([point(7, 8), point(9, 10)]))
        .await
        .unwrap()
        .map(|p| p.expect("a point"))
        .collect()
        .await;
    assert_eq!(echoed, [point(8, 7), point(10, 9)]);

    stub.ping()
        .call_async(prost_types::Timestamp {
            seconds: 42,
            nanos: 0,
        })
        .await
        .expect("ping");
    let mut ticks = stub.ticks().call_async(()).await.unwrap();
    let error = ticks.next().await.expect("an error").unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    assert!(ticks.next().await.is_none());
}

// --- keyword names and deprecated services, async -----------------------------

struct AsyncKeywords;

impl hard::r#type::self_::AsyncAsyncServicer for AsyncKeywords {
    async fn r#type(&self, request: Match, context: &ServicerContext) -> Result<Match, Status> {
        Ok(Match {
            r#type: format!("async type at {}", context.method()),
            ..request
        })
    }

    async fn r#loop(
        &self,
        requests: RequestStream<Match>,
        _context: &ServicerContext,
    ) -> Result<Match, Status> {
        let count = requests.count().await;
        Ok(Match {
            r#async: i32::try_from(count).unwrap_or(i32::MAX),
            ..Match::default()
        })
    }
}

struct AsyncDocs;

#[allow(deprecated)]
impl hard::docs::AsyncDocumentedServicer for AsyncDocs {
    async fn old(
        &self,
        request: hard::docs::Note,
        _context: &ServicerContext,
    ) -> Result<hard::docs::Note, Status> {
        Ok(hard::docs::Note {
            author: Some("old, async".into()),
            ..request
        })
    }
}

#[test]
#[allow(deprecated)]
fn keyword_and_deprecated_async_servicers() {
    let fixture = Fixture::start(|server| {
        hard::r#type::self_::add_async_async_servicer_to_server(AsyncKeywords, server);
        hard::docs::add_async_documented_servicer_to_server(AsyncDocs, server);
    });
    let channel = insecure_channel(&fixture.target).unwrap();
    let stub = hard::r#type::self_::AsyncStub::new(channel.clone());
    assert_eq!(
        stub.r#type().call(Match::default()).unwrap().r#type,
        "async type at /hard.type.self.async/type"
    );
    assert_eq!(
        stub.r#loop()
            .call(vec![Match::default(); 3])
            .unwrap()
            .r#async,
        3
    );
    assert_eq!(
        stub.r#match().call(Match::default()).unwrap_err().code(),
        Code::Unimplemented
    );
    let mut streamed = stub.r#fn().call(Match::default()).unwrap();
    assert_eq!(
        streamed.next().unwrap().unwrap_err().code(),
        Code::Unimplemented
    );

    let docs = hard::docs::DocumentedStub::new(channel);
    let note = hard::docs::Note::default();
    assert_eq!(
        docs.old().call(note.clone()).unwrap().author(),
        "old, async"
    );
    assert_eq!(
        docs.current().call(note).unwrap_err().code(),
        Code::Unimplemented
    );
}
