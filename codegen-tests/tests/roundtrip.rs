//! Generated stubs call generated servicers over loopback, for every hard
//! proto: cross-package streaming, well-known types, keyword names,
//! colliding names, renamed items, deprecated services, proto2 and a
//! package-less service.

use std::time::{Duration, SystemTime};

use grpc_core::{Channel, Code, Requests, Server, ServicerContext, Status, insecure_channel};
use rustgrpc_codegen_tests::generated::{self as generated, hard};

use hard::common::deep::inner::Envelope;
use hard::common::{Color, Path, Point, point};

/// A started server on a loopback port and a channel to it.
struct Fixture {
    server: Server,
    channel: Channel,
}

impl Fixture {
    fn start(register: impl FnOnce(&Server)) -> Fixture {
        let server = Server::builder().max_workers(4).build();
        register(&server);
        let port = server
            .add_insecure_port("127.0.0.1:0")
            .expect("bind a loopback port");
        server.start().expect("start the server");
        let channel = insecure_channel(&format!("127.0.0.1:{port}")).expect("channel");
        Fixture { server, channel }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.server.stop(Some(Duration::from_secs(1))).wait();
    }
}

fn point(x: i32, y: i32) -> Point {
    Point {
        x,
        y,
        ..Point::default()
    }
}

// --- hard.streaming: types from other packages, well-known types ---------

struct Relay;

impl hard::streaming::RelayServicer for Relay {
    fn fan(
        &self,
        request: Point,
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<Envelope, Status>> + Send + 'static, Status> {
        Ok((0..3_u64).map(move |seq| {
            Ok(Envelope {
                point: Some(request.clone()),
                seq,
                colors: vec![Color::Red as i32],
                ..Envelope::default()
            })
        }))
    }

    fn collect(
        &self,
        requests: Requests<Envelope>,
        _context: &ServicerContext,
    ) -> Result<Point, Status> {
        let mut sum = point(0, 0);
        for envelope in requests {
            let p = envelope?.point.unwrap_or_default();
            sum.x += p.x;
            sum.y += p.y;
        }
        Ok(sum)
    }

    fn echo(
        &self,
        requests: Requests<Point>,
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<Point, Status>> + Send + 'static, Status> {
        Ok(requests.map(|p| p.map(|p| point(p.y, p.x))))
    }

    fn now(
        &self,
        _request: (),
        _context: &ServicerContext,
    ) -> Result<prost_types::Timestamp, Status> {
        Ok(prost_types::Timestamp {
            seconds: 1_700_000_000,
            nanos: 5,
        })
    }

    fn ping(
        &self,
        request: prost_types::Timestamp,
        _context: &ServicerContext,
    ) -> Result<(), Status> {
        if request.seconds == 42 {
            Ok(())
        } else {
            Err(Status::invalid_argument("expected 42 seconds"))
        }
    }

