//! The `build.rs` entry point: [`configure`] and [`Builder`].

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use prost::Message;
use prost_types::FileDescriptorSet;

use crate::generate::{self, Selection};
use crate::options::{CodegenOptions, DescriptorSet, Emit, Face, WellKnownTypes};

/// Starts configuring code generation; finish with
/// [`Builder::compile_protos`].
///
/// ```no_run
/// // build.rs
/// fn main() -> std::io::Result<()> {
///     grpc_codegen::configure()
///         .emit(grpc_codegen::Emit::MESSAGES | grpc_codegen::Emit::CLIENT)
///         .include_file("_includes.rs")
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
/// The code settings are a [`CodegenOptions`], the same model the protoc
/// plugin parses its parameters into; each of its setters is mirrored here.
/// The rest (output directory, descriptor set, protoc) is specific to
/// build scripts.
#[derive(Clone, Debug, Default)]
pub struct Builder {
    options: CodegenOptions,
    out_dir: Option<PathBuf>,
    file_descriptor_set_path: Option<PathBuf>,
    protoc: Option<PathBuf>,
}

impl Builder {
    /// Replaces all code settings at once.
    #[must_use]
    pub fn options(mut self, options: CodegenOptions) -> Self {
        self.options = options;
        self
    }

    /// Chooses the parts to generate (default: [`Emit::ALL`]); see
    /// [`CodegenOptions::emit`].
    #[must_use]
    pub fn emit(mut self, emit: Emit) -> Self {
        self.options = self.options.emit(emit);
        self
    }

    /// Chooses the servicer faces (default: [`Face::Both`]); see
    /// [`CodegenOptions::face`].
    #[must_use]
    pub fn face(mut self, face: Face) -> Self {
        self.options = self.options.face(face);
        self
    }

    /// Also writes an include file nesting the generated files by package;
    /// see [`CodegenOptions::include_file`].
    #[must_use]
    pub fn include_file(mut self, name: impl Into<String>) -> Self {
        self.options = self.options.include_file(name);
        self
    }

