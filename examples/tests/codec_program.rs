//! `json_codec` as a process (a JSON greeter called through the generated
//! stub and with raw bytes), and the README's "Codecs" snippet, which must
//! be the marked part of that program.

mod common;
use common::{read, run};

#[test]
fn json_codec_program_answers_typed_and_raw_calls() {
    assert_eq!(
        run(env!("CARGO_BIN_EXE_json_codec")),
        ["typed: Hello, JSON!", r#"raw: {"message":"Hello, raw!"}"#]
    );
}

#[test]
fn readme_codecs_snippet_is_the_example_code() {
    let example = common::marked(
        &read("src/bin/json_codec.rs"),
        "// README: codecs",
        "// end README",
    )
    .concat();
    let readme = common::readme_rust_blocks(&read("../README.md"), "## Codecs").concat();
    assert!(!readme.is_empty(), "README.md has no `## Codecs` code");
    assert_eq!(readme, example);
}
