//! Golden-file tests: the build.rs path over `tests/protos` must reproduce
//! `tests/golden` byte for byte.
//!
//! Run with `UPDATE_GOLDEN=1` to rewrite the golden files, then review the
//! diff.

#[path = "support/hard.rs"]
mod hard;

use std::path::Path;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn updating_golden() -> bool {
    std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1")
}

#[test]
fn greeter_matches_golden() {
    let protos = manifest_dir().join("tests/protos");
    let out_dir = hard::unique_temp_dir("greeter");
    grpc_codegen::configure()
        .out_dir(&out_dir)
        .compile_protos(&[protos.join("greeter.proto")], &[&protos])
        .expect("builder runs");
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
fn hard_protos_match_golden() {
    let out_dir = hard::unique_temp_dir("golden");
    hard::builder()
        .out_dir(&out_dir)
        .compile_protos(&hard::protos(), &[hard::protos_dir()])
        .expect("builder runs on the hard protos");
    let generated = hard::rust_files(&out_dir);
    let _ = std::fs::remove_dir_all(&out_dir);

    let golden_dir = hard::golden_dir();
    if updating_golden() {
        let _ = std::fs::remove_dir_all(&golden_dir);
        std::fs::create_dir_all(&golden_dir).expect("create golden dir");
        for (name, content) in &generated {
            std::fs::write(golden_dir.join(name), content).expect("write golden file");
        }
        return;
    }
    hard::assert_same_files(
        &hard::rust_files(&golden_dir),
        &generated,
        "build.rs output vs tests/golden/hard (rerun with UPDATE_GOLDEN=1 and review the diff)",
    );
}

#[test]
fn hard_protos_give_one_file_per_package() {
    let names: Vec<String> = hard::rust_files(&hard::golden_dir()).into_keys().collect();
    assert_eq!(
        names,
        [
            "_.rs",
            "_includes.rs",
            "hard.common.deep.inner.rs",
            "hard.common.rs",
            "hard.docs.rs",
            "hard.legacy.rs",
            "hard.names.rs",
            "hard.r#type.self_.rs",
            "hard.streaming.rs",
        ]
    );
}

#[test]
fn service_generator_plugs_into_prost_build() {
    let protos = manifest_dir().join("tests/protos");
    let out_dir = hard::unique_temp_dir("prost");
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
    assert!(generated.contains("pub struct GreeterStub"));
    assert!(generated.contains("pub trait GreeterServicer"));
}
