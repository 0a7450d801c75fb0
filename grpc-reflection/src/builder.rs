//! [`Builder`]: the descriptor sets to serve, and the registration.

use grpc_core::Server;

use crate::Error;
use crate::index::Index;
use crate::service::{self, Reflection};

/// Collects descriptor sets and registers the reflection service
/// (`grpc.reflection.v1` and `v1alpha`) on a server.
///
/// ```
/// # mod helloworld { pub const FILE_DESCRIPTOR_SET: &[u8] = &[]; }
/// let server = grpc_core::Server::builder().build();
/// grpc_reflection::Builder::new()
///     .register(helloworld::FILE_DESCRIPTOR_SET)
///     .serve(&server)?;
/// assert!(server.service_names().contains(&"grpc.reflection.v1.ServerReflection".to_owned()));
/// # Ok::<(), grpc_reflection::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Builder {
    sets: Vec<Vec<u8>>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder that already knows the reflection protos themselves.
    pub fn new() -> Builder {
        Builder {
            sets: vec![
                crate::v1::FILE_DESCRIPTOR_SET.to_vec(),
                crate::v1alpha::FILE_DESCRIPTOR_SET.to_vec(),
            ],
        }
    }

    /// Adds an encoded `google.protobuf.FileDescriptorSet`: a generated
    /// `FILE_DESCRIPTOR_SET` (grpc-codegen's `descriptor_set=embed`), or
    /// what `protoc --include_imports -o` writes. Files that several sets
    /// share are served once.
    #[must_use]
    pub fn register(mut self, encoded_file_descriptor_set: &[u8]) -> Self {
        self.sets.push(encoded_file_descriptor_set.to_vec());
        self
    }

    /// Registers reflection on `server` (both `grpc.reflection.v1` and
    /// `grpc.reflection.v1alpha`, each answering from the same
    /// descriptors). It lists whatever services the server has when asked.
    ///
    /// # Errors
    ///
    /// A registered set that does not decode, or two sets holding
    /// different files of the same name; nothing is registered then.
    pub fn serve(self, server: &Server) -> Result<(), Error> {
        let index = Index::build(&self.sets)?;
        service::serve(
            Reflection {
                index,
                server: server.downgrade(),
            },
            server,
        );
        Ok(())
    }
}
