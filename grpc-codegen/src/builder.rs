//! The `build.rs` entry point: [`configure`] and [`Builder`].

use std::io;
use std::path::{Path, PathBuf};

use crate::ServiceGenerator;
use crate::options::{CodegenOptions, Emit};

/// Starts configuring code generation; finish with
/// [`Builder::compile_protos`].
///
/// ```no_run
/// // build.rs
/// fn main() -> std::io::Result<()> {
///     grpc_codegen::configure()
///         .emit(grpc_codegen::Emit::Client)
///         .compile_protos(&["proto/helloworld.proto"], &["proto"])
/// }
/// ```
pub fn configure() -> Builder {
    Builder::default()
}

/// Compiles one `.proto` file (messages and services) into `OUT_DIR`, using
/// the file's directory as the include path.
///
/// Shorthand for `configure().compile_protos(&[proto], &[its directory])`.
///
/// ```no_run
/// // build.rs
/// fn main() -> std::io::Result<()> {
///     grpc_codegen::compile_protos("proto/helloworld.proto")
/// }
/// ```
///
/// # Errors
///
/// Fails when protoc cannot be run, rejects the file, or the output cannot
/// be written.
pub fn compile_protos(proto: impl AsRef<Path>) -> io::Result<()> {
    let proto = proto.as_ref();
    let include = match proto.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    configure().compile_protos(&[proto], &[include])
}

/// Code generation settings, built with [`configure`].
///
/// Everything not set here keeps prost-build's defaults.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    options: CodegenOptions,
    out_dir: Option<PathBuf>,
    file_descriptor_set_path: Option<PathBuf>,
    protoc: Option<PathBuf>,
    extern_paths: Vec<(String, String)>,
    type_attributes: Vec<(String, String)>,
    message_attributes: Vec<(String, String)>,
    field_attributes: Vec<(String, String)>,
}

impl Builder {
    /// Chooses which halves of each service to generate (default:
    /// [`Emit::Both`]).
    #[must_use]
    pub fn emit(mut self, emit: Emit) -> Self {
        self.options = self.options.emit(emit);
        self
    }

    /// Writes generated files to `path` (created if missing) instead of
    /// `OUT_DIR`.
    #[must_use]
    pub fn out_dir(mut self, path: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(path.into());
        self
    }

    /// Also writes the serialized `FileDescriptorSet` of the compiled files
    /// to `path` (useful for reflection).
    #[must_use]
    pub fn file_descriptor_set_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.file_descriptor_set_path = Some(path.into());
        self
    }

    /// Uses the existing Rust type at `rust_path` for the proto type or
    /// package `proto_path` instead of generating one (see
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

    /// Adds `attribute` to generated messages and enums matching `path`
    /// (see [`prost_build::Config::type_attribute`]).
    #[must_use]
    pub fn type_attribute(mut self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.type_attributes.push((path.into(), attribute.into()));
        self
    }

    /// Adds `attribute` to generated messages matching `path` (see
    /// [`prost_build::Config::message_attribute`]).
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

    /// Adds `attribute` to generated fields matching `path` (see
    /// [`prost_build::Config::field_attribute`]).
    #[must_use]
    pub fn field_attribute(
        mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.field_attributes.push((path.into(), attribute.into()));
        self
    }

    /// Runs this protoc instead of the one bundled by `protoc-bin-vendored`.
    ///
    /// With an explicit protoc, the bundled well-known-type includes are not
    /// added to the include path.
    #[must_use]
    pub fn protoc_executable(mut self, path: impl Into<PathBuf>) -> Self {
        self.protoc = Some(path.into());
        self
    }

    /// Compiles `protos` (found through `includes`) into Rust files, one per
    /// proto package, in the output directory.
    ///
    /// Uses the bundled protoc unless [`protoc_executable`](Self::protoc_executable)
    /// was set, and then also puts the bundled `google/protobuf/*.proto`
    /// files on the include path. Prints `cargo:rerun-if-changed` for every
    /// proto file and include directory passed in.
    ///
    /// # Errors
    ///
    /// Fails when protoc cannot be found or run, rejects the input, or the
    /// output cannot be written.
    pub fn compile_protos(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> io::Result<()> {
        let mut include_dirs: Vec<PathBuf> =
            includes.iter().map(|i| i.as_ref().to_path_buf()).collect();
        let protoc = match &self.protoc {
            Some(protoc) => protoc.clone(),
            None => {
                include_dirs.push(protoc_bin_vendored::include_path().map_err(io::Error::other)?);
                protoc_bin_vendored::protoc_bin_path().map_err(io::Error::other)?
            }
        };

        for proto in protos {
            println!("cargo:rerun-if-changed={}", proto.as_ref().display());
        }
        for include in includes {
            println!("cargo:rerun-if-changed={}", include.as_ref().display());
        }

        let mut config = self.prost_config();
        config.protoc_executable(protoc);
        if let Some(path) = &self.out_dir {
            std::fs::create_dir_all(path)?;
            config.out_dir(path);
        }
        if let Some(path) = &self.file_descriptor_set_path {
            config.file_descriptor_set_path(path);
        }
        config.compile_protos(protos, &include_dirs)
    }

    /// The prost-build configuration for everything but running protoc and
    /// writing files: our service generator plus the type settings. Shared
    /// with the protoc plugin so both produce the same code.
    pub(crate) fn prost_config(&self) -> prost_build::Config {
        let mut config = prost_build::Config::new();
        config.service_generator(Box::new(ServiceGenerator::new(self.options.clone())));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_records_settings() {
        let builder = configure()
            .emit(Emit::Server)
            .out_dir("out")
            .file_descriptor_set_path("fds.bin")
            .extern_path(".google.protobuf", "::prost_types")
            .type_attribute(".", "#[derive(Eq)]")
            .message_attribute(".a.B", "#[non_exhaustive]")
            .field_attribute(".a.B.c", "#[allow(dead_code)]")
            .protoc_executable("/usr/bin/protoc");
        assert_eq!(builder.options.emitted(), Emit::Server);
        assert_eq!(builder.out_dir.as_deref(), Some(Path::new("out")));
        assert_eq!(
            builder.file_descriptor_set_path.as_deref(),
            Some(Path::new("fds.bin"))
        );
        assert_eq!(
            builder.protoc.as_deref(),
            Some(Path::new("/usr/bin/protoc"))
        );
        assert_eq!(builder.extern_paths.len(), 1);
        assert_eq!(builder.type_attributes.len(), 1);
        assert_eq!(builder.message_attributes.len(), 1);
        assert_eq!(builder.field_attributes.len(), 1);
    }

    #[test]
    fn missing_protoc_is_an_error() {
        let result = configure()
            .protoc_executable("/nonexistent/protoc")
            .out_dir(std::env::temp_dir())
            .compile_protos(&["x.proto"], &["."]);
        assert!(result.is_err());
    }
}
