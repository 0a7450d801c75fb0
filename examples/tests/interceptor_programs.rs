//! The interceptor example programs (grpcio's interceptor examples, ported),
//! run as processes; and the README's "Client interceptors" snippets, which
//! must be the marked parts of those programs (so the README shows code
//! that compiles and runs).

mod common;
use common::read;
use common::run;

#[test]
fn header_manipulation_adds_the_header_the_server_requires() {
    assert_eq!(
        run(env!("CARGO_BIN_EXE_interceptor_headers")),
        [
            "Greeter client received: Hello, you!",
            "Without the header: UNAUTHENTICATED Access denied!",
        ]
    );
}

#[test]
fn default_value_answers_a_failed_call() {
    assert_eq!(
        run(env!("CARGO_BIN_EXE_interceptor_default_value")),
        ["Greeter client received: Hello from your local interceptor!"]
    );
}

#[test]
fn auth_signs_calls_and_the_server_rejects_unsigned_ones() {
    assert_eq!(
        run(env!("CARGO_BIN_EXE_interceptor_auth")),
        [
            "Signed call: Hello, you!",
            "Unsigned call: UNAUTHENTICATED Invalid signature",
        ]
    );
}

#[test]
fn retry_inside_logging_logs_one_call_after_two_retries() {
    assert_eq!(
        run(env!("CARGO_BIN_EXE_interceptor_logging_retry")),
        [
            "[retry] attempt 1: warming up",
            "[retry] attempt 2: warming up",
            "[log] /helloworld.Greeter/SayHello: OK after 1 response(s)",
            "Greeter client received: Hello, you!",
        ]
    );
}

#[test]
fn readme_client_interceptors_snippets_are_the_example_code() {
    let examples: Vec<String> = [
        "src/bin/interceptor_headers.rs",
        "src/bin/interceptor_default_value.rs",
        "src/bin/interceptor_auth.rs",
        "src/bin/interceptor_logging_retry.rs",
    ]
    .iter()
    .flat_map(|path| {
        common::marked(
            &read(path),
            "// README: client interceptors",
            "// README: end",
        )
    })
    .collect();
    let readme = common::readme_rust_blocks(&read("../README.md"), "## Client interceptors");
    assert!(
        !readme.is_empty(),
        "README.md has no `## Client interceptors` code"
    );
    assert_eq!(readme, examples);
}
