//! Golden-file test: prost-build with our `ServiceGenerator` over
//! `tests/protos/greeter.proto` must reproduce `tests/golden/helloworld.rs`.
//!
//! Run with `UPDATE_GOLDEN=1` to rewrite the golden file.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A fresh, empty directory under the system temp dir.
fn unique_temp_dir(tag: &str) -> PathBuf {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir =
        std::env::temp_dir().join(format!("grpc-codegen-{tag}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("create temp dir");
    dir
}

fn updating_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

#[test]
fn greeter_matches_golden() {
    let protos = manifest_dir().join("tests/protos");
    let out_dir = unique_temp_dir("golden");

    let mut config = prost_build::Config::new();
    config
        .protoc_executable(protoc_bin_vendored::protoc_bin_path().expect("vendored protoc"))
        .out_dir(&out_dir)
        .service_generator(Box::new(grpc_codegen::ServiceGenerator::default()));
    config
        .compile_protos(&[protos.join("greeter.proto")], &[&protos])
        .expect("prost-build runs");

    let generated = std::fs::read_to_string(out_dir.join("helloworld.rs")).expect("output file");
    let _ = std::fs::remove_dir_all(&out_dir);

    let golden_path = manifest_dir().join("tests/golden/helloworld.rs");
    if updating_golden() {
        std::fs::write(&golden_path, &generated).expect("write golden file");
        return;
    }
    let golden = std::fs::read_to_string(&golden_path)
        .expect("golden file exists (run with UPDATE_GOLDEN=1 to create it)");
    assert!(
        generated == golden,
        "generated code differs from {}; rerun with UPDATE_GOLDEN=1 and review the diff.\n\
         --- generated ---\n{generated}",
        golden_path.display()
    );
}

#[test]
fn builder_writes_the_same_file() {
    let protos = manifest_dir().join("tests/protos");
    let out_dir = unique_temp_dir("builder");

    grpc_codegen::configure()
        .out_dir(&out_dir)
        .compile_protos(&[protos.join("greeter.proto")], &[&protos])
        .expect("builder runs");

    let generated = std::fs::read_to_string(out_dir.join("helloworld.rs")).expect("output file");
    let _ = std::fs::remove_dir_all(&out_dir);
    if updating_golden() {
        // `greeter_matches_golden` may be rewriting the file right now.
        return;
    }
    let golden = std::fs::read_to_string(manifest_dir().join("tests/golden/helloworld.rs"))
        .expect("golden file exists");
    assert_eq!(generated, golden);
}
