//! The one option model of code generation.
//!
//! [`CodegenOptions`] is what the [`Builder`](crate::Builder) (build.rs), the
//! protoc plugin (`--rustgrpc_opt=...`) and the
//! [`ServiceGenerator`](crate::ServiceGenerator) all read. The plugin's
//! parameters are parsed into it by [`CodegenOptions::from_plugin_parameter`],
//! and every parameter has a typed setter of the same name here and on the
//! `Builder`; [`PARAMETERS`] lists them (the plugin's `--help` prints it).

use std::fmt;
use std::ops::BitOr;

use crate::Error;

/// Which parts of the code to generate: a set of
/// [`MESSAGES`](Self::MESSAGES), [`CLIENT`](Self::CLIENT) and
/// [`SERVER`](Self::SERVER), combined with `|`.
///
/// ```
/// use grpc_codegen::Emit;
/// let parts = Emit::MESSAGES | Emit::CLIENT;
/// assert!(parts.includes_client() && !parts.includes_server());
/// assert_eq!(Emit::default(), Emit::ALL);
/// ```
///
/// Without [`MESSAGES`](Self::MESSAGES) the generated files hold only the
/// service code, which names message types by the same relative paths
/// (`super::common::Point`) as the full output: the messages must then come
/// from elsewhere into the same module layout.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Emit {
    bits: u8,
}

impl Emit {
    /// The prost messages and enums.
    pub const MESSAGES: Emit = Emit { bits: 1 };
    /// The client stub (`FooStub`) and the method-path module.
    pub const CLIENT: Emit = Emit { bits: 2 };
    /// The servicer trait (`FooServicer`), its registration function and
    /// the method-path module.
    pub const SERVER: Emit = Emit { bits: 4 };
    /// Messages, client and server (the default).
    pub const ALL: Emit = Emit { bits: 7 };

    /// The part names, in the order they are printed and parsed.
    const NAMES: [(&'static str, Emit); 3] = [
        ("messages", Emit::MESSAGES),
        ("client", Emit::CLIENT),
        ("server", Emit::SERVER),
    ];

    const NONE: Emit = Emit { bits: 0 };

    /// Whether prost messages are generated.
    pub fn includes_messages(self) -> bool {
        self.contains(Self::MESSAGES)
    }

    /// Whether client code is generated.
    pub fn includes_client(self) -> bool {
        self.contains(Self::CLIENT)
    }

    /// Whether server code is generated.
    pub fn includes_server(self) -> bool {
        self.contains(Self::SERVER)
    }

    fn contains(self, other: Emit) -> bool {
        self.bits & other.bits == other.bits
    }

    fn is_empty(self) -> bool {
        self.bits == 0
    }

    fn from_name(name: &str) -> Option<Emit> {
        Self::NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, part)| *part)
    }
}

impl Default for Emit {
    fn default() -> Self {
        Self::ALL
    }
}

impl BitOr for Emit {
    type Output = Emit;

    fn bitor(self, rhs: Emit) -> Emit {
        Emit {
            bits: self.bits | rhs.bits,
        }
    }
}

/// Prints the parts as the plugin parameter spells them: `messages+client`.
impl fmt::Display for Emit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (name, part) in Self::NAMES {
            if self.contains(part) {
                if !first {
                    f.write_str("+")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Emit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Emit({self})")
    }
}

/// Which servicer faces the generated server code offers.
///
/// The client stub is the same for both faces (its callables have `call`
/// and `call_async`), so it is generated whenever [`Emit::CLIENT`] is; the
/// face picks the servicer traits and registration functions:
///
/// - blocking: `GreeterServicer` (plain `fn`s, run on the server's worker
///   pool) and `add_greeter_servicer_to_server`;
/// - async: `AsyncGreeterServicer` (methods returning futures, implemented
///   with `async fn` and run as tasks; server-streaming methods return a
///   `grpc_core::Stream`) and `add_async_greeter_servicer_to_server`.
///
/// Both mount on the same `grpc_core::Server`. Item names do not depend on
/// the face: a blocking-only file names its items as the full one does.
///
/// ```
/// use grpc_codegen::{CodegenOptions, Face};
/// assert_eq!(CodegenOptions::new().selected_face(), Face::Both);
/// assert!(Face::Both.includes_async() && Face::Both.includes_blocking());
/// assert!(!Face::Blocking.includes_async());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Face {
    /// Only the blocking servicer trait and its registration function.
    Blocking,
    /// Only the async servicer trait and its registration function.
    Async,
    /// Both servicer traits side by side (the default).
    #[default]
    Both,
}

