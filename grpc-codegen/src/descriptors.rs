//! The embedded descriptor set ([`DescriptorSet::Embed`](crate::DescriptorSet::Embed)):
//! per package, the encoded `FileDescriptorSet` of its files and their
//! transitive imports, and the `FILE_DESCRIPTOR_SET` constant holding it.

use std::collections::{BTreeMap, HashMap, HashSet};

use prost::Message;
use prost_build::Module;
use prost_types::{FileDescriptorProto, FileDescriptorSet};
use quote::quote;

use crate::Error;

/// The encoded descriptor set of every package (module) among `files`.
///
/// `files` is in dependency order (as protoc gives it, to the plugin and
/// with `-o --include_imports`); each set keeps that order, so imports
/// come first. Source info is dropped: it is large, reflection clients do
/// not need it, and leaving it out makes both generation paths agree.
pub(crate) fn encoded_sets(
    files: &[FileDescriptorProto],
    module_of: impl Fn(&FileDescriptorProto) -> Module,
) -> Result<BTreeMap<Module, Vec<u8>>, Error> {
    let by_name: HashMap<&str, &FileDescriptorProto> =
        files.iter().map(|file| (file.name(), file)).collect();
    let mut modules: BTreeMap<Module, Vec<&str>> = BTreeMap::new();
    for file in files {
        modules
            .entry(module_of(file))
            .or_default()
            .push(file.name());
    }
    let mut sets = BTreeMap::new();
    for (module, roots) in modules {
        let needed = closure(&roots, &by_name)?;
        let set = FileDescriptorSet {
            file: files
                .iter()
                .filter(|file| needed.contains(file.name()))
                .map(|file| FileDescriptorProto {
                    source_code_info: None,
                    ..file.clone()
                })
                .collect(),
        };
        sets.insert(module, set.encode_to_vec());
    }
    Ok(sets)
}

/// The names of `roots` and of every file they import, transitively.
fn closure<'a>(
    roots: &[&'a str],
    by_name: &HashMap<&str, &'a FileDescriptorProto>,
) -> Result<HashSet<&'a str>, Error> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut pending: Vec<&str> = roots.to_vec();
    while let Some(name) = pending.pop() {
        if !seen.insert(name) {
            continue;
        }
        let file = by_name.get(name).ok_or_else(|| {
            Error::new(format!(
                "`{name}` is imported but its descriptor is not among the input files"
            ))
        })?;
        pending.extend(file.dependency.iter().map(String::as_str));
    }
    Ok(seen)
}

/// The `FILE_DESCRIPTOR_SET` item holding `bytes`, as Rust source.
pub(crate) fn constant(bytes: &[u8]) -> String {
    let literal = proc_macro2::Literal::byte_string(bytes);
    quote! {
        /// The encoded `google.protobuf.FileDescriptorSet` of this package's
        /// proto files and of every file they import (imports first, no
        /// source info): register it with server reflection.
        pub const FILE_DESCRIPTOR_SET: &[u8] = #literal;
    }
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, package: &str, dependency: &[&str]) -> FileDescriptorProto {
        FileDescriptorProto {
            name: Some(name.to_owned()),
            package: Some(package.to_owned()),
            dependency: dependency.iter().map(|d| (*d).to_owned()).collect(),
            source_code_info: Some(prost_types::SourceCodeInfo::default()),
            ..FileDescriptorProto::default()
        }
    }

    fn names(bytes: &[u8]) -> Vec<String> {
        FileDescriptorSet::decode(bytes)
            .expect("decodes")
            .file
            .into_iter()
            .map(|file| {
                assert!(file.source_code_info.is_none());
                file.name().to_owned()
            })
            .collect()
    }

    #[test]
    fn each_package_gets_its_files_and_their_imports_in_order() {
        let files = vec![
            file("base.proto", "base", &[]),
            file("other.proto", "other", &[]),
            file("mid.proto", "mid", &["base.proto"]),
            file("top.proto", "top", &["mid.proto"]),
            file("top2.proto", "top", &[]),
        ];
        let sets =
            encoded_sets(&files, |f| Module::from_protobuf_package_name(f.package())).unwrap();
        let top = &sets[&Module::from_protobuf_package_name("top")];
        assert_eq!(
            names(top),
            ["base.proto", "mid.proto", "top.proto", "top2.proto"]
        );
        let other = &sets[&Module::from_protobuf_package_name("other")];
        assert_eq!(names(other), ["other.proto"]);
    }

    #[test]
    fn a_missing_import_is_an_error() {
        let files = vec![file("top.proto", "top", &["gone.proto"])];
        let error =
            encoded_sets(&files, |f| Module::from_protobuf_package_name(f.package())).unwrap_err();
        assert!(
            error.to_string().contains("`gone.proto` is imported"),
            "{error}"
        );
    }
}
