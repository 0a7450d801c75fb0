//! The hard-proto suite, shared by three crates' tests (each includes this
//! file with `#[path]`): grpc-codegen's golden test, the plugin's protoc
//! test and the compile-and-call test crate.

#![allow(dead_code)] // each includer uses a part of it

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The include file that the suite asks for.
pub(crate) const INCLUDE_FILE: &str = "_includes.rs";

/// The plugin parameter equivalent to [`builder`].
pub(crate) const PLUGIN_PARAMETER: &str = "include_file=_includes.rs,descriptor_set=embed";

/// `grpc-codegen/`, from any crate of the workspace.
pub(crate) fn codegen_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../grpc-codegen")
}

/// The include directory of the hard protos.
pub(crate) fn protos_dir() -> PathBuf {
    codegen_dir().join("tests/protos/hard")
}

/// Where the generated files of the hard protos are kept.
pub(crate) fn golden_dir() -> PathBuf {
    codegen_dir().join("tests/golden/hard")
}

/// Every `.proto` file of the suite, sorted, so both paths see one order.
pub(crate) fn protos() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        let entries = std::fs::read_dir(dir).expect("read the protos directory");
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "proto") {
                out.push(path);
            }
        }
    }
    let mut out = Vec::new();
    walk(&protos_dir(), &mut out);
    out.sort();
    out
}

/// The build.rs configuration of the suite.
pub(crate) fn builder() -> grpc_codegen::Builder {
    grpc_codegen::configure()
        .include_file(INCLUDE_FILE)
        .descriptor_set(grpc_codegen::DescriptorSet::Embed)
}

/// A fresh, empty directory under the system temp dir.
pub(crate) fn unique_temp_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!(
        "rustgrpc-hard-{tag}-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

/// The `.rs` files of `dir` by name.
pub(crate) fn rust_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .expect("read the output directory")
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            let content = std::fs::read(&path).expect("read a generated file");
            (name, content)
        })
        .collect()
}

/// Asserts that two sets of files are identical, byte for byte, naming the
/// first difference.
pub(crate) fn assert_same_files(
    expected: &BTreeMap<String, Vec<u8>>,
    actual: &BTreeMap<String, Vec<u8>>,
    what: &str,
) {
    let expected_names: Vec<_> = expected.keys().collect();
    let actual_names: Vec<_> = actual.keys().collect();
    assert_eq!(actual_names, expected_names, "{what}: different file names");
    for (name, content) in expected {
        let other = &actual[name];
        if other != content {
            let expected_text = String::from_utf8_lossy(content);
            let actual_text = String::from_utf8_lossy(other);
            let line = expected_text
                .lines()
                .zip(actual_text.lines())
                .position(|(a, b)| a != b)
                .map_or_else(
                    || "a missing line at the end".to_owned(),
                    |n| format!("line {}", n + 1),
                );
            panic!("{what}: `{name}` differs first at {line}");
        }
    }
}