impl Face {
    fn name(self) -> &'static str {
        match self {
            Face::Blocking => "blocking",
            Face::Async => "async",
            Face::Both => "both",
        }
    }

    /// Whether the blocking servicer (`FooServicer`) is generated.
    pub fn includes_blocking(self) -> bool {
        matches!(self, Face::Blocking | Face::Both)
    }

    /// Whether the async servicer (`AsyncFooServicer`) is generated.
    pub fn includes_async(self) -> bool {
        matches!(self, Face::Async | Face::Both)
    }
}

/// Where the Rust types of the protobuf well-known types
/// (`google.protobuf.Timestamp`, `Empty`, ...) come from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WellKnownTypes {
    /// Use the `prost-types` crate (`::prost_types::Timestamp`;
    /// `google.protobuf.Empty` becomes `()`), as prost-build does by
    /// default. The crate using the generated code depends on `prost-types`.
    #[default]
    ProstTypes,
    /// Generate them like any other package (`google.protobuf.rs`), see
    /// [`prost_build::Config::compile_well_known_types`]. With the plugin,
    /// pass the `google/protobuf/*.proto` files to protoc as well.
    Compile,
}

impl WellKnownTypes {
    fn name(self) -> &'static str {
        match self {
            WellKnownTypes::ProstTypes => "prost_types",
            WellKnownTypes::Compile => "compile",
        }
    }
}

/// Whether each package file also embeds the descriptors of its proto
/// files, for server reflection.
///
/// With [`Embed`](Self::Embed) every generated package file holds
///
/// ```text
/// pub const FILE_DESCRIPTOR_SET: &[u8] = b"...";
/// ```
///
/// the encoded `google.protobuf.FileDescriptorSet` of the package's proto
/// files and of every file they import (transitively), imports first,
/// without source info (comments), which is what the `grpc-reflection`
/// crate serves: `grpc_reflection::Builder::new().register(helloworld::FILE_DESCRIPTOR_SET)`.
/// The build.rs and plugin paths embed the same bytes.
///
/// ```
/// use grpc_codegen::{CodegenOptions, DescriptorSet};
/// let options = CodegenOptions::from_plugin_parameter("descriptor_set=embed")?;
/// assert_eq!(options, CodegenOptions::new().descriptor_set(DescriptorSet::Embed));
/// assert_eq!(CodegenOptions::new().selected_descriptor_set(), DescriptorSet::Omit);
/// # Ok::<(), grpc_codegen::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DescriptorSet {
    /// No descriptors in the generated code (the default).
    #[default]
    Omit,
    /// A `FILE_DESCRIPTOR_SET` constant in every package file.
    Embed,
}

impl DescriptorSet {
    fn name(self) -> &'static str {
        match self {
            DescriptorSet::Omit => "omit",
            DescriptorSet::Embed => "embed",
        }
    }
}

/// The plugin parameters, as `(syntax, meaning)`; the same options have
/// setters on [`CodegenOptions`] and [`Builder`](crate::Builder).
pub const PARAMETERS: &[(&str, &str)] = &[
    (
        "emit=PART+PART...",
        "parts to generate: messages, client, server (default: all three); \
         also written emit=messages,client",
    ),
    (
        "face=blocking|async|both",
        "servicer faces to generate: blocking (FooServicer), async (AsyncFooServicer) \
         or both (default); the client stub serves both faces",
    ),
    (
        "include_file=NAME.rs",
        "also write NAME.rs, which nests every generated file in `pub mod`s by package",
    ),
    (
        "extern_path=PROTO_PATH=RUST_PATH",
        "use existing Rust types for a proto package or type, e.g. \
         extern_path=.acme.common=::acme_common (repeatable)",
    ),
    (
        "well_known_types=prost_types|compile",
        "google.protobuf types from the prost-types crate (default) or generated",
    ),
    (
        "descriptor_set=omit|embed",
        "embed: every package file also gets `pub const FILE_DESCRIPTOR_SET: &[u8]`, \
         the encoded descriptors of its files and their imports, for server reflection \
         (default: omit)",
    ),
    (
        "type_attribute=PROTO_PATH=ATTRIBUTE",
        "add an attribute to matching messages and enums (repeatable; write `,` as `\\,`)",
    ),
    (
        "message_attribute=PROTO_PATH=ATTRIBUTE",
        "add an attribute to matching messages (repeatable; write `,` as `\\,`)",
    ),
    (
        "field_attribute=PROTO_PATH=ATTRIBUTE",
        "add an attribute to matching fields (repeatable; write `,` as `\\,`)",
    ),
];

