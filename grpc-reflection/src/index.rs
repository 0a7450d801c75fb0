//! [`Index`]: the registered files, and which file defines each symbol and
//! extension.

use std::collections::{BTreeSet, HashMap};

use prost::Message;
use prost_types::{
    DescriptorProto, EnumDescriptorProto, FieldDescriptorProto, FileDescriptorProto,
    FileDescriptorSet,
};

use crate::Error;

/// One registered file.
#[derive(Debug)]
pub(crate) struct File {
    /// The encoded `FileDescriptorProto`, as reflection sends it.
    pub(crate) encoded: Vec<u8>,
    /// The names of the files it imports.
    pub(crate) dependencies: Vec<String>,
}

/// Every registered file, by name, and where each name is defined.
#[derive(Debug, Default)]
pub(crate) struct Index {
    files: HashMap<String, File>,
    /// Fully-qualified symbol (no leading dot) to the file defining it.
    symbols: HashMap<String, String>,
    /// (extended message, field number) to the file defining the extension.
    extensions: HashMap<(String, i32), String>,
    /// The services the descriptors declare, sorted.
    services: BTreeSet<String>,
}

impl Index {
    /// Indexes the files of encoded `FileDescriptorSet`s.
    pub(crate) fn build(sets: &[Vec<u8>]) -> Result<Index, Error> {
        let mut index = Index::default();
        for (which, set) in sets.iter().enumerate() {
            let set = FileDescriptorSet::decode(set.as_slice())
                .map_err(|cause| Error::decode(which, cause))?;
            for file in set.file {
                index.add(file)?;
            }
        }
        Ok(index)
    }

    fn add(&mut self, file: FileDescriptorProto) -> Result<(), Error> {
        let name = file.name().to_owned();
        let encoded = file.encode_to_vec();
        if let Some(existing) = self.files.get(&name) {
            return if existing.encoded == encoded {
                Ok(())
            } else {
                Err(Error::conflict(&name))
            };
        }
        let scope = Scope {
            file: &name,
            prefix: qualified("", file.package()),
        };
        for message in &file.message_type {
            self.add_message(&scope, message);
        }
        for enumeration in &file.enum_type {
            self.add_enum(&scope, enumeration);
        }
        for extension in &file.extension {
            self.add_extension(&scope, extension);
        }
        for service in &file.service {
            let service_name = qualified(&scope.prefix, service.name());
            for method in &service.method {
                self.define_name(qualified(&service_name, method.name()), &name);
            }
            self.define_name(service_name.clone(), &name);
            self.services.insert(service_name);
        }
        self.files.insert(
            name,
            File {
                encoded,
                dependencies: file.dependency,
            },
        );
        Ok(())
    }

    fn add_message(&mut self, scope: &Scope<'_>, message: &DescriptorProto) {
        let inner = Scope {
            file: scope.file,
            prefix: qualified(&scope.prefix, message.name()),
        };
        for field in &message.field {
            self.define(&inner, field.name());
        }
        for nested in &message.nested_type {
            self.add_message(&inner, nested);
        }
        for enumeration in &message.enum_type {
            self.add_enum(&inner, enumeration);
        }
        for extension in &message.extension {
            self.add_extension(&inner, extension);
        }
        self.define_name(inner.prefix, scope.file);
    }

    /// An enum, and its values, which protobuf scopes as the enum's
    /// siblings (`pkg.RED` for `pkg.Color.RED`).
    fn add_enum(&mut self, scope: &Scope<'_>, enumeration: &EnumDescriptorProto) {
        self.define(scope, enumeration.name());
        for value in &enumeration.value {
            self.define(scope, value.name());
        }
    }

    fn add_extension(&mut self, scope: &Scope<'_>, extension: &FieldDescriptorProto) {
        self.define(scope, extension.name());
        let extended = extension.extendee().trim_start_matches('.').to_owned();
        self.extensions
            .entry((extended, extension.number()))
            .or_insert_with(|| scope.file.to_owned());
    }

    fn define(&mut self, scope: &Scope<'_>, name: &str) {
        self.define_name(qualified(&scope.prefix, name), scope.file);
    }

    /// The first definition of a name wins.
    fn define_name(&mut self, symbol: String, file: &str) {
        self.symbols
            .entry(symbol)
            .or_insert_with(|| file.to_owned());
    }

    /// The file named `name`.
    pub(crate) fn file(&self, name: &str) -> Option<&File> {
        self.files.get(name)
    }

    /// The name of the file defining `symbol` (a leading dot is allowed).
    pub(crate) fn file_defining(&self, symbol: &str) -> Option<&str> {
        self.symbols
            .get(symbol.strip_prefix('.').unwrap_or(symbol))
            .map(String::as_str)
    }

    /// The name of the file defining extension `number` of `message`.
    pub(crate) fn file_extending(&self, message: &str, number: i32) -> Option<&str> {
        let message = message.strip_prefix('.').unwrap_or(message);
        self.extensions
            .get(&(message.to_owned(), number))
            .map(String::as_str)
    }

