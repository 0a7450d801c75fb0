//! A round-robin channel with a retry policy (the README's "Many
//! servers" section): starts three greeter servers on free loopback ports,
//! the first of which fails its first two calls with `UNAVAILABLE`, and
//! spreads calls over them through one channel whose service config
//! retries `UNAVAILABLE`. Prints who answered each call and the split.
//!
//! ```text
//! cargo run -p rustgrpc-examples --bin round_robin_client
//! ```

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use grpc_core::{CallOptions, ChannelBuilder, LbPolicy, Server, ServiceConfig, Status};
use rustgrpc_examples::helloworld::{
    GreeterServicer, GreeterStub, HelloReply, HelloRequest, add_greeter_servicer_to_server,
};

/// A greeter that names itself and fails its first `failures` calls.
struct Named {
    name: String,
    failures: AtomicUsize,
}

impl GreeterServicer for Named {
    fn say_hello(
        &self,
        request: HelloRequest,
        _context: &grpc_core::ServicerContext,
    ) -> Result<HelloReply, Status> {
        let failing = self
            .failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if failing {
            return Err(Status::unavailable("warming up"));
        }
        Ok(HelloReply {
            message: format!("{} greets {}", self.name, request.name),
        })
    }
}

fn start(name: &str, failures: usize) -> Result<(Server, u16), Box<dyn std::error::Error>> {
    let server = Server::builder().max_workers(4).build();
    let servicer = Named {
        name: name.to_owned(),
        failures: AtomicUsize::new(failures),
    };
    add_greeter_servicer_to_server(servicer, &server);
    let port = server.add_insecure_port("127.0.0.1:0")?;
    server.start()?;
    Ok((server, port))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let servers = [start("a", 2)?, start("b", 0)?, start("c", 0)?];
    let target = format!(
        "ipv4:127.0.0.1:{},127.0.0.1:{},127.0.0.1:{}",
        servers[0].1, servers[1].1, servers[2].1
    );

    // README: round-robin channel with a retry policy
    let config = ServiceConfig::from_json(
        r#"{
          "loadBalancingConfig": [{"round_robin": {}}],
          "methodConfig": [{
            "name": [{"service": "helloworld.Greeter"}],
            "timeout": "5s",
            "retryPolicy": {
              "maxAttempts": 3,
              "initialBackoff": "0.05s",
              "maxBackoff": "1s",
              "backoffMultiplier": 2,
              "retryableStatusCodes": ["UNAVAILABLE"]
            }
          }],
          "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
        }"#,
    )?;
    let channel = ChannelBuilder::new(target) // or "dns:///my-service:50051"
        .service_config(config)
        .lb_policy(LbPolicy::RoundRobin) // the config's choice wins; this is the fallback
        .build()?;
    let stub = GreeterStub::new(channel.clone());
    grpc_core::channel_ready_future(&channel).result(Some(Duration::from_secs(10)))?;
    let mut split = BTreeMap::new();
    for i in 0..9 {
        let request = HelloRequest {
            name: format!("call {i}"),
        };
        let reply = stub
            .say_hello()
            .with_options(CallOptions::new().wait_for_ready(true))
            .call(request)?; // UNAVAILABLE from "a" was retried
        println!("{}", reply.message);
        *split.entry(reply.message[..1].to_owned()).or_insert(0) += 1;
    }
    // end README
    println!("split: {split:?}");
    for (server, _) in servers {
        server.stop(None).wait();
    }
    Ok(())
}