/// Everything that decides what code is generated, shared by every path.
///
/// ```
/// use grpc_codegen::{CodegenOptions, Emit};
/// let from_plugin = CodegenOptions::from_plugin_parameter(
///     "emit=messages+client,include_file=mod.rs,extern_path=.acme=::acme",
/// )?;
/// let typed = CodegenOptions::new()
///     .emit(Emit::MESSAGES | Emit::CLIENT)
///     .include_file("mod.rs")
///     .extern_path(".acme", "::acme");
/// assert_eq!(from_plugin, typed);
/// # Ok::<(), grpc_codegen::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CodegenOptions {
    emit: Emit,
    face: Face,
    include_file: Option<String>,
    extern_paths: Vec<(String, String)>,
    well_known_types: WellKnownTypes,
    descriptor_set: DescriptorSet,
    type_attributes: Vec<(String, String)>,
    message_attributes: Vec<(String, String)>,
    field_attributes: Vec<(String, String)>,
}

impl CodegenOptions {
    /// The defaults: messages, client and server code, both servicer faces.
    pub fn new() -> Self {
        Self::default()
    }

    /// Chooses the parts to generate (plugin: `emit=`).
    #[must_use]
    pub fn emit(mut self, emit: Emit) -> Self {
        self.emit = emit;
        self
    }

    /// Chooses the servicer faces (plugin: `face=`; default
    /// [`Face::Both`]).
    #[must_use]
    pub fn face(mut self, face: Face) -> Self {
        self.face = face;
        self
    }

    /// Also writes an include file of this name (a plain file name such as
    /// `mod.rs` or `_includes.rs`) that nests every generated file in
    /// `pub mod`s following the proto packages, with relative `include!`s
    /// (plugin: `include_file=`).
    #[must_use]
    pub fn include_file(mut self, name: impl Into<String>) -> Self {
        self.include_file = Some(name.into());
        self
    }