    /// The extension numbers of `message`, sorted.
    pub(crate) fn extension_numbers(&self, message: &str) -> Vec<i32> {
        let message = message.strip_prefix('.').unwrap_or(message);
        let mut numbers: Vec<i32> = self
            .extensions
            .keys()
            .filter(|(extended, _)| extended == message)
            .map(|(_, number)| *number)
            .collect();
        numbers.sort_unstable();
        numbers
    }

    /// Whether `symbol` names a registered message (or other symbol).
    pub(crate) fn defines(&self, symbol: &str) -> bool {
        self.file_defining(symbol).is_some()
    }

    /// The services declared in the registered files, sorted.
    pub(crate) fn services(&self) -> impl Iterator<Item = &str> {
        self.services.iter().map(String::as_str)
    }
}

/// Where names are being defined: a file, and the package or message
/// they are nested in.
struct Scope<'a> {
    file: &'a str,
    prefix: String,
}

/// `prefix.name`, or `name` at the root.
fn qualified(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

#[cfg(test)]
mod tests {
    use prost_types::{EnumValueDescriptorProto, MethodDescriptorProto, ServiceDescriptorProto};

    use super::*;

    fn message(name: &str, nested: Vec<DescriptorProto>) -> DescriptorProto {
        DescriptorProto {
            name: Some(name.to_owned()),
            nested_type: nested,
            ..DescriptorProto::default()
        }
    }

    fn extension(name: &str, extendee: &str, number: i32) -> FieldDescriptorProto {
        FieldDescriptorProto {
            name: Some(name.to_owned()),
            extendee: Some(extendee.to_owned()),
            number: Some(number),
            ..FieldDescriptorProto::default()
        }
    }

    fn set(files: Vec<FileDescriptorProto>) -> Vec<u8> {
        FileDescriptorSet { file: files }.encode_to_vec()
    }

    fn sample() -> FileDescriptorProto {
        let mut outer = message("Outer", vec![message("Inner", vec![])]);
        outer.enum_type.push(EnumDescriptorProto {
            name: Some("Kind".to_owned()),
            value: vec![EnumValueDescriptorProto {
                name: Some("KIND_PLAIN".to_owned()),
                ..EnumValueDescriptorProto::default()
            }],
            ..EnumDescriptorProto::default()
        });
        outer
            .extension
            .push(extension("nested_ext", ".acme.Base", 200));
        FileDescriptorProto {
            name: Some("acme/a.proto".to_owned()),
            package: Some("acme".to_owned()),
            dependency: vec!["acme/base.proto".to_owned()],
            message_type: vec![outer],
            extension: vec![extension("top_ext", ".acme.Base", 100)],
            service: vec![ServiceDescriptorProto {
                name: Some("Svc".to_owned()),
                method: vec![MethodDescriptorProto {
                    name: Some("Do".to_owned()),
                    ..MethodDescriptorProto::default()
                }],
                ..ServiceDescriptorProto::default()
            }],
            ..FileDescriptorProto::default()
        }
    }

    #[test]
    fn every_kind_of_symbol_is_found() {
        let index = Index::build(&[set(vec![sample()])]).unwrap();
        for symbol in [
            "acme.Outer",
            ".acme.Outer",
            "acme.Outer.Inner",
            "acme.Outer.Kind",
            "acme.Outer.KIND_PLAIN",
            "acme.Outer.nested_ext",
            "acme.top_ext",
            "acme.Svc",
            "acme.Svc.Do",
        ] {
            assert_eq!(
                index.file_defining(symbol),
                Some("acme/a.proto"),
                "{symbol}"
            );
        }
        assert_eq!(index.file_defining("acme.Nope"), None);
        assert_eq!(index.file_extending("acme.Base", 100), Some("acme/a.proto"));
        assert_eq!(
            index.file_extending(".acme.Base", 200),
            Some("acme/a.proto")
        );
        assert_eq!(index.file_extending("acme.Base", 300), None);
        assert_eq!(index.extension_numbers("acme.Base"), [100, 200]);
        assert_eq!(index.services().collect::<Vec<_>>(), ["acme.Svc"]);
        let file = index.file("acme/a.proto").unwrap();
        assert_eq!(file.dependencies, ["acme/base.proto"]);
    }

    #[test]
    fn the_same_file_twice_is_fine_but_two_versions_are_not() {
        assert!(Index::build(&[set(vec![sample()]), set(vec![sample()])]).is_ok());
        let mut other = sample();
        other.package = Some("changed".to_owned());
        let error = Index::build(&[set(vec![sample()]), set(vec![other])]).unwrap_err();
        assert!(error.message().contains("`acme/a.proto`"), "{error}");
        assert!(!error.is_decode());
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let error = Index::build(&[vec![0xff, 0xff, 0xff]]).unwrap_err();
        assert!(error.is_decode());
        assert!(std::error::Error::source(&error).is_some());
        assert!(error.message().contains("descriptor set #0"), "{error}");
    }
}
