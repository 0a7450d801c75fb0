//! TLS, mutual TLS, call credentials and the auth context, over real
//! loopback sockets, on both faces; every failure mode checks the code
//! and that the details name the cause.

mod http1;
mod pki;
mod python;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use grpc_core::{
    CallOptions, Channel, ChannelBuilder, ChannelCredentials, ClientAuth, Code, Metadata, RpcError,
    Server, ServerCredentials, ServiceBuilder, ServicerContext, Status,
};
use pki::{Ca, Pair, Validity};

/// The test service: `Whoami` (blocking) and `WhoamiAsync` describe what
/// the server knows about the caller, one `key=value` per line.
fn service() -> grpc_core::Service {
    let mut service = ServiceBuilder::new("tls.Test");
    service.unary_unary("Whoami", |_: String, ctx: &ServicerContext| {
        Ok::<_, Status>(describe(ctx))
    });
    service.unary_unary_async(
        "WhoamiAsync",
        |_: String, ctx: ServicerContext| async move { Ok::<_, Status>(describe(&ctx)) },
    );
    service.build()
}

fn describe(ctx: &ServicerContext) -> String {
    let auth = ctx.auth_context();
    let first = |key: &str| {
        auth.get(key)
            .and_then(|values| values.first())
            .map(|value| String::from_utf8_lossy(value).into_owned())
            .unwrap_or_default()
    };
    let ids = ctx
        .peer_identities()
        .unwrap_or_default()
        .iter()
        .map(|id| String::from_utf8_lossy(id).into_owned())
        .collect::<Vec<_>>()
        .join(",");
    let md = ctx.invocation_metadata();
    [
        format!("peer={}", ctx.peer()),
        format!("security={}", first("transport_security_type")),
        format!("key={}", ctx.peer_identity_key().unwrap_or_default()),
        format!("ids={ids}"),
        format!("cn={}", first("x509_common_name")),
        format!(
            "pem={}",
            first("x509_pem_cert").starts_with("-----BEGIN CERTIFICATE-----")
        ),
        format!("reused={}", first("ssl_session_reused")),
        format!("authorization={}", md.get("authorization").unwrap_or("")),
        format!("x-plugin={}", md.get("x-plugin").unwrap_or("")),
        format!("protocol={:?}", ctx.protocol()),
    ]
    .join("\n")
}

pub(crate) fn parse(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// A started server with the test service on one port secured by `creds`.
pub(crate) fn serve(builder: grpc_core::ServerBuilder, creds: &ServerCredentials) -> (Server, u16) {
    let server = builder.max_workers(4).build();
    server.add_service(service());
    let port = server
        .add_secure_port("127.0.0.1:0", creds)
        .expect("bind the secure port");
    server.start().expect("start");
    (server, port)
}

pub(crate) fn server_creds(
    pair: &Pair,
    client_ca: Option<&Ca>,
    auth: ClientAuth,
) -> ServerCredentials {
    grpc_core::ssl_server_credentials(
        [(pair.key.as_bytes(), pair.chain.as_bytes())],
        client_ca.map(|ca| ca.pem.as_bytes()),
        auth,
    )
    .expect("server credentials")
}

pub(crate) fn client_creds(ca: &Ca, client: Option<&Pair>) -> ChannelCredentials {
    grpc_core::ssl_channel_credentials(
        Some(ca.pem.as_bytes()),
        client.map(|pair| pair.key.as_bytes()),
        client.map(|pair| pair.chain.as_bytes()),
    )
    .expect("channel credentials")
}

pub(crate) fn channel(target: &str, creds: &ChannelCredentials) -> Channel {
    grpc_core::secure_channel(target, creds).expect("channel")
}

pub(crate) fn whoami(channel: &Channel) -> Result<HashMap<String, String>, RpcError> {
    whoami_with(channel, CallOptions::new())
}

pub(crate) fn whoami_with(
    channel: &Channel,
    options: CallOptions,
) -> Result<HashMap<String, String>, RpcError> {
    let options = options.timeout(Duration::from_secs(20));
    channel
        .unary_unary::<String, String>("/tls.Test/Whoami")
        .with_options(options)
        .call(String::new())
        .map(|text| parse(&text))
}

/// Asserts an `UNAVAILABLE` whose details contain every one of `needles`.
#[track_caller]
pub(crate) fn assert_unavailable(
    result: Result<HashMap<String, String>, RpcError>,
    needles: &[&str],
) {
    let error = result.expect_err("the call must fail");
    eprintln!("{}: {}", error.code().name(), error.details());
    assert_eq!(error.code(), Code::Unavailable, "{}", error.details());
    for needle in needles {
        assert!(
            error.details().contains(needle),
            "details should name {needle:?}: {}",
            error.details()
        );
    }
}

#[test]
fn tls_call_on_both_faces_reports_ssl_and_the_address() {
    let ca = Ca::new("test ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            None,
            ClientAuth::Optional,
        ),
    );
    let channel = channel(&format!("localhost:{port}"), &client_creds(&ca, None));
    let info = whoami(&channel).expect("blocking call over TLS");
    assert_eq!(info["security"], "ssl");
    assert!(
        info["peer"].starts_with("ipv4:127.0.0.1:"),
        "{}",
        info["peer"]
    );
    assert_eq!(info["key"], "");
    assert_eq!(info["ids"], "");
    assert_eq!(info["reused"], "false");

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let reply = runtime.block_on(async {
        let channel =
            grpc_core::secure_channel(&format!("localhost:{port}"), &client_creds(&ca, None))
                .unwrap();
        channel
            .unary_unary::<String, String>("/tls.Test/WhoamiAsync")
            .call_async(String::new())
            .await
    });
    let info = parse(&reply.expect("async call to an async handler over TLS"));
    assert_eq!(info["security"], "ssl");
    server.stop(None).wait();
}

