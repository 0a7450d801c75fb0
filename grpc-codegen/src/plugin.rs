//! The protoc plugin protocol, shared by the `protoc-gen-rustgrpc` binary.
//!
//! [`run`] turns a `CodeGeneratorRequest` into a `CodeGeneratorResponse`
//! with one `<package>.rs` file per proto package of the files to generate,
//! byte for byte what [`Builder::compile_protos`](crate::Builder::compile_protos)
//! writes for the same files and settings.
//!
//! Plugin parameters (`--rustgrpc_opt=...`, comma-separated):
//! - `emit=client|server|both`: which halves of each service to generate;
//! - `extern_path=<proto path>=<rust path>`: see
//!   [`Builder::extern_path`](crate::Builder::extern_path); may repeat.
//!
//! The request is untrusted input: every problem, including a panic inside
//! prost-build, is reported in the response's `error` field.

use std::any::Any;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{self, AssertUnwindSafe};

use prost::Message;
use prost_build::Module;
use prost_types::compiler::code_generator_response::{Feature, File};
use prost_types::compiler::{CodeGeneratorRequest, CodeGeneratorResponse};

use crate::builder::{Builder, configure};
use crate::options::Emit;

/// File name prost-build uses for files without a `package`.
const DEFAULT_PACKAGE_FILENAME: &str = "_";

/// Answers a decoded plugin request.
pub fn run(request: CodeGeneratorRequest) -> CodeGeneratorResponse {
    match generate(request) {
        Ok(files) => {
            let mut response = empty_response();
            response.file = files;
            response
        }
        Err(error) => error_response(error),
    }
}

/// Answers an encoded plugin request (protoc's stdin) with an encoded
/// response (protoc's stdout). Undecodable input yields an error response.
pub fn run_encoded(request: &[u8]) -> Vec<u8> {
    let response = match CodeGeneratorRequest::decode(request) {
        Ok(request) => run(request),
        Err(error) => error_response(format!("cannot decode CodeGeneratorRequest: {error}")),
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

fn error_response(error: String) -> CodeGeneratorResponse {
    let mut response = empty_response();
    response.error = Some(error);
    response
}

fn generate(request: CodeGeneratorRequest) -> Result<Vec<File>, String> {
    let builder = parse_parameter(request.parameter())?;

    let mut wanted = BTreeSet::new();
    for name in &request.file_to_generate {
        let file = request
            .proto_file
            .iter()
            .find(|file| file.name() == name)
            .ok_or_else(|| format!("file to generate `{name}` is not among the proto files"))?;
        wanted.insert(Module::from_protobuf_package_name(file.package()));
    }

    // Every file goes to prost-build, imports included, as in the build.rs
    // path: it needs all message definitions to derive traits correctly.
    let requests = request
        .proto_file
        .into_iter()
        .map(|file| (Module::from_protobuf_package_name(file.package()), file))
        .collect();
    let mut config = builder.prost_config();
    let modules = panic::catch_unwind(AssertUnwindSafe(|| config.generate(requests)))
        .map_err(|payload| format!("code generation failed: {}", panic_message(&*payload)))?
        .map_err(|error| format!("code generation failed: {error}"))?;

    let sorted: BTreeMap<Module, String> = modules.into_iter().collect();
    Ok(sorted
        .into_iter()
        .filter(|(module, _)| wanted.contains(module))
        .map(|(module, content)| File {
            name: Some(module.to_file_name_or(DEFAULT_PACKAGE_FILENAME)),
            content: Some(content),
            ..File::default()
        })
        .collect())
}

fn parse_parameter(parameter: &str) -> Result<Builder, String> {
    let mut builder = configure();
    for item in parameter
        .split(',')
        .map(str::trim)
        .filter(|i| !i.is_empty())
    {
        let (key, value) = item.split_once('=').unwrap_or((item, ""));
        builder = match key {
            "emit" => builder.emit(match value {
                "client" => Emit::Client,
                "server" => Emit::Server,
                "both" => Emit::Both,
                _ => {
                    return Err(format!(
                        "invalid parameter `{item}`: emit must be client, server or both"
                    ));
                }
            }),
            "extern_path" => match value.split_once('=') {
                Some((proto, rust)) if !proto.is_empty() && !rust.is_empty() => {
                    builder.extern_path(proto, rust)
                }
                _ => {
                    return Err(format!(
                        "invalid parameter `{item}`: expected extern_path=<proto path>=<rust path>"
                    ));
                }
            },
            _ => {
                return Err(format!(
                    "unknown parameter `{item}` (known: emit, extern_path)"
                ));
            }
        };
    }
    Ok(builder)
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(message) = payload.downcast_ref::<&str>() {
        message
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message
    } else {
        "panic in prost-build"
    }
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
        let response = run(request(Some("emit=client")));
        assert_eq!(response.error, None);
        let content = response.file[0].content();
        assert!(content.contains("pub struct GreeterStub"));
        assert!(!content.contains("GreeterServicer"));
    }

    #[test]
    fn bad_parameters_are_errors() {
        for parameter in [
            "emit=sideways",
            "frobnicate",
            "extern_path=.a",
            "extern_path==::a",
        ] {
            let response = run(request(Some(parameter)));
            assert!(response.error.is_some(), "{parameter}");
            assert!(response.file.is_empty());
        }
    }

    #[test]
    fn extern_path_parameter_is_accepted() {
        let response = run(request(Some(" emit=both , extern_path=.other=::other ")));
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
        assert!(response.error.is_some());
        assert!(response.file.is_empty());
    }

    #[test]
    fn garbage_input_is_an_error_response() {
        let encoded = run_encoded(&[0xff, 0xff, 0xff]);
        let response = CodeGeneratorResponse::decode(encoded.as_slice()).expect("valid response");
        assert!(response.error.is_some());
    }
}
