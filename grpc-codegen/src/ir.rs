//! A small, renderer-friendly model of a proto service.
//!
//! Built from prost-build's [`prost_build::Service`]; it holds exactly what
//! the emitters need, with names already converted to Rust spelling.

use crate::naming;

/// One service, as the emitters see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Service {
    /// UpperCamelCase base name for generated types (`Greeter`).
    pub(crate) name: String,
    /// snake_case base name for generated modules and functions (`greeter`).
    pub(crate) snake_name: String,
    /// The service name as written in the .proto file.
    pub(crate) proto_name: String,
    /// The proto package, empty when the file has none.
    pub(crate) package: String,
    /// Doc comment lines (leading, then trailing).
    pub(crate) comments: Vec<String>,
    /// `option deprecated = true;` on the service.
    pub(crate) deprecated: bool,
    /// The methods, in .proto order.
    pub(crate) methods: Vec<Method>,
}

/// One RPC method of a [`Service`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Method {
    /// snake_case spelling of the proto name, before keyword escaping and
    /// before clashes are resolved (`say_hello`, `type`).
    pub(crate) name: String,
    /// The method name as written in the .proto file (`SayHello`).
    pub(crate) proto_name: String,
    /// Rust type of the request message, as given by prost-build.
    pub(crate) input_type: String,
    /// Rust type of the response message, as given by prost-build.
    pub(crate) output_type: String,
    /// The client sends a stream of requests.
    pub(crate) client_streaming: bool,
    /// The server sends a stream of responses.
    pub(crate) server_streaming: bool,
    /// `option deprecated = true;` on the method.
    pub(crate) deprecated: bool,
    /// Doc comment lines (leading, then trailing).
    pub(crate) comments: Vec<String>,
}

/// The four gRPC call shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CallKind {
    /// One request, one response.
    UnaryUnary,
    /// One request, a stream of responses.
    UnaryStream,
    /// A stream of requests, one response.
    StreamUnary,
    /// Streams both ways.
    StreamStream,
}

impl Service {
    /// Builds the IR of a service handed over by prost-build.
    pub(crate) fn from_prost(service: &prost_build::Service) -> Self {
        Self {
            name: naming::upper_camel_case(&service.proto_name),
            snake_name: naming::snake_case(&service.proto_name),
            proto_name: service.proto_name.clone(),
            package: service.package.clone(),
            comments: comment_lines(&service.comments),
            deprecated: service.options.deprecated(),
            methods: service.methods.iter().map(Method::from_prost).collect(),
        }
    }

    /// The fully-qualified service name (`helloworld.Greeter`).
    pub(crate) fn full_name(&self) -> String {
        if self.package.is_empty() {
            self.proto_name.clone()
        } else {
            format!("{}.{}", self.package, self.proto_name)
        }
    }

    /// Whether anything in the service is deprecated.
    pub(crate) fn uses_deprecated(&self) -> bool {
        self.deprecated || self.methods.iter().any(|m| m.deprecated)
    }
}

impl Method {
    /// Builds the IR of a method handed over by prost-build.
    pub(crate) fn from_prost(method: &prost_build::Method) -> Self {
        Self {
            name: naming::snake_case(&method.proto_name),
            proto_name: method.proto_name.clone(),
            input_type: method.input_type.clone(),
            output_type: method.output_type.clone(),
            client_streaming: method.client_streaming,
            server_streaming: method.server_streaming,
            deprecated: method.options.deprecated(),
            comments: comment_lines(&method.comments),
        }
    }

    /// The call shape of this method.
    pub(crate) fn kind(&self) -> CallKind {
        match (self.client_streaming, self.server_streaming) {
            (false, false) => CallKind::UnaryUnary,
            (false, true) => CallKind::UnaryStream,
            (true, false) => CallKind::StreamUnary,
            (true, true) => CallKind::StreamStream,
        }
    }