#[test]
fn mutual_tls_fills_the_auth_context() {
    let ca = Ca::new("test ca");
    let client_ca = Ca::new("client ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            Some(&client_ca),
            ClientAuth::Required,
        ),
    );
    let client = client_ca.leaf("test-client", &["client.test", "spiffe://test/client"]);
    let channel = channel(
        &format!("localhost:{port}"),
        &client_creds(&ca, Some(&client)),
    );
    let info = whoami(&channel).expect("mTLS call");
    assert_eq!(info["security"], "ssl");
    assert_eq!(info["key"], "x509_subject_alternative_name");
    assert_eq!(info["ids"], "client.test,spiffe://test/client");
    assert_eq!(info["cn"], "test-client");
    assert_eq!(info["pem"], "true");
    assert!(info["peer"].starts_with("ipv4:127.0.0.1:"));

    // Without SANs the identity is the common name.
    let no_san = client_ca.leaf("only-cn", &[]);
    let channel2 = grpc_core::ChannelBuilder::new(format!("localhost:{port}"))
        .secure(&client_creds(&ca, Some(&no_san)))
        .build()
        .unwrap();
    let info = whoami(&channel2).expect("mTLS call with a CN-only certificate");
    assert_eq!(info["key"], "x509_common_name");
    assert_eq!(info["ids"], "only-cn");
    server.stop(None).wait();
}

#[test]
fn optional_client_auth_serves_clients_with_and_without_certificates() {
    let ca = Ca::new("test ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            Some(&ca),
            ClientAuth::Optional,
        ),
    );
    let target = format!("localhost:{port}");
    let anonymous = whoami(&channel(&target, &client_creds(&ca, None))).unwrap();
    assert_eq!(anonymous["ids"], "");
    let client = ca.leaf("c", &["c.test"]);
    let known = whoami(&channel(&target, &client_creds(&ca, Some(&client)))).unwrap();
    assert_eq!(known["ids"], "c.test");
    server.stop(None).wait();
}

#[test]
fn unknown_ca_is_named() {
    let ca = Ca::new("test ca");
    let other = Ca::new("other ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            None,
            ClientAuth::Optional,
        ),
    );
    let channel = channel(&format!("localhost:{port}"), &client_creds(&other, None));
    assert_unavailable(whoami(&channel), &["TLS handshake failed", "unknown CA"]);
    server.stop(None).wait();
}

