//! The protoc plugin protocol, shared by the `protoc-gen-rustgrpc` binary.
//!
//! [`run`] turns a `CodeGeneratorRequest` into a `CodeGeneratorResponse`
//! with one `<package>.rs` file per proto package of the files to generate
//! (plus the include file, if asked for), byte for byte what
//! [`Builder::compile_protos`](crate::Builder::compile_protos) writes for the
//! same files and options: both hand the descriptors to the same generator.
//!
//! The parameter (`--rustgrpc_opt=...`, or buf's `opt:`) is parsed by
//! [`CodegenOptions::from_plugin_parameter`]; the keys are listed in
//! [`PARAMETERS`](crate::PARAMETERS).
//!
//! The request is untrusted input: every problem (an unknown parameter,
//! descriptors that prost-build rejects or panics on) is reported in the
//! response's `error` field, which protoc prints, and no files are returned.
//! The response declares proto3 `optional` support.

use prost::Message;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::Error;
use crate::generate::{self, Selection};
use crate::options::CodegenOptions;

/// Answers a decoded plugin request.
pub fn run(request: CodeGeneratorRequest) -> CodeGeneratorResponse {
    match generate_files(request) {
        Ok(files) => CodeGeneratorResponse {
            file: files,
            ..empty_response()
        },
        Err(error) => error_response(error.message()),
    }
}

/// Answers an encoded plugin request (protoc's stdin) with an encoded
/// response (protoc's stdout). Undecodable input yields an error response.
pub fn run_encoded(request: &[u8]) -> Vec<u8> {
    let response = match CodeGeneratorRequest::decode(request) {
        Ok(request) => run(request),
        Err(error) => error_response(&format!(
            "cannot decode the CodeGeneratorRequest on stdin ({error}); \
             protoc-gen-rustgrpc is meant to be run by protoc: \
             protoc --rustgrpc_out=DIR --plugin=protoc-gen-rustgrpc=PATH ..."
        )),
    };
    response.encode_to_vec()
}

/// A response with no files that declares the features we support.
fn empty_response() -> CodeGeneratorResponse {
    CodeGeneratorResponse {
        supported_features: Some(Feature::Proto3Optional as u64),
        ..CodeGeneratorResponse::default()
    }
}

fn error_response(error: &str) -> CodeGeneratorResponse {
    CodeGeneratorResponse {
        error: Some(error.to_owned()),
        ..empty_response()
    }
}

