//! Rust spellings of proto identifiers.
//!
//! Every function here returns something that is always a valid Rust
//! identifier, whatever the input: plugin input is untrusted, and
//! `proc_macro2::Ident::new` panics on invalid identifiers.

use std::collections::BTreeSet;

use heck::{ToShoutySnakeCase, ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Ident, Span};

/// Strict and reserved keywords of Rust 2024 that can be used as raw
/// identifiers (`r#type`).
const RAW_ABLE_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers; they get a `_` suffix instead.
const SUFFIXED_KEYWORDS: &[&str] = &["self", "Self", "super", "crate", "_"];

/// Replaces every character that cannot appear in an ASCII identifier with
/// `_`, and makes sure the result does not start with a digit and is not
/// empty.
fn sanitize(name: &str) -> String {
    let mut out: String = name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, '_');
    }
    out
}

/// The snake_case spelling of a proto name (no keyword handling).
pub(crate) fn snake_case(proto_name: &str) -> String {
    sanitize(&proto_name.to_snake_case())
}

/// The UpperCamelCase spelling of a proto name (no keyword handling).
pub(crate) fn upper_camel_case(proto_name: &str) -> String {
    sanitize(&proto_name.to_upper_camel_case())
}

/// The SCREAMING_SNAKE_CASE spelling of a name, for constants.
pub(crate) fn screaming_snake_case(name: &str) -> String {
    sanitize(&name.to_shouty_snake_case())
}

/// Turns `name` into an identifier token, making keywords usable: raw
/// identifiers where Rust allows them (`r#type`), a `_` suffix where it does
/// not (`self_`).
pub(crate) fn ident(name: &str) -> Ident {
    let name = sanitize(name);
    if SUFFIXED_KEYWORDS.contains(&name.as_str()) {
        Ident::new(&format!("{name}_"), Span::call_site())
    } else if RAW_ABLE_KEYWORDS.contains(&name.as_str()) {
        Ident::new_raw(&name, Span::call_site())
    } else {
        Ident::new(&name, Span::call_site())
    }
}

/// The names already used in one Rust module (the module of one proto
/// package), so that generated items can avoid them.
///
/// Rust has separate namespaces for types (structs, enums, traits,
/// modules) and values (functions, constants); prost's messages, enums and
/// nested-type modules live in the first, generated registration functions
/// in the second.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Scope {
    types: BTreeSet<String>,
    values: BTreeSet<String>,
}

impl Scope {
    /// Marks a type-namespace name as used.
    pub(crate) fn reserve_type(&mut self, name: impl Into<String>) {
        self.types.insert(name.into());
    }

    /// Claims `wanted` (an UpperCamelCase type name) or, if it is taken,
    /// the first free of `wanted2`, `wanted3`, ...
    pub(crate) fn claim_type(&mut self, wanted: &str) -> String {
        claim(&mut self.types, wanted, "")
    }

    /// Claims `wanted` (a snake_case module name) or, if it is taken, the
    /// first free of `wanted_2`, `wanted_3`, ...
    pub(crate) fn claim_module(&mut self, wanted: &str) -> String {
        claim(&mut self.types, wanted, "_")
    }

    /// Claims `wanted` (a snake_case function name) or, if it is taken, the
    /// first free of `wanted_2`, `wanted_3`, ...
    pub(crate) fn claim_value(&mut self, wanted: &str) -> String {
        claim(&mut self.values, wanted, "_")
    }
}