#[test]
fn name_mismatch_is_named_and_the_override_fixes_it() {
    let ca = Ca::new("test ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["foo.test.example"]),
            None,
            ClientAuth::Optional,
        ),
    );
    let target = format!("localhost:{port}");
    assert_unavailable(
        whoami(&channel(&target, &client_creds(&ca, None))),
        &[
            "name mismatch",
            "\"localhost\"",
            "(it is valid for foo.test.example)",
        ],
    );
    let overridden = ChannelBuilder::new(&target)
        .secure(&client_creds(&ca, None))
        .ssl_target_name_override("foo.test.example")
        .build()
        .unwrap();
    assert_eq!(whoami(&overridden).unwrap()["security"], "ssl");
    // default_authority changes the :authority and, without an override,
    // the name checked.
    let by_authority = ChannelBuilder::new(format!("127.0.0.1:{port}"))
        .secure(&client_creds(&ca, None))
        .default_authority("foo.test.example")
        .build()
        .unwrap();
    assert_eq!(whoami(&by_authority).unwrap()["security"], "ssl");
    server.stop(None).wait();
}

#[test]
fn expired_server_certificate_is_named() {
    let ca = Ca::new("test ca");
    let expired = ca.leaf_with(
        "server",
        &["localhost"],
        &rcgen::PKCS_ECDSA_P256_SHA256,
        Validity::Expired,
    );
    let (server, port) = serve(
        Server::builder(),
        &server_creds(&expired, None, ClientAuth::Optional),
    );
    let channel = channel(&format!("localhost:{port}"), &client_creds(&ca, None));
    assert_unavailable(whoami(&channel), &["expired"]);
    server.stop(None).wait();
}

#[test]
fn missing_client_certificate_is_named() {
    let ca = Ca::new("test ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            Some(&ca),
            ClientAuth::Required,
        ),
    );
    let channel = channel(&format!("localhost:{port}"), &client_creds(&ca, None));
    assert_unavailable(whoami(&channel), &["no client certificate"]);
    server.stop(None).wait();
}

#[test]
fn client_certificate_from_an_unknown_ca_is_named() {
    let ca = Ca::new("test ca");
    let stranger = Ca::new("stranger ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            Some(&ca),
            ClientAuth::Required,
        ),
    );
    let client = stranger.leaf("intruder", &["intruder.test"]);
    let channel = channel(
        &format!("localhost:{port}"),
        &client_creds(&ca, Some(&client)),
    );
    assert_unavailable(
        whoami(&channel),
        &["rejected the client certificate", "unknown CA"],
    );
    server.stop(None).wait();
}

#[test]
fn expired_client_certificate_is_named() {
    let ca = Ca::new("test ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            Some(&ca),
            ClientAuth::Required,
        ),
    );
    let client = ca.leaf_with(
        "old-client",
        &["old.test"],
        &rcgen::PKCS_ECDSA_P256_SHA256,
        Validity::Expired,
    );
    let channel = channel(
        &format!("localhost:{port}"),
        &client_creds(&ca, Some(&client)),
    );
    assert_unavailable(
        whoami(&channel),
        &["rejected the client certificate", "expired"],
    );
    server.stop(None).wait();
}

#[test]
fn plaintext_server_is_named() {
    let server = Server::builder().build();
    server.add_service(service());
    let port = server.add_insecure_port("127.0.0.1:0").unwrap();
    server.start().unwrap();
    let ca = Ca::new("test ca");
    let channel = channel(&format!("localhost:{port}"), &client_creds(&ca, None));
    assert_unavailable(whoami(&channel), &["TLS handshake failed"]);
    server.stop(None).wait();
}

/// A bare TLS server (no gRPC) with the given ALPN protocols.
pub(crate) fn bare_tls_server(pair: &Pair, alpn: &[&[u8]]) -> (tokio::runtime::Runtime, u16) {
    use rustls::pki_types::pem::PemObject;
    let certs: Vec<_> = rustls::pki_types::CertificateDer::pem_slice_iter(pair.chain.as_bytes())
        .map(Result::unwrap)
        .collect();
    let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(pair.key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    runtime.spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                if let Ok(mut stream) = acceptor.accept(socket).await {
                    use tokio::io::AsyncReadExt;
                    let mut sink = [0u8; 1024];
                    while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
                }
            });
        }
    });
    (runtime, port)
}

#[test]
fn alpn_refused_is_named() {
    let ca = Ca::new("test ca");
    let pair = ca.leaf("server", &["localhost"]);
    // A server that speaks only HTTP/1.1 refuses h2 with an alert.
    let (_http1, port) = bare_tls_server(&pair, &[b"http/1.1"]);
    let channel1 = channel(&format!("localhost:{port}"), &client_creds(&ca, None));
    assert_unavailable(whoami(&channel1), &["ALPN refused"]);
    // A server without ALPN completes the handshake without choosing h2.
    let (_no_alpn, port) = bare_tls_server(&pair, &[]);
    let channel2 = channel(&format!("localhost:{port}"), &client_creds(&ca, None));
    assert_unavailable(whoami(&channel2), &["ALPN refused", "h2"]);
}

