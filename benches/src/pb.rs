//! The benchmark proto (`proto/bench.proto`), generated twice.

/// rustgrpc's code: messages, `BenchStub`, `BenchServicer`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod rg {
    include!(concat!(env!("OUT_DIR"), "/rustgrpc/bench.rs"));
}

/// tonic's code: messages, `bench_client`, `bench_server`.
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod tn {
    include!(concat!(env!("OUT_DIR"), "/tonic/bench.rs"));
}

/// connect-rust's code (buffa messages, `bench::Bench`, `bench::BenchServer`).
#[allow(missing_docs, unreachable_pub, clippy::all)]
pub mod cr {
    include!(concat!(env!("OUT_DIR"), "/connectrpc/mod.rs"));
}

/// The unary method's path, for h2load.
pub const UNARY_PATH: &str = "/bench.Bench/Unary";