    /// Uses the existing Rust type or module at `rust_path` for the proto
    /// type or package `proto_path` (fully qualified, with a leading `.`)
    /// instead of generating one (plugin: `extern_path=`; see
    /// [`prost_build::Config::extern_path`]).
    #[must_use]
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.extern_paths
            .push((proto_path.into(), rust_path.into()));
        self
    }

    /// Chooses where the well-known types come from (plugin:
    /// `well_known_types=`).
    #[must_use]
    pub fn well_known_types(mut self, source: WellKnownTypes) -> Self {
        self.well_known_types = source;
        self
    }

    /// Embeds each package's encoded descriptors as `FILE_DESCRIPTOR_SET`
    /// (plugin: `descriptor_set=`; default [`DescriptorSet::Omit`]).
    #[must_use]
    pub fn descriptor_set(mut self, descriptor_set: DescriptorSet) -> Self {
        self.descriptor_set = descriptor_set;
        self
    }

    /// Adds `attribute` to generated messages and enums matching `path`
    /// (plugin: `type_attribute=`; see
    /// [`prost_build::Config::type_attribute`]).
    #[must_use]
    pub fn type_attribute(mut self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.type_attributes.push((path.into(), attribute.into()));
        self
    }

    /// Adds `attribute` to generated messages matching `path` (plugin:
    /// `message_attribute=`; see [`prost_build::Config::message_attribute`]).
    #[must_use]
    pub fn message_attribute(
        mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.message_attributes
            .push((path.into(), attribute.into()));
        self
    }

    /// Adds `attribute` to generated fields matching `path` (plugin:
    /// `field_attribute=`; see [`prost_build::Config::field_attribute`]).
    #[must_use]
    pub fn field_attribute(
        mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.field_attributes.push((path.into(), attribute.into()));
        self
    }

    /// The parts that are generated.
    pub fn emitted(&self) -> Emit {
        self.emit
    }

    /// The servicer faces that are generated.
    pub fn selected_face(&self) -> Face {
        self.face
    }

    /// Whether the descriptors are embedded.
    pub fn selected_descriptor_set(&self) -> DescriptorSet {
        self.descriptor_set
    }

    /// The include file name, if one is written.
    pub(crate) fn include_file_name(&self) -> Option<&str> {
        self.include_file.as_deref()
    }

    /// Parses the plugin parameter (protoc's `--rustgrpc_opt=`, or buf's
    /// `opt:`): comma-separated `key=value` items, see [`PARAMETERS`].
    /// A literal comma inside a value is written `\,`.
    ///
    /// # Errors
    ///
    /// An unknown key, a malformed value, or a key that may appear once
    /// given twice, each named in the message; also every error of
    /// [`validate`](Self::validate).
    pub fn from_plugin_parameter(parameter: &str) -> Result<Self, Error> {
        let mut options = Self::new();
        let mut seen: Vec<&'static str> = Vec::new();
        // Whether the previous item was `emit=...`, so that a bare part name
        // continues its list (`emit=messages,client`).
        let mut in_emit = false;
        for item in split_parameter(parameter) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let Some((key, value)) = item.split_once('=') else {
                if let (true, Some(part)) = (in_emit, Emit::from_name(item)) {
                    options.emit = options.emit | part;
                    continue;
                }
                return Err(unknown_parameter(item));
            };
            in_emit = false;
            let key = key.trim();
            let value = value.trim();
            let once = |seen: &mut Vec<&'static str>, name: &'static str| {
                if seen.contains(&name) {
                    Err(Error::new(format!(
                        "parameter `{name}` is given more than once"
                    )))
                } else {
                    seen.push(name);
                    Ok(())
                }
            };
            match key {
                "emit" => {
                    once(&mut seen, "emit")?;
                    options.emit = parse_emit(value)?;
                    in_emit = true;
                }
                "face" => {
                    once(&mut seen, "face")?;
                    options.face = [Face::Blocking, Face::Async, Face::Both]
                        .into_iter()
                        .find(|face| face.name() == value)
                        .ok_or_else(|| invalid(item, "face must be blocking, async or both"))?;
                }
                "include_file" => {
                    once(&mut seen, "include_file")?;
                    options.include_file = Some(value.to_owned());
                }
                "well_known_types" => {
                    once(&mut seen, "well_known_types")?;
                    options.well_known_types =
                        [WellKnownTypes::ProstTypes, WellKnownTypes::Compile]
                            .into_iter()
                            .find(|wkt| wkt.name() == value)
                            .ok_or_else(|| {
                                invalid(item, "well_known_types must be prost_types or compile")
                            })?;
                }
                "extern_path" => {
                    let (proto, rust) = path_pair(item, value, "<proto path>=<rust path>")?;
                    options = options.extern_path(proto, rust);
                }
                "descriptor_set" => {
                    once(&mut seen, "descriptor_set")?;
                    options.descriptor_set = [DescriptorSet::Omit, DescriptorSet::Embed]
                        .into_iter()
                        .find(|choice| choice.name() == value)
                        .ok_or_else(|| invalid(item, "descriptor_set must be omit or embed"))?;
                }
                "type_attribute" => {
                    let (path, attribute) = path_pair(item, value, "<proto path>=<attribute>")?;
                    options = options.type_attribute(path, attribute);
                }
                "message_attribute" => {
                    let (path, attribute) = path_pair(item, value, "<proto path>=<attribute>")?;
                    options = options.message_attribute(path, attribute);
                }
                "field_attribute" => {
                    let (path, attribute) = path_pair(item, value, "<proto path>=<attribute>")?;
                    options = options.field_attribute(path, attribute);
                }
                _ => return Err(unknown_parameter(item)),
            }
        }
        options.validate()?;
        Ok(options)
    }

    /// Checks that these options can generate code.
    ///
    /// # Errors
    ///
    /// - `emit` is empty;
    /// - the include file name is not a plain `*.rs` file name;
    /// - an `extern_path` proto path is not fully qualified (`.pkg.Type`)
    ///   or its Rust path is empty.
    pub fn validate(&self) -> Result<(), Error> {
        if self.emit.is_empty() {
            return Err(Error::new(
                "nothing to generate: emit must name at least one of messages, client, server",
            ));
        }
        if let Some(name) = &self.include_file {
            let plain = !name.is_empty()
                && !name.contains(['/', '\\', '"'])
                && name != ".rs"
                && name.ends_with(".rs");
            if !plain {
                return Err(Error::new(format!(
                    "invalid include_file `{name}`: expected a plain file name ending in .rs, \
                     such as mod.rs"
                )));
            }
        }
        for (proto, rust) in &self.extern_paths {
            if !proto.starts_with('.') || rust.is_empty() {
                return Err(Error::new(format!(
                    "invalid extern_path `{proto}={rust}`: the proto path must be fully \
                     qualified with a leading `.` (`.acme.common`) and the Rust path non-empty"
                )));
            }
        }
        Ok(())
    }

    /// A prost-build configuration for these options (without service
    /// generator, protoc or output settings).
    pub(crate) fn prost_config(&self) -> prost_build::Config {
        let mut config = prost_build::Config::new();
        // Formatting happens once, after the doc comments are made safe.
        config.format(false);
        if self.well_known_types == WellKnownTypes::Compile {
            config.compile_well_known_types();
        }
        for (proto, rust) in &self.extern_paths {
            config.extern_path(proto, rust);
        }
        for (path, attribute) in &self.type_attributes {
            config.type_attribute(path, attribute);
        }
        for (path, attribute) in &self.message_attributes {
            config.message_attribute(path, attribute);
        }
        for (path, attribute) in &self.field_attributes {
            config.field_attribute(path, attribute);
        }
        config
    }
}