#[test]
fn bad_pem_and_mismatched_keys_are_useful_errors() {
    let error =
        grpc_core::ssl_channel_credentials(Some(b"not a certificate"), None, None).unwrap_err();
    assert!(error.is_invalid_credentials());
    assert!(error.to_string().contains("root_certificates"), "{error}");
    assert!(error.to_string().contains("BEGIN CERTIFICATE"), "{error}");

    let ca = Ca::new("test ca");
    let one = ca.leaf("one", &["one.test"]);
    let two = ca.leaf("two", &["two.test"]);
    let error = grpc_core::ssl_server_credentials(
        [(two.key.as_bytes(), one.chain.as_bytes())],
        None,
        ClientAuth::Optional,
    )
    .unwrap_err();
    assert!(error.is_invalid_credentials());
    assert!(error.to_string().contains("does not match"), "{error}");

    let error = grpc_core::ssl_channel_credentials(
        Some(ca.pem.as_bytes()),
        Some(b"-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n"),
        Some(one.chain.as_bytes()),
    )
    .unwrap_err();
    assert!(error.to_string().contains("private_key"), "{error}");

    let error =
        grpc_core::ssl_channel_credentials(None, Some(one.key.as_bytes()), None).unwrap_err();
    assert!(error.to_string().contains("together"), "{error}");

    let error = grpc_core::ssl_server_credentials(
        [(one.key.as_bytes(), one.chain.as_bytes())],
        None,
        ClientAuth::Required,
    )
    .unwrap_err();
    assert!(error.to_string().contains("root_certificates"), "{error}");
}

#[test]
fn ecdsa_ed25519_and_rsa_keys_work() {
    let ca = Ca::new("test ca");
    let mut pairs = vec![
        (
            "ecdsa-p384",
            ca.leaf_with(
                "s",
                &["localhost"],
                &rcgen::PKCS_ECDSA_P384_SHA384,
                Validity::Now,
            ),
        ),
        (
            "ed25519",
            ca.leaf_with("s", &["localhost"], &rcgen::PKCS_ED25519, Validity::Now),
        ),
    ];
    if let Some(rsa_key) = openssl_rsa_key() {
        pairs.push(("rsa", ca.leaf_for_key("s", &["localhost"], &rsa_key)));
    } else {
        eprintln!("openssl not found: skipping the RSA key");
    }
    for (name, pair) in pairs {
        let (server, port) = serve(
            Server::builder(),
            &server_creds(&pair, Some(&ca), ClientAuth::Required),
        );
        // The same kind of key as the client certificate.
        let channel = channel(
            &format!("localhost:{port}"),
            &client_creds(&ca, Some(&pair)),
        );
        let info = whoami(&channel).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(info["ids"], "localhost", "{name}");
        server.stop(None).wait();
    }
}

