//! The files behind a [`Descriptors`](super::json::Descriptors) pool and
//! how sets from two origins merge. Generated code registers its own
//! descriptors automatically ([`Origin::Generated`]); a set the user adds
//! ([`Origin::User`], `add_file_descriptor_set`) may carry a file of the
//! same name with other bytes (built by another protoc, or edited, e.g. a
//! method marked `NO_SIDE_EFFECTS`):
//!
//! - a user file replaces a generated file of the same name;
//! - a generated file never replaces a file already there (the first
//!   generated copy, or the user's, stays);
//! - two user files of the same name must be identical (an error
//!   otherwise, as before automatic registration).
//!
//! prost-reflect itself rejects a second file of the same name with
//! different bytes, so the pool is rebuilt from the merged files.

use prost_reflect::DescriptorPool;
use prost_reflect::prost_types::{FileDescriptorProto, FileDescriptorSet};

use crate::error::{Error, Kind};

/// Who added a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Registered by generated code.
    Generated,
    /// Given by the user.
    User,
}

/// The merged files, each with its origin.
#[derive(Clone, Debug, Default)]
pub(crate) struct DescriptorFiles {
    files: Vec<(Origin, FileDescriptorProto)>,
}

impl DescriptorFiles {
    /// The files with the set `encoded` from `origin` merged in, and the
    /// pool they make; `self` is unchanged on error.
    pub(crate) fn merged(
        &self,
        encoded: &[u8],
        origin: Origin,
    ) -> Result<(DescriptorFiles, DescriptorPool), Error> {
        let set: FileDescriptorSet = prost::Message::decode(encoded).map_err(invalid)?;
        let mut merged = self.clone();
        for file in set.file {
            merged.merge(origin, file)?;
        }
        let all = FileDescriptorSet {
            file: merged.files.iter().map(|(_, file)| file.clone()).collect(),
        };
        let pool = DescriptorPool::from_file_descriptor_set(all).map_err(invalid)?;
        Ok((merged, pool))
    }

    fn merge(&mut self, origin: Origin, file: FileDescriptorProto) -> Result<(), Error> {
        let Some(known) = self
            .files
            .iter_mut()
            .find(|(_, known)| known.name == file.name)
        else {
            self.files.push((origin, file));
            return Ok(());
        };
        if known.1 == file {
            return Ok(());
        }
        match (known.0, origin) {
            (Origin::Generated, Origin::User) => *known = (origin, file),
            (_, Origin::Generated) => {}
            (Origin::User, Origin::User) => {
                return Err(Error::new(
                    Kind::InvalidArgument,
                    format!(
                        "invalid file descriptor set: {:?} was added before with other contents",
                        file.name()
                    ),
                ));
            }
        }
        Ok(())
    }
}

fn invalid(error: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::new(Kind::InvalidArgument, "invalid file descriptor set").with_source(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message as _;
    use prost_reflect::prost_types::{
        DescriptorProto, MethodDescriptorProto, MethodOptions, ServiceDescriptorProto,
    };

    /// `x.proto`: `message M {}` and `service S { rpc Get(M) returns (M); }`,
    /// `Get` marked `NO_SIDE_EFFECTS` when `idempotent`.
    fn set(idempotent: bool) -> Vec<u8> {
        let method = MethodDescriptorProto {
            name: Some("Get".into()),
            input_type: Some(".x.M".into()),
            output_type: Some(".x.M".into()),
            options: idempotent.then(|| MethodOptions {
                idempotency_level: Some(1),
                ..Default::default()
            }),
            ..Default::default()
        };
        let file = FileDescriptorProto {
            name: Some("x.proto".into()),
            package: Some("x".into()),
            syntax: Some("proto3".into()),
            message_type: vec![DescriptorProto {
                name: Some("M".into()),
                ..Default::default()
            }],
            service: vec![ServiceDescriptorProto {
                name: Some("S".into()),
                method: vec![method],
                ..Default::default()
            }],
            ..Default::default()
        };
        FileDescriptorSet { file: vec![file] }.encode_to_vec()
    }

    fn idempotency(pool: &DescriptorPool) -> Option<i32> {
        let service = pool.get_service_by_name("x.S")?;
        let method = service.methods().next()?;
        method
            .method_descriptor_proto()
            .options
            .as_ref()?
            .idempotency_level
    }

    #[test]
    fn a_user_file_replaces_a_generated_one_of_the_same_name() {
        let (files, pool) = DescriptorFiles::default()
            .merged(&set(false), Origin::Generated)
            .unwrap();
        assert_eq!(idempotency(&pool), None);
        let (files, pool) = files.merged(&set(true), Origin::User).unwrap();
        assert_eq!(idempotency(&pool), Some(1));
        // Generated code registering again later does not undo it.
        let (_, pool) = files.merged(&set(false), Origin::Generated).unwrap();
        assert_eq!(idempotency(&pool), Some(1));
    }

    #[test]
    fn two_different_user_files_of_one_name_are_an_error() {
        let (files, _) = DescriptorFiles::default()
            .merged(&set(false), Origin::User)
            .unwrap();
        assert!(files.merged(&set(false), Origin::User).is_ok());
        let error = files.merged(&set(true), Origin::User).unwrap_err();
        assert!(error.to_string().contains("x.proto"), "{error}");
        assert!(
            DescriptorFiles::default()
                .merged(b"\xff\xff", Origin::User)
                .is_err()
        );
    }
}