    fn ticks(
        &self,
        _request: (),
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<prost_types::Timestamp, Status>> + Send + 'static, Status>
    {
        Ok((1..=2).map(|seconds| Ok(prost_types::Timestamp { seconds, nanos: 0 })))
    }

    fn stamp(
        &self,
        request: hard::streaming::Stamped,
        _context: &ServicerContext,
    ) -> Result<hard::streaming::Stamped, Status> {
        Ok(hard::streaming::Stamped {
            at: Some(prost_types::Timestamp::from(SystemTime::UNIX_EPOCH)),
            ..request
        })
    }
}

#[test]
fn streaming_across_packages_and_well_known_types() {
    let fixture =
        Fixture::start(|server| hard::streaming::add_relay_servicer_to_server(Relay, server));
    let stub = hard::streaming::RelayStub::new(fixture.channel.clone());

    let labelled = Point {
        label: Some(point::Label {
            text: "p".into(),
            style: Some(point::label::Style { bold: true }),
        }),
        extra: Some(point::Extra::Id(9)),
        nickname: Some("origin".into()),
        ..point(1, 2)
    };
    let fanned: Vec<Envelope> = stub
        .fan()
        .call(labelled.clone())
        .expect("fan starts")
        .collect::<Result<_, _>>()
        .expect("fan streams");
    assert_eq!(fanned.len(), 3);
    assert_eq!(fanned[2].seq, 2);
    assert_eq!(fanned[0].point.as_ref(), Some(&labelled));
    assert_eq!(fanned[0].colors().collect::<Vec<_>>(), [Color::Red]);

    let envelopes = (1..=3).map(|n| Envelope {
        point: Some(point(n, 10 * n)),
        ..Envelope::default()
    });
    assert_eq!(
        stub.collect().call(envelopes).expect("collect"),
        point(6, 60)
    );

    let echoed: Vec<Point> = stub
        .echo()
        .call(vec![point(1, 2), point(3, 4)])
        .expect("echo starts")
        .collect::<Result<_, _>>()
        .expect("echo streams");
    assert_eq!(echoed, [point(2, 1), point(4, 3)]);

    let now = stub.now().call(()).expect("now");
    assert_eq!((now.seconds, now.nanos), (1_700_000_000, 5));
    stub.ping()
        .call(prost_types::Timestamp {
            seconds: 42,
            nanos: 0,
        })
        .expect("ping");
    let error = stub
        .ping()
        .call(prost_types::Timestamp::default())
        .expect_err("ping with the wrong time");
    assert_eq!(error.code(), Code::InvalidArgument);
    let ticks: Vec<i64> = stub
        .ticks()
        .call(())
        .expect("ticks start")
        .map(|t| t.expect("tick").seconds)
        .collect();
    assert_eq!(ticks, [1, 2]);

    let stamped = stub
        .stamp()
        .call(hard::streaming::Stamped {
            at: None,
            point: Some(point(5, 5)),
        })
        .expect("stamp");
    assert_eq!(stamped.at, Some(prost_types::Timestamp::default()));
    assert_eq!(stamped.point, Some(point(5, 5)));
}

// --- hard.type.self: keywords everywhere ---------------------------------

use hard::r#type::self_::{Match, Self_};

struct Keywords;

fn tagged(mut m: Match, tag: &str) -> Match {
    m.r#type = tag.to_owned();
    m
}

impl hard::r#type::self_::AsyncServicer for Keywords {
    fn r#type(&self, request: Match, _context: &ServicerContext) -> Result<Match, Status> {
        Ok(tagged(request, "type"))
    }

    fn r#match(&self, request: Match, _context: &ServicerContext) -> Result<Match, Status> {
        Ok(tagged(request, "match"))
    }

    fn self_(&self, request: Self_, _context: &ServicerContext) -> Result<Self_, Status> {
        Ok(Self_ {
            self_: format!("Self:{}", request.self_),
            ..request
        })
    }

    fn self_2(&self, request: Self_, _context: &ServicerContext) -> Result<Self_, Status> {
        Ok(Self_ {
            self_: format!("self:{}", request.self_),
            ..request
        })
    }

    fn r#try(&self, request: Match, _context: &ServicerContext) -> Result<Match, Status> {
        Ok(Match {
            r#try: "tried".into(),
            r#async: request.r#async + 1,
            self_: true,
            r#gen: 7,
            crate_: "c".into(),
            super_: "s".into(),
            r#fn: "f".into(),
            r#await: true,
            ..request
        })
    }

    fn r#fn(
        &self,
        request: Match,
        _context: &ServicerContext,
    ) -> Result<impl Iterator<Item = Result<Match, Status>> + Send + 'static, Status> {
        Ok(vec![
            Ok(tagged(request.clone(), "fn1")),
            Ok(tagged(request, "fn2")),
        ]
        .into_iter())
    }

    fn r#loop(
        &self,
        requests: Requests<Match>,
        _context: &ServicerContext,
    ) -> Result<Match, Status> {
        let count = requests.count();
        Ok(Match {
            r#async: i32::try_from(count).unwrap_or(i32::MAX),
            ..Match::default()
        })
    }
}

struct SelfService;

impl hard::r#type::self_::SelfServicer for SelfService {
    fn r#impl(&self, request: Self_, _context: &ServicerContext) -> Result<Self_, Status> {
        Ok(Self_ {
            r#impl: Some(tagged(Match::default(), "impl")),
            ..request
        })
    }
}