/// An RSA key in PKCS#8 PEM from the openssl tool, when it is installed
/// (ring cannot generate RSA keys).
fn openssl_rsa_key() -> Option<String> {
    let output = std::process::Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

#[test]
fn sni_chooses_the_certificate_by_name() {
    let ca = Ca::new("test ca");
    let alpha = ca.leaf("alpha", &["alpha.test"]);
    let beta = ca.leaf("beta", &["beta.test", "*.beta.test"]);
    let creds = grpc_core::ssl_server_credentials(
        [
            (alpha.key.as_bytes(), alpha.chain.as_bytes()),
            (beta.key.as_bytes(), beta.chain.as_bytes()),
        ],
        None,
        ClientAuth::Optional,
    )
    .unwrap();
    let (server, port) = serve(Server::builder(), &creds);
    for name in ["alpha.test", "beta.test", "api.beta.test"] {
        let channel = ChannelBuilder::new(format!("127.0.0.1:{port}"))
            .secure(&client_creds(&ca, None))
            .ssl_target_name_override(name)
            .build()
            .unwrap();
        let info = whoami(&channel).unwrap_or_else(|error| panic!("{name}: {error}"));
        assert_eq!(info["security"], "ssl");
    }
    // A name no pair has gets the first (default) certificate: a mismatch.
    let channel = ChannelBuilder::new(format!("127.0.0.1:{port}"))
        .secure(&client_creds(&ca, None))
        .ssl_target_name_override("gamma.test")
        .build()
        .unwrap();
    assert_unavailable(whoami(&channel), &["name mismatch", "alpha.test"]);
    server.stop(None).wait();
}

#[test]
fn certificates_rotate_without_a_restart() {
    let old_ca = Ca::new("old ca");
    let new_ca = Ca::new("new ca");
    let old = old_ca.leaf("server", &["localhost"]);
    let new = new_ca.leaf("server", &["localhost"]);
    let initial = grpc_core::ssl_server_certificate_configuration(
        [(old.key.as_bytes(), old.chain.as_bytes())],
        None,
    )
    .unwrap();
    let rotated = grpc_core::ssl_server_certificate_configuration(
        [(new.key.as_bytes(), new.chain.as_bytes())],
        None,
    )
    .unwrap();
    let rotate = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&rotate);
    let creds = grpc_core::dynamic_ssl_server_credentials(
        initial,
        move || flag.swap(false, Ordering::AcqRel).then(|| rotated.clone()),
        ClientAuth::Optional,
    )
    .unwrap();
    let (server, port) = serve(Server::builder(), &creds);
    let target = format!("localhost:{port}");
    let open = channel(&target, &client_creds(&old_ca, None));
    whoami(&open).expect("the initial certificate");

    rotate.store(true, Ordering::Release);
    let fresh = channel(&target, &client_creds(&new_ca, None));
    whoami(&fresh).expect("a new connection gets the new certificate");
    whoami(&open).expect("the open connection keeps working");
    let stale = channel(&target, &client_creds(&old_ca, None));
    assert_unavailable(whoami(&stale), &["unknown CA"]);

    // Push-style rotation on the same credentials.
    let third_ca = Ca::new("third ca");
    let third = third_ca.leaf("server", &["localhost"]);
    creds
        .set_certificate_configuration(
            &grpc_core::ssl_server_certificate_configuration(
                [(third.key.as_bytes(), third.chain.as_bytes())],
                None,
            )
            .unwrap(),
        )
        .unwrap();
    whoami(&channel(&target, &client_creds(&third_ca, None))).expect("pushed certificate");
    server.stop(None).wait();
}

#[test]
fn stalled_and_garbage_handshakes_are_dropped_without_blocking_others() {
    use std::io::{Read, Write};
    let ca = Ca::new("test ca");
    let (server, port) = serve(
        Server::builder().handshake_timeout(Duration::from_millis(300)),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            None,
            ClientAuth::Optional,
        ),
    );
    let connect = || {
        let socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        socket
    };
    let mut stalled: Vec<_> = (0..20).map(|_| connect()).collect();
    let mut garbage = connect();
    garbage
        .write_all(&[0x16, 0x03, 0x01, 0xff, 0xff, 1, 2, 3])
        .unwrap();
    // Others are served while those hang.
    let channel = channel(&format!("localhost:{port}"), &client_creds(&ca, None));
    whoami(&channel).expect("a good client is served next to stalled ones");
    // The stalled connections are closed by the server (EOF or reset).
    for socket in stalled.iter_mut().chain(std::iter::once(&mut garbage)) {
        let mut buf = [0u8; 64];
        loop {
            match socket.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => continue, // an alert, then the close
            }
        }
    }
    whoami(&channel).expect("still serving");
    server.stop(None).wait();
}

#[test]
fn secure_and_insecure_ports_serve_side_by_side() {
    let ca = Ca::new("test ca");
    let server = Server::builder().build();
    server.add_service(service());
    let plain = server.add_insecure_port("127.0.0.1:0").unwrap();
    let creds = server_creds(
        &ca.leaf("server", &["localhost"]),
        None,
        ClientAuth::Optional,
    );
    let secure = server.add_secure_port("127.0.0.1:0", &creds).unwrap();
    server.start().unwrap();
    let insecure = grpc_core::insecure_channel(&format!("127.0.0.1:{plain}")).unwrap();
    assert_eq!(whoami(&insecure).unwrap()["security"], "insecure");
    let tls = channel(&format!("localhost:{secure}"), &client_creds(&ca, None));
    assert_eq!(whoami(&tls).unwrap()["security"], "ssl");
    server.stop(None).wait();
}