    /// Uses existing Rust types for a proto package or type; see
    /// [`CodegenOptions::extern_path`].
    #[must_use]
    pub fn extern_path(
        mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Self {
        self.options = self.options.extern_path(proto_path, rust_path);
        self
    }

    /// Chooses where the well-known types come from; see
    /// [`CodegenOptions::well_known_types`].
    #[must_use]
    pub fn well_known_types(mut self, source: WellKnownTypes) -> Self {
        self.options = self.options.well_known_types(source);
        self
    }

    /// Embeds each package's encoded descriptors as `FILE_DESCRIPTOR_SET`,
    /// for server reflection; see [`CodegenOptions::descriptor_set`].
    #[must_use]
    pub fn descriptor_set(mut self, descriptor_set: DescriptorSet) -> Self {
        self.options = self.options.descriptor_set(descriptor_set);
        self
    }

    /// Adds `attribute` to generated messages and enums matching `path`; see
    /// [`CodegenOptions::type_attribute`].
    #[must_use]
    pub fn type_attribute(mut self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.options = self.options.type_attribute(path, attribute);
        self
    }

    /// Adds `attribute` to generated messages matching `path`; see
    /// [`CodegenOptions::message_attribute`].
    #[must_use]
    pub fn message_attribute(
        mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.options = self.options.message_attribute(path, attribute);
        self
    }

    /// Adds `attribute` to generated fields matching `path`; see
    /// [`CodegenOptions::field_attribute`].
    #[must_use]
    pub fn field_attribute(
        mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Self {
        self.options = self.options.field_attribute(path, attribute);
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
    /// (imports and source info included) to `path`, useful for reflection.
    #[must_use]
    pub fn file_descriptor_set_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.file_descriptor_set_path = Some(path.into());
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
    /// proto package (imported packages included), in the output directory.
    ///
    /// Uses the bundled protoc unless [`protoc_executable`](Self::protoc_executable)
    /// was set, and then also puts the bundled `google/protobuf/*.proto`
    /// files on the include path. Prints `cargo:rerun-if-changed` for every
    /// proto file and include directory passed in. Files whose content did
    /// not change are not rewritten.
    ///
    /// # Errors
    ///
    /// Fails when the options are invalid (see [`CodegenOptions::validate`]),
    /// protoc cannot be found or run or rejects the input, or the output
    /// cannot be written.
    pub fn compile_protos(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> io::Result<()> {
        self.options.validate()?;
        let out_dir = match &self.out_dir {
            Some(path) => path.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or_else(|| {
                    io::Error::other(
                        "OUT_DIR is not set: call compile_protos from a build script, \
                     or set Builder::out_dir",
                    )
                })?,
        };
        for proto in protos {
            println!("cargo:rerun-if-changed={}", proto.as_ref().display());
        }
        for include in includes {
            println!("cargo:rerun-if-changed={}", include.as_ref().display());
        }

        let descriptors = self.run_protoc(protos, includes)?;
        let files = generate::generate(&self.options, descriptors.file, Selection::All)?;
        std::fs::create_dir_all(&out_dir)?;
        for file in files {
            write_if_changed(&out_dir.join(&file.name), file.content.as_bytes())?;
        }
        Ok(())
    }

    /// Runs protoc and reads back the descriptor set of `protos` and all
    /// their imports, with source info (for comments).
    fn run_protoc(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> io::Result<FileDescriptorSet> {
        let mut include_dirs: Vec<PathBuf> =
            includes.iter().map(|i| i.as_ref().to_path_buf()).collect();
        let protoc = match &self.protoc {
            Some(protoc) => protoc.clone(),
            None => {
                include_dirs.push(protoc_bin_vendored::include_path().map_err(io::Error::other)?);
                protoc_bin_vendored::protoc_bin_path().map_err(io::Error::other)?
            }
        };
        let temporary = self.file_descriptor_set_path.is_none();
        let fds_path = match &self.file_descriptor_set_path {
            Some(path) => path.clone(),
            None => temp_path("fds.bin"),
        };

        let mut command = Command::new(&protoc);
        command
            .arg("--include_imports")
            .arg("--include_source_info")
            .arg("-o")
            .arg(&fds_path);
        for include in include_dirs.iter().filter(|dir| dir.exists()) {
            command.arg("-I").arg(include);
        }
        command.args(protos.iter().map(AsRef::as_ref));
        let output = command.output().map_err(|error| {
            io::Error::new(
                error.kind(),
                format!("cannot run protoc `{}`: {error}", protoc.display()),
            )
        })?;
        if !output.status.success() {
            if temporary {
                let _ = std::fs::remove_file(&fds_path);
            }
            return Err(io::Error::other(format!(
                "protoc failed: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            )));
        }
        let bytes = std::fs::read(&fds_path);
        if temporary {
            let _ = std::fs::remove_file(&fds_path);
        }
        FileDescriptorSet::decode(bytes?.as_slice()).map_err(|error| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("protoc wrote an invalid descriptor set: {error}"),
            )
        })
    }
}

/// A path in the temp directory that no other call uses.
fn temp_path(suffix: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    std::env::temp_dir().join(format!(
        "grpc-codegen-{}-{nanos}-{}-{suffix}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ))
}

/// Writes `content` to `path` unless it already holds exactly that, so
/// unchanged output does not trigger rebuilds.
fn write_if_changed(path: &Path, content: &[u8]) -> io::Result<()> {
    if std::fs::read(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    std::fs::write(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builder_records_settings() {
        let builder = configure()
            .emit(Emit::SERVER)
            .face(Face::Blocking)
            .include_file("mod.rs")
            .well_known_types(WellKnownTypes::Compile)
            .descriptor_set(DescriptorSet::Embed)
            .out_dir("out")
            .file_descriptor_set_path("fds.bin")
            .extern_path(".google.protobuf", "::prost_types")
            .type_attribute(".", "#[derive(Eq)]")
            .message_attribute(".a.B", "#[non_exhaustive]")
            .field_attribute(".a.B.c", "#[allow(dead_code)]")
            .protoc_executable("/usr/bin/protoc");
        let expected = CodegenOptions::new()
            .emit(Emit::SERVER)
            .face(Face::Blocking)
            .include_file("mod.rs")
            .well_known_types(WellKnownTypes::Compile)
            .descriptor_set(DescriptorSet::Embed)
            .extern_path(".google.protobuf", "::prost_types")
            .type_attribute(".", "#[derive(Eq)]")
            .message_attribute(".a.B", "#[non_exhaustive]")
            .field_attribute(".a.B.c", "#[allow(dead_code)]");
        assert_eq!(builder.options, expected);
        assert_eq!(builder.out_dir.as_deref(), Some(Path::new("out")));
        assert_eq!(
            builder.file_descriptor_set_path.as_deref(),
            Some(Path::new("fds.bin"))
        );
        assert_eq!(
            builder.protoc.as_deref(),
            Some(Path::new("/usr/bin/protoc"))
        );
        let replaced = configure().options(expected.clone());
        assert_eq!(replaced.options, expected);
    }

    #[test]
    fn missing_protoc_is_an_error() {
        let result = configure()
            .protoc_executable("/nonexistent/protoc")
            .out_dir(std::env::temp_dir())
            .compile_protos(&["x.proto"], &["."]);
        let error = result.unwrap_err();
        assert!(error.to_string().contains("cannot run protoc"), "{error}");
    }

    #[test]
    fn every_face_is_accepted() {
        for face in [Face::Blocking, Face::Async, Face::Both] {
            let error = configure()
                .face(face)
                .protoc_executable("/nonexistent/protoc")
                .out_dir(std::env::temp_dir())
                .compile_protos(&["x.proto"], &["."])
                .unwrap_err();
            // The options pass validation; only the missing protoc fails.
            assert!(error.to_string().contains("cannot run protoc"), "{error}");
        }
    }

    #[test]
    fn protoc_errors_are_reported() {
        let dir = temp_path("bad-proto");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bad.proto"), "syntax = \"proto3\";\nmessage {").unwrap();
        let error = configure()
            .out_dir(&dir)
            .compile_protos(&[dir.join("bad.proto")], &[&dir])
            .unwrap_err();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(error.to_string().starts_with("protoc failed: "), "{error}");
        assert!(error.to_string().contains("bad.proto"), "{error}");
    }
}