/// Splits on commas that are not escaped as `\,`, unescaping them.
fn split_parameter(parameter: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut chars = parameter.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&',') => {
                chars.next();
                current.push(',');
            }
            ',' => items.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    items.push(current);
    items
}

fn parse_emit(value: &str) -> Result<Emit, Error> {
    let mut emit = Emit::NONE;
    for name in value.split('+').map(str::trim) {
        let part = Emit::from_name(name).ok_or_else(|| {
            Error::new(format!(
                "invalid parameter `emit={value}`: `{name}` is not one of messages, client, server"
            ))
        })?;
        emit = emit | part;
    }
    Ok(emit)
}

fn path_pair<'a>(item: &str, value: &'a str, expected: &str) -> Result<(&'a str, &'a str), Error> {
    match value.split_once('=') {
        Some((path, rest)) if !path.trim().is_empty() && !rest.trim().is_empty() => {
            Ok((path.trim(), rest.trim()))
        }
        _ => Err(invalid(
            item,
            &format!("expected {}={expected}", key_of(item)),
        )),
    }
}

fn key_of(item: &str) -> &str {
    item.split_once('=').map_or(item, |(key, _)| key)
}

fn invalid(item: &str, hint: &str) -> Error {
    Error::new(format!("invalid parameter `{item}`: {hint}"))
}