#[test]
fn tls_runs_over_any_byte_stream() {
    let ca = Ca::new("test ca");
    let creds = server_creds(
        &ca.leaf("server", &["memory.test"]),
        None,
        ClientAuth::Optional,
    );
    let server = Server::builder().build();
    server.add_service(service());
    server.start().unwrap();
    let server_handle = server.clone();
    let channel = ChannelBuilder::new("memory.test:443")
        .secure(&client_creds(&ca, None))
        .connector(move || {
            let (client_end, server_end) = tokio::io::duplex(64 * 1024);
            let served = server_handle.serve_connection(server_end, "memory:pipe", &creds);
            async move { served.map(|()| client_end).map_err(std::io::Error::other) }
        })
        .build()
        .unwrap();
    let info = whoami(&channel).expect("TLS over an in-memory pipe");
    assert_eq!(info["security"], "ssl");
    assert_eq!(info["peer"], "memory:pipe");
    server.stop(None).wait();
}

#[test]
fn call_credentials_travel_over_tls() {
    let ca = Ca::new("test ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            None,
            ClientAuth::Optional,
        ),
    );
    let target = format!("localhost:{port}");
    let tls = client_creds(&ca, None);

    // Per call: an access token.
    let token = grpc_core::access_token_call_credentials("s3cret");
    let info = whoami_with(
        &channel(&target, &tls),
        CallOptions::new().credentials(token.clone()),
    )
    .unwrap();
    assert_eq!(info["authorization"], "Bearer s3cret");

    // An async plugin sees the service URL and method; composed with the token.
    let seen = Arc::new(std::sync::Mutex::new(None));
    let record = Arc::clone(&seen);
    let plugin = grpc_core::metadata_call_credentials_async(move |context| {
        *record.lock().unwrap() = Some(context.clone());
        async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            Ok(Metadata::from_pairs([("x-plugin", context.method_name())]).unwrap())
        }
    });
    let composed = grpc_core::composite_call_credentials([token.clone(), plugin]);
    let per_channel = grpc_core::composite_channel_credentials(tls.clone(), [composed]);
    let info = whoami(&channel(&target, &per_channel)).unwrap();
    assert_eq!(info["authorization"], "Bearer s3cret");
    assert_eq!(info["x-plugin"], "Whoami");
    let context = seen.lock().unwrap().clone().unwrap();
    assert_eq!(
        context.service_url(),
        format!("https://localhost:{port}/tls.Test")
    );

    // A blocking plugin runs off the I/O threads; its error ends the call
    // with UNAVAILABLE and its message.
    let failing =
        grpc_core::metadata_call_credentials(|_| Err(Status::internal("token service is down")));
    assert_unavailable(
        whoami_with(
            &channel(&target, &tls),
            CallOptions::new().credentials(failing),
        ),
        &["Getting metadata from plugin failed with error: token service is down"],
    );
    let blocking = grpc_core::metadata_call_credentials(|context| {
        Metadata::from_pairs([("x-plugin", format!("sync-{}", context.method_name()))])
            .map_err(|error| Status::internal(error.to_string()))
    });
    let info = whoami_with(
        &channel(&target, &tls),
        CallOptions::new().credentials(blocking),
    )
    .unwrap();
    assert_eq!(info["x-plugin"], "sync-Whoami");
    server.stop(None).wait();
}

#[test]
fn call_credentials_never_travel_in_plaintext_except_locally() {
    let server = Server::builder().build();
    server.add_service(service());
    let plain = server.add_insecure_port("127.0.0.1:0").unwrap();
    let local = server
        .add_secure_port("127.0.0.1:0", &grpc_core::local_server_credentials())
        .unwrap();
    server.start().unwrap();
    let token = grpc_core::access_token_call_credentials("s3cret");
    let insecure = grpc_core::insecure_channel(&format!("127.0.0.1:{plain}")).unwrap();
    assert_unavailable(
        whoami_with(&insecure, CallOptions::new().credentials(token.clone())),
        &["sufficient security level"],
    );
    let local_creds =
        grpc_core::composite_channel_credentials(grpc_core::local_channel_credentials(), [token]);
    let info = whoami(&channel(&format!("127.0.0.1:{local}"), &local_creds)).unwrap();
    assert_eq!(info["authorization"], "Bearer s3cret");
    assert_eq!(info["security"], "local");
    server.stop(None).wait();
}