fn generate_files(request: CodeGeneratorRequest) -> Result<Vec<File>, Error> {
    let CodeGeneratorRequest {
        file_to_generate,
        parameter,
        proto_file,
        ..
    } = request;
    let options = CodegenOptions::from_plugin_parameter(parameter.as_deref().unwrap_or(""))?;
    let files = generate::generate(&options, proto_file, Selection::Files(&file_to_generate))?;
    Ok(files
        .into_iter()
        .map(|file| File {
            name: Some(file.name),
            content: Some(file.content),
            ..File::default()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use prost_types::{
        DescriptorProto, FileDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto,
    };

    use super::*;

    fn greeter_file() -> FileDescriptorProto {
        let message = |name: &str| DescriptorProto {
            name: Some(name.to_owned()),
            ..DescriptorProto::default()
        };
        FileDescriptorProto {
            name: Some("greeter.proto".to_owned()),
            package: Some("helloworld".to_owned()),
            message_type: vec![message("HelloRequest"), message("HelloReply")],
            service: vec![ServiceDescriptorProto {
                name: Some("Greeter".to_owned()),
                method: vec![MethodDescriptorProto {
                    name: Some("SayHello".to_owned()),
                    input_type: Some(".helloworld.HelloRequest".to_owned()),
                    output_type: Some(".helloworld.HelloReply".to_owned()),
                    ..MethodDescriptorProto::default()
                }],
                ..ServiceDescriptorProto::default()
            }],
            syntax: Some("proto3".to_owned()),
            ..FileDescriptorProto::default()
        }
    }

    fn request(parameter: Option<&str>) -> CodeGeneratorRequest {
        CodeGeneratorRequest {
            file_to_generate: vec!["greeter.proto".to_owned()],
            parameter: parameter.map(str::to_owned),
            proto_file: vec![greeter_file()],
            ..CodeGeneratorRequest::default()
        }
    }

    #[test]
    fn generates_one_file_per_package() {
        let response = run(request(None));
        assert_eq!(response.error, None);
        assert_eq!(
            response.supported_features,
            Some(Feature::Proto3Optional as u64)
        );
        assert_eq!(response.file.len(), 1);
        assert_eq!(response.file[0].name(), "helloworld.rs");
        let content = response.file[0].content();
        assert!(content.contains("pub struct HelloRequest"));
        assert!(content.contains("pub struct GreeterStub"));
        assert!(content.contains("pub trait GreeterServicer"));
    }

    #[test]
    fn emit_parameter_is_honoured() {
        let response = run(request(Some("emit=messages+client")));
        assert_eq!(response.error, None);
        let content = response.file[0].content();
        assert!(content.contains("pub struct GreeterStub"));
        assert!(!content.contains("GreeterServicer"));

        let response = run(request(Some("emit=server")));
        let content = response.file[0].content();
        assert!(content.contains("pub trait GreeterServicer"));
        assert!(!content.contains("pub struct HelloRequest"));
        assert!(!content.contains("GreeterStub"));
    }

    #[test]
    fn face_parameter_is_honoured() {
        let both = run(request(None));
        let content = both.file[0].content();
        assert!(content.contains("pub trait GreeterServicer"));
        assert!(content.contains("pub trait AsyncGreeterServicer"));

        let response = run(request(Some("face=async")));
        assert_eq!(response.error, None);
        let content = response.file[0].content();
        assert!(content.contains("pub trait AsyncGreeterServicer"));
        assert!(content.contains("pub fn add_async_greeter_servicer_to_server"));
        assert!(!content.contains("pub trait GreeterServicer"));
        assert!(content.contains("pub struct GreeterStub"));

        let response = run(request(Some("face=blocking,emit=client")));
        let content = response.file[0].content();
        assert!(content.contains("pub struct GreeterStub"));
        assert!(!content.contains("Servicer"));
    }

    #[test]
    fn include_file_is_added() {
        let response = run(request(Some("include_file=mod.rs")));
        assert_eq!(response.error, None);
        let names: Vec<_> = response.file.iter().map(File::name).collect();
        assert_eq!(names, ["helloworld.rs", "mod.rs"]);
        assert!(
            response.file[1]
                .content()
                .contains("include!(\"helloworld.rs\");")
        );
    }

    #[test]
    fn bad_parameters_are_errors() {
        for (parameter, expected) in [
            ("emit=sideways", "`sideways` is not one of"),
            ("frobnicate", "unknown parameter `frobnicate`"),
            ("extern_path=.a", "invalid parameter `extern_path=.a`"),
            ("extern_path==::a", "invalid parameter `extern_path==::a`"),
            ("face=fast", "face must be blocking, async or both"),
        ] {
            let response = run(request(Some(parameter)));
            let error = response.error.unwrap_or_default();
            assert!(error.contains(expected), "{parameter}: {error}");
            assert!(response.file.is_empty());
            assert_eq!(
                response.supported_features,
                Some(Feature::Proto3Optional as u64)
            );
        }
    }

    #[test]
    fn extern_path_parameter_is_accepted() {
        let response = run(request(Some(
            " emit=client+server , extern_path=.other=::other ",
        )));
        assert_eq!(response.error, None);
    }

    #[test]
    fn imported_packages_are_not_emitted() {
        let mut request = request(None);
        let mut imported = greeter_file();
        imported.name = Some("other.proto".to_owned());
        imported.package = Some("other".to_owned());
        imported.service.clear();
        request.proto_file.insert(0, imported);
        let response = run(request);
        assert_eq!(response.error, None);
        let names: Vec<_> = response.file.iter().map(File::name).collect();
        assert_eq!(names, ["helloworld.rs"]);
    }

    #[test]
    fn missing_file_to_generate_is_an_error() {
        let mut request = request(None);
        request.file_to_generate.push("nope.proto".to_owned());
        let response = run(request);
        assert!(response.error.is_some_and(|e| e.contains("nope.proto")));
    }

    #[test]
    fn malformed_descriptors_do_not_panic() {
        let mut request = request(None);
        // prost-build unwraps message names; a nameless message panics inside it.
        request.proto_file[0].message_type[0].name = None;
        let response = run(request);
        let error = response.error.unwrap_or_default();
        assert!(error.contains("prost-build failed"), "{error}");
        assert!(response.file.is_empty());
    }

    #[test]
    fn garbage_input_is_an_error_response() {
        let encoded = run_encoded(&[0xff, 0xff, 0xff]);
        let response = CodeGeneratorResponse::decode(encoded.as_slice()).expect("valid response");
        assert!(
            response
                .error
                .is_some_and(|e| e.contains("cannot decode the CodeGeneratorRequest"))
        );
    }
}
