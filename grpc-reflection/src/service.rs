//! The `ServerReflectionInfo` stream: one answer per request.

use std::collections::HashSet;
use std::sync::Arc;

use grpc_core::{Code, WeakServer};

use crate::index::Index;
use crate::v1::server_reflection_request::MessageRequest;
use crate::v1::server_reflection_response::MessageResponse;
use crate::v1::{
    ErrorResponse, ExtensionNumberResponse, FileDescriptorResponse, ListServiceResponse,
    ServerReflectionRequest, ServerReflectionResponse, ServiceResponse,
};

/// What every reflection stream of a server shares.
#[derive(Debug)]
pub(crate) struct Reflection {
    pub(crate) index: Index,
    /// The server, to list its services (weak: the server owns us).
    pub(crate) server: WeakServer,
}

/// One stream's state: the files already sent on it.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    files: HashSet<String>,
}

impl Reflection {
    /// Answers one request.
    pub(crate) fn answer(
        &self,
        request: ServerReflectionRequest,
        sent: &mut Sent,
    ) -> ServerReflectionResponse {
        let answer = match &request.message_request {
            Some(MessageRequest::ListServices(_)) => Ok(self.list_services()),
            Some(MessageRequest::FileByFilename(name)) => self
                .index
                .file(name)
                .map(|_| self.files(name, sent))
                .ok_or_else(|| not_found(format!("no file named `{name}` is registered"))),
            Some(MessageRequest::FileContainingSymbol(symbol)) => self
                .index
                .file_defining(symbol)
                .map(|file| self.files(file, sent))
                .ok_or_else(|| not_found(format!("no registered file defines `{symbol}`"))),
            Some(MessageRequest::FileContainingExtension(extension)) => self
                .index
                .file_extending(&extension.containing_type, extension.extension_number)
                .map(|file| self.files(file, sent))
                .ok_or_else(|| {
                    not_found(format!(
                        "no registered file defines extension {} of `{}`",
                        extension.extension_number, extension.containing_type
                    ))
                }),
            Some(MessageRequest::AllExtensionNumbersOfType(message)) => {
                self.extension_numbers(message)
            }
            None => Err(error(
                Code::InvalidArgument,
                "the request asks nothing: set one of list_services, file_by_filename, \
                 file_containing_symbol, file_containing_extension, \
                 all_extension_numbers_of_type"
                    .to_owned(),
            )),
        };
        ServerReflectionResponse {
            valid_host: request.host.clone(),
            original_request: Some(request),
            message_response: Some(answer.unwrap_or_else(MessageResponse::ErrorResponse)),
        }
    }

    /// The services of the server, or of the descriptors once the server
    /// is gone.
    fn list_services(&self) -> MessageResponse {
        let names = match self.server.upgrade() {
            Some(server) => server.service_names(),
            None => self.index.services().map(str::to_owned).collect(),
        };
        MessageResponse::ListServicesResponse(ListServiceResponse {
            service: names
                .into_iter()
                .map(|name| ServiceResponse { name })
                .collect(),
        })
    }

    /// `root` and its transitive imports not yet sent on this stream
    /// (`root` always, first). Imports that were not registered are left
    /// out: the client reports them by name.
    fn files(&self, root: &str, sent: &mut Sent) -> MessageResponse {
        let mut encoded = Vec::new();
        let mut pending = vec![root.to_owned()];
        let mut seen_now: HashSet<String> = HashSet::new();
        while let Some(name) = pending.pop() {
            if !seen_now.insert(name.clone()) {
                continue;
            }
            let Some(file) = self.index.file(&name) else {
                continue;
            };
            let first = encoded.is_empty();
            if first || !sent.files.contains(&name) {
                encoded.push(file.encoded.clone());
                sent.files.insert(name);
            }
            pending.extend(file.dependencies.iter().rev().cloned());
        }
        MessageResponse::FileDescriptorResponse(FileDescriptorResponse {
            file_descriptor_proto: encoded,
        })
    }

    fn extension_numbers(&self, message: &str) -> Result<MessageResponse, ErrorResponse> {
        if !self.index.defines(message) {
            return Err(not_found(format!("no registered file defines `{message}`")));
        }
        Ok(MessageResponse::AllExtensionNumbersResponse(
            ExtensionNumberResponse {
                base_type_name: message.strip_prefix('.').unwrap_or(message).to_owned(),
                extension_number: self.index.extension_numbers(message),
            },
        ))
    }
}

fn not_found(message: String) -> ErrorResponse {
    error(Code::NotFound, message)
}

fn error(code: Code, message: String) -> ErrorResponse {
    ErrorResponse {
        error_code: code as i32,
        error_message: message,
    }
}

/// Reflection's streams are served on `server` under both versions' names.
pub(crate) fn serve(reflection: Reflection, server: &grpc_core::Server) {
    use futures_util::StreamExt;

    let reflection = Arc::new(reflection);
    for name in [
        crate::v1::server_reflection_service::NAME,
        crate::v1alpha::server_reflection_service::NAME,
    ] {
        let reflection = Arc::clone(&reflection);
        let mut service = grpc_core::ServiceBuilder::new(name);
        // v1alpha is wire-identical to v1: one handler serves both.
        service.stream_stream_async(
            "ServerReflectionInfo",
            move |requests: grpc_core::RequestStream<ServerReflectionRequest>, _context| {
                let reflection = Arc::clone(&reflection);
                async move {
                    let mut sent = Sent::default();
                    Ok(StreamExt::map(requests, move |request| {
                        request.map(|request| reflection.answer(request, &mut sent))
                    }))
                }
            },
        );
        server.add_service(service.build());
    }
}