fn claim(used: &mut BTreeSet<String>, wanted: &str, separator: &str) -> String {
    let name = (1..)
        .map(|n| {
            if n == 1 {
                wanted.to_owned()
            } else {
                format!("{wanted}{separator}{n}")
            }
        })
        .find(|name| !used.contains(name))
        .unwrap_or_else(|| wanted.to_owned());
    used.insert(name.clone());
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_hand_out_distinct_names() {
        let mut scope = Scope::default();
        scope.reserve_type("GreeterStub");
        assert_eq!(scope.claim_type("GreeterStub"), "GreeterStub2");
        assert_eq!(scope.claim_type("GreeterStub"), "GreeterStub3");
        assert_eq!(scope.claim_module("greeter_service"), "greeter_service");
        assert_eq!(scope.claim_module("greeter_service"), "greeter_service_2");
        // Values are a separate namespace.
        assert_eq!(scope.claim_value("GreeterStub"), "GreeterStub");
    }

    #[test]
    fn snake_case_of_method_names() {
        assert_eq!(snake_case("SayHello"), "say_hello");
        assert_eq!(snake_case("HTTPGet"), "http_get");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("Get2Things"), "get2_things");
    }

    #[test]
    fn camel_case_of_service_names() {
        assert_eq!(upper_camel_case("Greeter"), "Greeter");
        assert_eq!(upper_camel_case("route_guide"), "RouteGuide");
        assert_eq!(upper_camel_case("HTTPService"), "HttpService");
    }

    #[test]
    fn screaming_snake_case_of_methods() {
        assert_eq!(screaming_snake_case("say_hello"), "SAY_HELLO");
        assert_eq!(screaming_snake_case("type"), "TYPE");
    }

    #[test]
    fn keywords_become_raw_identifiers() {
        assert_eq!(ident("type").to_string(), "r#type");
        assert_eq!(ident("async").to_string(), "r#async");
        assert_eq!(ident("gen").to_string(), "r#gen");
        assert_eq!(ident("match").to_string(), "r#match");
    }

    #[test]
    fn non_raw_keywords_get_a_suffix() {
        assert_eq!(ident("self").to_string(), "self_");
        assert_eq!(ident("Self").to_string(), "Self_");
        assert_eq!(ident("super").to_string(), "super_");
        assert_eq!(ident("crate").to_string(), "crate_");
        assert_eq!(ident("_").to_string(), "__");
    }

    #[test]
    fn ordinary_names_are_untouched() {
        assert_eq!(ident("say_hello").to_string(), "say_hello");
        assert_eq!(ident("union").to_string(), "union");
    }

    #[test]
    fn hostile_names_still_make_identifiers() {
        assert_eq!(ident("").to_string(), "__");
        assert_eq!(ident("9lives").to_string(), "_9lives");
        assert_eq!(ident("a-b c").to_string(), "a_b_c");
        assert_eq!(ident("caf\u{e9}").to_string(), "caf_");
        assert_eq!(snake_case(""), "_");
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::*;

    fn is_identifier(name: &str) -> bool {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    }

    proptest! {
        /// Any proto name (plugin input is untrusted) becomes a valid
        /// identifier in every spelling, and `ident` never panics.
        #[test]
        fn every_spelling_is_an_identifier(name in any::<String>()) {
            for spelled in [snake_case(&name), upper_camel_case(&name), screaming_snake_case(&name)] {
                prop_assert!(is_identifier(&spelled), "{:?} -> {:?}", name, spelled);
                let _ = ident(&spelled);
            }
            let token = ident(&name).to_string();
            let bare = token.strip_prefix("r#").unwrap_or(&token);
            prop_assert!(is_identifier(bare), "{:?} -> {:?}", name, token);
        }

        /// Keyword-shaped names (the risky ones) never panic either.
        #[test]
        fn keywords_are_escaped(index in 0..RAW_ABLE_KEYWORDS.len() + SUFFIXED_KEYWORDS.len()) {
            let word = RAW_ABLE_KEYWORDS.iter().chain(SUFFIXED_KEYWORDS).nth(index).copied().unwrap_or("_");
            let _ = ident(word);
            let _ = ident(&snake_case(word));
            let _ = ident(&upper_camel_case(word));
        }

        /// A scope never hands out the same name twice.
        #[test]
        fn claims_are_distinct(wanted in prop::collection::vec("[A-Za-z_]{1,4}[0-9]?", 1..30)) {
            let mut scope = Scope::default();
            let mut seen = BTreeSet::new();
            for name in &wanted {
                prop_assert!(seen.insert(scope.claim_type(name)));
            }
        }
    }
}