fn unknown_parameter(item: &str) -> Error {
    let known: Vec<&str> = PARAMETERS
        .iter()
        .map(|(syntax, _)| syntax.split('=').next().unwrap_or(syntax))
        .collect();
    Error::new(format!(
        "unknown parameter `{item}` (known: {})",
        known.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(parameter: &str) -> Result<CodegenOptions, String> {
        CodegenOptions::from_plugin_parameter(parameter).map_err(|e| e.to_string())
    }

    #[test]
    fn emit_parts() {
        assert!(Emit::ALL.includes_messages() && Emit::ALL.includes_client());
        assert!(Emit::ALL.includes_server());
        let client = Emit::CLIENT;
        assert!(client.includes_client() && !client.includes_server());
        assert!(!client.includes_messages());
        assert_eq!(Emit::MESSAGES | Emit::CLIENT | Emit::SERVER, Emit::ALL);
        assert_eq!(Emit::ALL.to_string(), "messages+client+server");
        assert_eq!(format!("{:?}", Emit::SERVER), "Emit(server)");
        assert_eq!(CodegenOptions::new().emitted(), Emit::ALL);
    }

    #[test]
    fn empty_parameter_is_the_default() {
        assert_eq!(parse(""), Ok(CodegenOptions::new()));
        assert_eq!(parse(" , "), Ok(CodegenOptions::new()));
    }

    #[test]
    fn emit_lists() {
        let expected = CodegenOptions::new().emit(Emit::MESSAGES | Emit::CLIENT);
        assert_eq!(parse("emit=messages+client"), Ok(expected.clone()));
        assert_eq!(parse("emit=messages,client"), Ok(expected.clone()));
        assert_eq!(parse("emit = client + messages "), Ok(expected));
        assert_eq!(
            parse("emit=server"),
            Ok(CodegenOptions::new().emit(Emit::SERVER))
        );
    }

    #[test]
    fn every_parameter_has_a_typed_setter() {
        let parsed = parse(
            "emit=client+server,face=blocking,include_file=mod.rs,\
             extern_path=.acme=::acme,well_known_types=compile,descriptor_set=embed,\
             type_attribute=.=#[derive(Eq\\, Hash)],message_attribute=.a.B=#[non_exhaustive],\
             field_attribute=.a.B.c=#[allow(dead_code)]",
        );
        let typed = CodegenOptions::new()
            .emit(Emit::CLIENT | Emit::SERVER)
            .face(Face::Blocking)
            .include_file("mod.rs")
            .extern_path(".acme", "::acme")
            .well_known_types(WellKnownTypes::Compile)
            .descriptor_set(DescriptorSet::Embed)
            .type_attribute(".", "#[derive(Eq, Hash)]")
            .message_attribute(".a.B", "#[non_exhaustive]")
            .field_attribute(".a.B.c", "#[allow(dead_code)]");
        assert_eq!(parsed, Ok(typed));
        // One help line per key the parser knows.
        assert_eq!(PARAMETERS.len(), 9);
    }

    #[test]
    fn errors_name_the_culprit() {
        let cases = [
            ("frobnicate", "unknown parameter `frobnicate`"),
            ("colour=blue", "unknown parameter `colour=blue`"),
            ("client", "unknown parameter `client`"),
            (
                "emit=sideways",
                "`sideways` is not one of messages, client, server",
            ),
            ("emit=", "`` is not one of"),
            (
                "emit=client,emit=server",
                "parameter `emit` is given more than once",
            ),
            (
                "face=blocking,face=async",
                "parameter `face` is given more than once",
            ),
            ("face=fast", "face must be blocking, async or both"),
            ("descriptor_set=yes", "descriptor_set must be omit or embed"),
            (
                "descriptor_set=embed,descriptor_set=omit",
                "parameter `descriptor_set` is given more than once",
            ),
            (
                "well_known_types=maybe",
                "well_known_types must be prost_types or compile",
            ),
            ("include_file=a/b.rs", "invalid include_file `a/b.rs`"),
            ("include_file=mod", "invalid include_file `mod`"),
            (
                "extern_path=.a",
                "expected extern_path=<proto path>=<rust path>",
            ),
            ("extern_path==::a", "expected extern_path="),
            ("extern_path=a=::a", "must be fully qualified"),
            (
                "type_attribute=.a",
                "expected type_attribute=<proto path>=<attribute>",
            ),
        ];
        for (parameter, expected) in cases {
            let error = parse(parameter).expect_err(parameter);
            assert!(error.contains(expected), "{parameter}: {error}");
        }
    }

    #[test]
    fn unknown_parameter_lists_known_keys() {
        let error = parse("bogus").unwrap_err();
        assert!(
            error.contains("known: emit, face, include_file, extern_path"),
            "{error}"
        );
    }

    #[test]
    fn validate_rejects_empty_emit() {
        let empty = CodegenOptions::new().emit(Emit::NONE);
        assert!(empty.validate().is_err());
        for face in [Face::Blocking, Face::Async, Face::Both] {
            assert!(CodegenOptions::new().face(face).validate().is_ok());
        }
    }

    #[test]
    fn faces() {
        assert_eq!(CodegenOptions::new().selected_face(), Face::Both);
        assert_eq!(parse("face=both"), Ok(CodegenOptions::new()));
        for (name, face, blocking, aio) in [
            ("blocking", Face::Blocking, true, false),
            ("async", Face::Async, false, true),
            ("both", Face::Both, true, true),
        ] {
            let parsed = parse(&format!("face={name}")).expect(name);
            assert_eq!(parsed, CodegenOptions::new().face(face));
            assert_eq!(parsed.selected_face().includes_blocking(), blocking);
            assert_eq!(parsed.selected_face().includes_async(), aio);
        }
    }

    #[test]
    fn escaped_commas_stay_in_values() {
        assert_eq!(split_parameter(r"a=b\,c,d"), ["a=b,c", "d"]);
        assert_eq!(split_parameter(r"a\b"), [r"a\b"]);
    }
}