#[test]
fn keyword_names_work_end_to_end() {
    let fixture = Fixture::start(|server| {
        hard::r#type::self_::add_async_servicer_to_server(Keywords, server);
        hard::r#type::self_::add_self_servicer_to_server(SelfService, server);
    });
    let stub = hard::r#type::self_::AsyncStub::new(fixture.channel.clone());
    assert_eq!(stub.r#type().call(Match::default()).unwrap().r#type, "type");
    assert_eq!(
        stub.r#match().call(Match::default()).unwrap().r#type,
        "match"
    );

    // `Self` and `self` are different RPCs whose Rust names collide.
    let request = Self_ {
        self_: "x".into(),
        r#impl: None,
    };
    assert_eq!(stub.self_().call(request.clone()).unwrap().self_, "Self:x");
    assert_eq!(stub.self_2().call(request.clone()).unwrap().self_, "self:x");
    assert_eq!(
        hard::r#type::self_::async_service::SELF,
        "/hard.type.self.async/Self"
    );
    assert_eq!(
        hard::r#type::self_::async_service::SELF_2,
        "/hard.type.self.async/self"
    );

    let tried = stub
        .r#try()
        .call(Match {
            r#async: 1,
            ..Match::default()
        })
        .unwrap();
    assert_eq!(tried.r#try, "tried");
    assert_eq!(tried.r#async, 2);
    assert!(tried.self_ && tried.r#await);

    let streamed: Vec<String> = stub
        .r#fn()
        .call(Match::default())
        .unwrap()
        .map(|m| m.unwrap().r#type)
        .collect();
    assert_eq!(streamed, ["fn1", "fn2"]);
    let looped = stub.r#loop().call(vec![Match::default(); 4]).unwrap();
    assert_eq!(looped.r#async, 4);

    // Not implemented by `Keywords`: the generated default answers.
    let error = stub.r#gen().call(Match::default()).unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);
    assert_eq!(error.details(), "Method not implemented!");

    let self_stub = hard::r#type::self_::SelfStub::new(fixture.channel.clone());
    let reply = self_stub.r#impl().call(request).unwrap();
    assert_eq!(reply.r#impl.map(|m| m.r#type).as_deref(), Some("impl"));
}

// --- hard.names: colliding and reserved names ------------------------------

use hard::names::{Item, ThingStub};

struct Things;

fn item(id: &str) -> Item {
    Item { id: id.to_owned() }
}

impl hard::names::ThingServicer for Things {
    fn get_foo(&self, _request: Item, _context: &ServicerContext) -> Result<Item, Status> {
        Ok(item("GetFoo"))
    }

    fn get_foo_2(&self, _request: Item, _context: &ServicerContext) -> Result<Item, Status> {
        Ok(item("get_foo"))
    }

    fn get_foo_3(&self, _request: Item, _context: &ServicerContext) -> Result<Item, Status> {
        Ok(item("GET_FOO"))
    }

    fn new_(&self, _request: Item, _context: &ServicerContext) -> Result<Item, Status> {
        Ok(item("New"))
    }

    fn clone_(&self, _request: Item, _context: &ServicerContext) -> Result<Item, Status> {
        Ok(item("Clone"))
    }

    fn name(&self, request: Item, context: &ServicerContext) -> Result<Item, Status> {
        Ok(item(&format!("{}@{}", request.id, context.method())))
    }
}

struct LowerThing;

impl hard::names::ThingServicer2 for LowerThing {
    fn ping(&self, request: Item, _context: &ServicerContext) -> Result<ThingStub, Status> {
        Ok(ThingStub { id: request.id })
    }
}

struct Named;

impl hard::names::ServerServicer for Named {
    fn serve(&self, _request: Item, _context: &ServicerContext) -> Result<Item, Status> {
        Ok(item("served"))
    }
}

impl hard::names::StubServicer for Named {
    fn call(&self, _request: Item, _context: &ServicerContext) -> Result<Item, Status> {
        Ok(item("called"))
    }
}

impl hard::names::EmptyServicer for Named {}
impl hard::names::ServicerServicer for Named {}

#[test]
fn colliding_and_reserved_names_reach_distinct_methods() {
    let fixture = Fixture::start(|server| {
        hard::names::add_thing_servicer_to_server(Things, server);
        hard::names::add_thing_servicer_to_server_2(LowerThing, server);
        hard::names::add_server_servicer_to_server(Named, server);
        hard::names::add_stub_servicer_to_server(Named, server);
        hard::names::add_empty_servicer_to_server(Named, server);
        hard::names::add_servicer_servicer_to_server(Named, server);
    });
    // The message `ThingStub` kept its name; the stub became `ThingStub2`.
    let stub = hard::names::ThingStub2::new(fixture.channel.clone());
    let id = |reply: Result<Item, grpc_core::RpcError>| reply.expect("call succeeds").id;
    assert_eq!(id(stub.get_foo().call(item(""))), "GetFoo");
    assert_eq!(id(stub.get_foo_2().call(item(""))), "get_foo");
    assert_eq!(id(stub.get_foo_3().call(item(""))), "GET_FOO");
    assert_eq!(id(stub.new_().call(item(""))), "New");
    assert_eq!(id(stub.clone_().call(item(""))), "Clone");
    assert_eq!(id(stub.name().call(item("n"))), "n@/hard.names.Thing/Name");
    assert_eq!(
        hard::names::thing_service_2::NAME_,
        "/hard.names.Thing/Name"
    );
    assert_eq!(hard::names::thing_service_2::NAME, "hard.names.Thing");
    // `Clone` on the stub is still the stub's clone.
    let copy: hard::names::ThingStub2 = stub.clone();
    assert_eq!(id(copy.get_foo().call(item(""))), "GetFoo");

    let lower = hard::names::ThingStub3::new(fixture.channel.clone());
    assert_eq!(lower.ping().call(item("p")).expect("ping").id, "p");
    assert_eq!(hard::names::thing_service_3::NAME, "hard.names.thing");

    let server_stub = hard::names::ServerStub::new(fixture.channel.clone());
    assert_eq!(id(server_stub.serve().call(item(""))), "served");
    let stub_stub = hard::names::StubStub::new(fixture.channel.clone());
    assert_eq!(id(stub_stub.call().call(item(""))), "called");
    let _empty = hard::names::EmptyStub::new(fixture.channel.clone());
    let _servicer = hard::names::ServicerStub::new(fixture.channel.clone());

    // The nested-type module that took `thing_service` is prost's.
    let _inner = hard::names::thing_service::Inner { on: true };
}

// --- hard.docs: deprecated services and methods -----------------------------

struct Docs;

#[allow(deprecated)]
impl hard::docs::DocumentedServicer for Docs {
    fn old(
        &self,
        request: hard::docs::Note,
        _context: &ServicerContext,
    ) -> Result<hard::docs::Note, Status> {
        Ok(hard::docs::Note {
            author: Some("old".into()),
            ..request
        })
    }

    fn current(
        &self,
        request: hard::docs::Note,
        _context: &ServicerContext,
    ) -> Result<hard::docs::Note, Status> {
        Ok(hard::docs::Note {
            author: Some("current".into()),
            ..request
        })
    }
}

impl hard::docs::MixedServicer for Docs {
    #[allow(deprecated)]
    fn legacy(
        &self,
        request: hard::docs::Note,
        _context: &ServicerContext,
    ) -> Result<hard::docs::Note, Status> {
        Ok(request)
    }
}

#[test]
#[allow(deprecated)]
fn deprecated_services_still_work() {
    let fixture = Fixture::start(|server| {
        hard::docs::add_documented_servicer_to_server(Docs, server);
        hard::docs::add_mixed_servicer_to_server(Docs, server);
    });
    let stub = hard::docs::DocumentedStub::new(fixture.channel.clone());
    let note = hard::docs::Note {
        text: "t".into(),
        ..hard::docs::Note::default()
    };
    assert_eq!(stub.old().call(note.clone()).unwrap().author(), "old");
    assert_eq!(
        stub.current().call(note.clone()).unwrap().author(),
        "current"
    );
    let error = stub.no_comment().call(note.clone()).unwrap_err();
    assert_eq!(error.code(), Code::Unimplemented);

    let mixed = hard::docs::MixedStub::new(fixture.channel.clone());
    assert_eq!(mixed.legacy().call(note.clone()).unwrap().text, "t");
    assert_eq!(
        mixed.current().call(note).unwrap_err().code(),
        Code::Unimplemented
    );
}

// --- hard.legacy (proto2) and the package-less file -------------------------

struct Archive;

impl hard::legacy::ArchiveServicer for Archive {
    fn store(
        &self,
        request: hard::legacy::Record,
        _context: &ServicerContext,
    ) -> Result<hard::legacy::Record, Status> {
        Ok(hard::legacy::Record {
            values: vec![i64::from(request.count())],
            ..request
        })
    }
}

struct Lonely;

impl generated::LonelyServicer for Lonely {
    fn hello(
        &self,
        request: Point,
        _context: &ServicerContext,
    ) -> Result<generated::Standalone, Status> {
        Ok(generated::Standalone {
            point: Some(request),
            name: "lonely".into(),
        })
    }
}

#[test]
fn proto2_and_package_less_services() {
    let fixture = Fixture::start(|server| {
        hard::legacy::add_archive_servicer_to_server(Archive, server);
        generated::add_lonely_servicer_to_server(Lonely, server);
    });
    let archive = hard::legacy::ArchiveStub::new(fixture.channel.clone());
    let stored = archive
        .store()
        .call(hard::legacy::Record {
            key: "k".into(),
            ..hard::legacy::Record::default()
        })
        .unwrap();
    // proto2 defaults: count = 7, kind = FANCY.
    assert_eq!(stored.values, [7]);
    assert_eq!(stored.kind(), hard::legacy::record::Kind::Fancy);
    assert_eq!(stored.comment, None);

    let lonely = generated::LonelyStub::new(fixture.channel.clone());
    assert_eq!(generated::lonely_service::HELLO, "/Lonely/Hello");
    let reply = lonely.hello().call(point(3, 4)).unwrap();
    assert_eq!(reply.name, "lonely");
    assert_eq!(reply.point, Some(point(3, 4)));

    let path = Path {
        points: vec![point(0, 0)],
        color: Color::Green as i32,
        length: Some(1.5),
    };
    assert_eq!(path.color(), Color::Green);
}