/// The README's "TLS and authentication" program, verbatim but for where
/// the PEM files live and the port (0 here, so that tests never collide).
fn readme_program(dir: &std::path::Path) -> Result<String, Box<dyn std::error::Error>> {
    let read = |name: &str| std::fs::read(dir.join(name));
    // Server: TLS, client certificates signed by ca.pem required.
    let credentials = grpc_core::ssl_server_credentials(
        [(read("server.key")?, read("server.pem")?)],
        Some(&read("ca.pem")?),
        ClientAuth::Required,
    )?;
    let server = Server::builder().build();
    let mut service = ServiceBuilder::new("demo.Echo");
    service.unary_unary("Echo", |text: String, ctx: &ServicerContext| {
        let who = ctx.peer_identities().unwrap_or_default(); // the client certificate's SANs
        let token = ctx
            .invocation_metadata()
            .get("authorization")
            .unwrap_or("none");
        Ok::<_, Status>(format!("{text}, {who:?} ({token})"))
    });
    server.add_service(service.build());
    let port = server.add_secure_port("localhost:0", &credentials)?;
    server.start()?;

    // Client: trusts ca.pem, presents client.pem, sends a bearer token.
    let tls = grpc_core::ssl_channel_credentials(
        Some(&read("ca.pem")?),
        Some(&read("client.key")?),
        Some(&read("client.pem")?),
    )?;
    let token = grpc_core::access_token_call_credentials("s3cret");
    let credentials = grpc_core::composite_channel_credentials(tls, [token]);
    let channel = grpc_core::secure_channel(&format!("localhost:{port}"), &credentials)?;
    let echo = channel.unary_unary::<String, String>("/demo.Echo/Echo");
    let reply = echo.call("hello".to_string())?;
    server.stop(None).wait();
    Ok(reply)
}

#[test]
fn readme_example() {
    let ca = Ca::new("readme ca");
    let server = ca.leaf("server", &["localhost"]);
    let client = ca.leaf("client", &["client.example"]);
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("tls-readme-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [
        ("ca.pem", &ca.pem),
        ("server.key", &server.key),
        ("server.pem", &server.chain),
        ("client.key", &client.key),
        ("client.pem", &client.chain),
    ] {
        std::fs::write(dir.join(name), text).unwrap();
    }
    let reply = readme_program(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        reply.expect("the README program runs"),
        "hello, [b\"client.example\"] (Bearer s3cret)"
    );
}

#[test]
fn a_second_connection_resumes_the_tls_session() {
    let ca = Ca::new("test ca");
    let (server, port) = serve(
        Server::builder(),
        &server_creds(
            &ca.leaf("server", &["localhost"]),
            None,
            ClientAuth::Optional,
        ),
    );
    let target = format!("localhost:{port}");
    let credentials = client_creds(&ca, None);
    let first = channel(&target, &credentials);
    assert_eq!(whoami(&first).unwrap()["reused"], "false");
    first.close();
    // Same credentials, new connection: the session ticket is reused.
    let second = channel(&target, &credentials);
    assert_eq!(whoami(&second).unwrap()["reused"], "true");
    server.stop(None).wait();
}

#[test]
fn in_memory_channels_reach_a_server_without_ports_with_and_without_tls() {
    let ca = Ca::new("test ca");
    let server = Server::builder().build();
    server.add_service(service());
    server.start().expect("a server without ports starts");
    let plain = ChannelBuilder::new("localhost")
        .in_memory(&server, &grpc_core::insecure_server_credentials())
        .build()
        .unwrap();
    let info = whoami(&plain).expect("an in-memory call");
    assert_eq!(
        (info["security"].as_str(), info["peer"].as_str()),
        ("insecure", "memory")
    );
    let tls = server_creds(
        &ca.leaf("server", &["memory.test"]),
        None,
        ClientAuth::Optional,
    );
    let secure = ChannelBuilder::new("memory.test")
        .secure(&client_creds(&ca, None))
        .in_memory(&server, &tls)
        .build()
        .unwrap();
    assert_eq!(whoami(&secure).expect("TLS in memory")["security"], "ssl");
    server.stop(None).wait();
    // A stopped server refuses new pipes: the call says why.
    let late = ChannelBuilder::new("localhost")
        .in_memory(&server, &grpc_core::insecure_server_credentials())
        .build()
        .unwrap();
    assert_unavailable(whoami(&late), &["serve_connection needs a started server"]);
}