    /// The HTTP/2 path of this method (`/helloworld.Greeter/SayHello`).
    pub(crate) fn path(&self, service: &Service) -> String {
        format!("/{}/{}", service.full_name(), self.proto_name)
    }
}

/// Flattens prost-build comments into doc lines: leading comments, then an
/// empty separator line, then trailing comments. Detached comments are not
/// documentation and are dropped.
fn comment_lines(comments: &prost_build::Comments) -> Vec<String> {
    let mut lines = comments.leading.clone();
    if !lines.is_empty() && !comments.trailing.is_empty() {
        lines.push(String::new());
    }
    lines.extend(comments.trailing.iter().cloned());
    lines
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn prost_method(
        proto_name: &str,
        client_streaming: bool,
        server_streaming: bool,
    ) -> prost_build::Method {
        prost_build::Method {
            name: naming::snake_case(proto_name),
            proto_name: proto_name.to_owned(),
            comments: prost_build::Comments {
                leading_detached: vec![vec![" detached".to_owned()]],
                leading: vec![format!(" Calls {proto_name}.")],
                trailing: vec![],
            },
            input_type: "HelloRequest".to_owned(),
            output_type: "super::other::HelloReply".to_owned(),
            input_proto_type: ".helloworld.HelloRequest".to_owned(),
            output_proto_type: ".other.HelloReply".to_owned(),
            options: prost_types::MethodOptions::default(),
            client_streaming,
            server_streaming,
        }
    }

    pub(crate) fn prost_service() -> prost_build::Service {
        prost_build::Service {
            name: "Greeter".to_owned(),
            proto_name: "Greeter".to_owned(),
            package: "helloworld".to_owned(),
            comments: prost_build::Comments {
                leading_detached: vec![],
                leading: vec![" The greeting service.".to_owned()],
                trailing: vec![" Trailing.".to_owned()],
            },
            methods: vec![
                prost_method("SayHello", false, false),
                prost_method("Lots", false, true),
                prost_method("Gather", true, false),
                prost_method("Chat", true, true),
            ],
            options: prost_types::ServiceOptions::default(),
        }
    }

    #[test]
    fn service_names_and_comments() {
        let service = Service::from_prost(&prost_service());
        assert_eq!(service.name, "Greeter");
        assert_eq!(service.snake_name, "greeter");
        assert_eq!(service.full_name(), "helloworld.Greeter");
        assert_eq!(
            service.comments,
            [" The greeting service.", "", " Trailing."]
        );
        assert!(!service.deprecated);
        assert!(!service.uses_deprecated());
    }

    #[test]
    fn service_without_package() {
        let mut prost = prost_service();
        prost.package.clear();
        let service = Service::from_prost(&prost);
        assert_eq!(service.full_name(), "Greeter");
        assert_eq!(service.methods[0].path(&service), "/Greeter/SayHello");
    }

    #[test]
    fn method_shapes_and_paths() {
        let service = Service::from_prost(&prost_service());
        let kinds: Vec<_> = service.methods.iter().map(Method::kind).collect();
        assert_eq!(
            kinds,
            [
                CallKind::UnaryUnary,
                CallKind::UnaryStream,
                CallKind::StreamUnary,
                CallKind::StreamStream
            ]
        );
        let say_hello = &service.methods[0];
        assert_eq!(say_hello.name, "say_hello");
        assert_eq!(say_hello.path(&service), "/helloworld.Greeter/SayHello");
        assert_eq!(say_hello.input_type, "HelloRequest");
        assert_eq!(say_hello.output_type, "super::other::HelloReply");
        assert_eq!(say_hello.comments, [" Calls SayHello."]);
    }

    #[test]
    fn deprecation_is_read_from_options() {
        let mut prost = prost_service();
        prost.methods[1].options.deprecated = Some(true);
        let service = Service::from_prost(&prost);
        assert!(!service.methods[0].deprecated);
        assert!(service.methods[1].deprecated);
        assert!(service.uses_deprecated());

        prost.options.deprecated = Some(true);
        assert!(Service::from_prost(&prost).deprecated);
    }
}
