//! Connect and gRPC-Web over HTTP/1.1 over TLS (ALPN `http/1.1`): our
//! client against our TLS server, both faces, mutual TLS, and the ALPN
//! refusal named when the server speaks HTTP/2 only.

use grpc_core::{CallOptions, ChannelBuilder, ClientAuth, ClientProtocol, HttpVersion, Server};

use super::pki::Ca;
use super::{assert_unavailable, bare_tls_server, client_creds, serve, server_creds, whoami_with};

fn http1_channel(
    port: u16,
    credentials: &grpc_core::ChannelCredentials,
    protocol: ClientProtocol,
) -> grpc_core::Channel {
    ChannelBuilder::new(format!("localhost:{port}"))
        .secure(credentials)
        .protocol(protocol.http_version(HttpVersion::Http1))
        .build()
        .expect("channel")
}

#[test]
fn connect_and_grpc_web_over_http1_tls_reach_our_server() {
    let ca = Ca::new("test ca");
    let client = ca.leaf("client", &["client.example"]);
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            Some(&ca),
            ClientAuth::Optional,
        ),
    );
    let cases = [
        (ClientProtocol::connect(), "Connect"),
        (ClientProtocol::grpc_web(), "GrpcWeb"),
    ];
    for (protocol, expected) in cases {
        // Without, then with, a client certificate.
        for certificate in [None, Some(&client)] {
            let channel = http1_channel(port, &client_creds(&ca, certificate), protocol.clone());
            // Two calls: the second reuses the pooled HTTP/1.1 connection.
            for _ in 0..2 {
                let info = whoami_with(&channel, CallOptions::new()).expect("call over TLS");
                assert_eq!(info["protocol"], expected);
                assert_eq!(info["security"], "ssl");
                let cn = if certificate.is_some() { "client" } else { "" };
                assert_eq!(info["cn"], cn, "{info:?}");
            }
        }
    }
    server.stop(None).wait();
}

#[test]
fn http1_to_an_http2_only_tls_server_names_alpn() {
    let ca = Ca::new("test ca");
    let (_h2_only, port) = bare_tls_server(&ca.leaf("server", &["localhost"]), &[b"h2"]);
    let channel = http1_channel(port, &client_creds(&ca, None), ClientProtocol::connect());
    assert_unavailable(
        whoami_with(&channel, CallOptions::new()),
        &["ALPN refused", "\"http/1.1\""],
    );
}
