//! curl as a real HTTP/1.1 and HTTP/2 peer of the Connect protocol: a unary
//! call with a protobuf body, as the README shows it, and a CORS preflight.

use std::process::Command;

use prost::Message as _;
use rustgrpc_tests::{EchoResponse, TestServer, echo};

/// Runs curl with `args`; `None` when curl is not installed (the test then
/// says so and passes, as CI images without curl cannot run it).
fn curl(args: &[&str]) -> Option<std::process::Output> {
    match Command::new("curl").args(args).output() {
        Ok(output) => Some(output),
        Err(error) => {
            eprintln!("skipping: curl is not available ({error})");
            None
        }
    }
}

#[test]
fn curl_unary_proto_over_http1_and_http2() {
    let server = TestServer::start();
    let dir = std::env::temp_dir().join(format!("rustgrpc-curl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let request = dir.join("request.bin");
    std::fs::write(&request, echo("from curl").encode_to_vec()).unwrap();
    let url = format!(
        "http://127.0.0.1:{}/rustgrpc.testing.TestService/UnaryCall",
        server.port()
    );
    let data = format!("@{}", request.display());
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let Some(output) = curl(&[
            "--silent",
            "--show-error",
            "--fail",
            version,
            "--header",
            "Content-Type: application/proto",
            "--header",
            "Connect-Protocol-Version: 1",
            "--data-binary",
            &data,
            &url,
        ]) else {
            return;
        };
        assert!(
            output.status.success(),
            "{version}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let reply = EchoResponse::decode(&output.stdout[..]).unwrap();
        assert_eq!(reply.message, "from curl", "{version}");
    }
    // An error is JSON a person can read.
    let Some(output) = curl(&[
        "--silent",
        "--header",
        "Content-Type: application/proto",
        "--data-binary",
        &data,
        &url.replace("UnaryCall", "NoSuchMethod"),
    ]) else {
        return;
    };
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("\"code\":\"unimplemented\""), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn curl_unary_json_post_and_get() {
    let server = TestServer::start();
    server
        .server()
        .add_file_descriptor_set(rustgrpc_tests::TESTING_DESCRIPTOR_SET)
        .unwrap();
    let url = format!(
        "http://127.0.0.1:{}/rustgrpc.testing.TestService/UnaryCall",
        server.port()
    );
    for version in ["--http1.1", "--http2-prior-knowledge"] {
        let Some(output) = curl(&[
            "--silent",
            "--show-error",
            "--fail",
            version,
            "--header",
            "Content-Type: application/json",
            "--data",
            r#"{"message": "json from curl"}"#,
            &url,
        ]) else {
            return;
        };
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let reply: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        assert_eq!(reply["message"], "json from curl", "{version}");
    }
    // GET is refused for a method not marked NO_SIDE_EFFECTS.
    let Some(output) = curl(&[
        "--silent",
        "--output",
        "/dev/null",
        "--write-out",
        "%{http_code}",
        &format!("{url}?encoding=json&message=%7B%7D&connect=v1"),
    ]) else {
        return;
    };
    assert_eq!(String::from_utf8_lossy(&output.stdout), "405");
}
