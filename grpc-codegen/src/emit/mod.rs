//! Service IR -> Rust source.
//!
//! [`render`] builds a token stream from the [`ir::Service`], then formats
//! it with prettyplease. The pieces live in submodules: [`paths`] (the
//! method-path module), [`client`] (the stub) and [`server`] (the servicer
//! trait and its registration function).

mod client;
mod docs;
mod paths;
mod server;

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::ir;
use crate::naming;
use crate::options::CodegenOptions;

/// A service with every name and type resolved into tokens.
struct Resolved<'a> {
    ir: &'a ir::Service,
    /// `greeter_service`
    paths_module: Ident,
    methods: Vec<ResolvedMethod<'a>>,
}

/// A method with its Rust identifiers and message types.
struct ResolvedMethod<'a> {
    ir: &'a ir::Method,
    /// Method name in stub and servicer (`say_hello`, `r#type`).
    ident: Ident,
    /// Path constant in the paths module (`SAY_HELLO`).
    path_const: Ident,
    input: syn::Type,
    output: syn::Type,
}

/// Renders `service` as formatted Rust source.
pub(crate) fn render(service: &ir::Service, options: &CodegenOptions) -> String {
    format(service_tokens(service, options))
}

/// Renders `service` as tokens. Problems that make correct code impossible
/// (unparsable types, clashing names) become a `compile_error!` so they
/// surface when the generated file is compiled, never as a panic here.
pub(crate) fn service_tokens(service: &ir::Service, options: &CodegenOptions) -> TokenStream {
    let resolved = match resolve(service) {
        Ok(resolved) => resolved,
        Err(message) => {
            let message = format!("rustgrpc: service `{}`: {message}", service.full_name());
            return quote!(::core::compile_error!(#message););
        }
    };
    let emit = options.emitted();
    let paths = paths::tokens(&resolved);
    let client = if emit.includes_client() {
        client::tokens(&resolved)
    } else {
        TokenStream::new()
    };
    let server = if emit.includes_server() {
        server::tokens(&resolved)
    } else {
        TokenStream::new()
    };
    quote! {
        #paths
        #client
        #server
    }
}

fn resolve(service: &ir::Service) -> Result<Resolved<'_>, String> {
    let mut idents = BTreeSet::new();
    let mut consts = BTreeSet::new();
    let mut methods = Vec::with_capacity(service.methods.len());
    for method in &service.methods {
        let ident = naming::ident(&method.name);
        let path_const = naming::ident(&method.const_name());
        if !idents.insert(ident.to_string()) || !consts.insert(path_const.to_string()) {
            return Err(format!(
                "method `{}` maps to the Rust name `{ident}` (constant `{path_const}`), \
                 which another method already uses",
                method.proto_name
            ));
        }
        let input = parse_type(&method.input_type, method, "input")?;
        let output = parse_type(&method.output_type, method, "output")?;
        methods.push(ResolvedMethod {
            ir: method,
            ident,
            path_const,
            input,
            output,
        });
    }
    Ok(Resolved {
        ir: service,
        paths_module: naming::ident(&format!("{}_service", service.snake_name)),
        methods,
    })
}

fn parse_type(text: &str, method: &ir::Method, which: &str) -> Result<syn::Type, String> {
    syn::parse_str::<syn::Type>(text).map_err(|error| {
        format!(
            "method `{}`: cannot parse {which} type `{text}`: {error}",
            method.proto_name
        )
    })
}

/// Formats tokens with prettyplease. Falls back to the unformatted token
/// text if they do not parse as a file (which generated code always should).
fn format(tokens: TokenStream) -> String {
    match syn::parse2::<syn::File>(tokens.clone()) {
        Ok(file) => prettyplease::unparse(&file),
        Err(_) => tokens.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::tests::{prost_method, prost_service};
    use crate::options::Emit;

    /// Removes all whitespace, so checks do not depend on line wrapping.
    fn squash(code: &str) -> String {
        code.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn render_prost(service: &prost_build::Service, emit: Emit) -> String {
        render(
            &ir::Service::from_prost(service),
            &CodegenOptions::new().emit(emit),
        )
    }

    #[test]
    fn output_parses_and_is_deterministic() {
        let first = render_prost(&prost_service(), Emit::Both);
        let second = render_prost(&prost_service(), Emit::Both);
        assert_eq!(first, second);
        syn::parse_file(&first).expect("generated code parses");
        assert!(!first.contains("compile_error"));
    }

    #[test]
    fn emit_selects_halves() {
        let client = render_prost(&prost_service(), Emit::Client);
        assert!(client.contains("pub struct GreeterStub"));
        assert!(!client.contains("GreeterServicer"));
        assert!(client.contains("pub mod greeter_service"));

        let server = render_prost(&prost_service(), Emit::Server);
        assert!(!server.contains("GreeterStub"));
        assert!(server.contains("pub trait GreeterServicer"));
        assert!(server.contains("pub fn add_greeter_servicer_to_server"));
        assert!(server.contains("pub mod greeter_service"));
    }

    #[test]
    fn keyword_method_names_are_escaped() {
        let mut service = prost_service();
        service.methods = vec![
            prost_method("Type", false, false),
            prost_method("Self", false, true),
        ];
        let code = render_prost(&service, Emit::Both);
        syn::parse_file(&code).expect("generated code parses");
        let flat = squash(&code);
        assert!(flat.contains("pubfnr#type(&self"));
        assert!(flat.contains("fnr#type(&self,request:HelloRequest,"));
        assert!(flat.contains("pubfnself_(&self"));
        assert!(flat.contains("fnself_(&self,request:HelloRequest,"));
        assert!(flat.contains("s.r#type(request,context)"));
        assert!(code.contains("pub const TYPE: &str = \"/helloworld.Greeter/Type\";"));
        assert!(code.contains("pub const SELF: &str"));
    }

    #[test]
    fn clashing_names_become_compile_errors() {
        let mut service = prost_service();
        service.methods = vec![
            prost_method("GetFoo", false, false),
            prost_method("get_foo", false, false),
        ];
        let code = render_prost(&service, Emit::Both);
        syn::parse_file(&code).expect("generated code parses");
        assert!(code.contains("compile_error!"));
        assert!(code.contains("get_foo"));
    }

    #[test]
    fn unparsable_types_become_compile_errors() {
        let mut service = prost_service();
        service.methods[0].input_type = "not a type ((".to_owned();
        let code = render_prost(&service, Emit::Both);
        syn::parse_file(&code).expect("generated code parses");
        assert!(code.contains("compile_error!"));
        assert!(code.contains("cannot parse input type"));
    }

    #[test]
    fn deprecated_methods_are_marked() {
        let mut service = prost_service();
        service.methods[0].options.deprecated = Some(true);
        let code = render_prost(&service, Emit::Both);
        syn::parse_file(&code).expect("generated code parses");
        // stub method + servicer method
        assert_eq!(code.matches("#[deprecated]").count(), 2);
        assert!(code.contains("#[allow(deprecated)]\npub fn add_greeter_servicer_to_server"));
    }

    #[test]
    fn deprecated_services_are_marked() {
        let mut service = prost_service();
        service.options.deprecated = Some(true);
        let code = render_prost(&service, Emit::Both);
        syn::parse_file(&code).expect("generated code parses");
        // stub, servicer trait, registration function
        assert_eq!(code.matches("#[deprecated]").count(), 3);
    }

    #[test]
    fn empty_services_render() {
        let mut service = prost_service();
        service.methods.clear();
        let code = render_prost(&service, Emit::Both);
        syn::parse_file(&code).expect("generated code parses");
        assert!(code.contains("let _ = servicer;"));
        assert!(!code.contains("let mut service"));
    }

    #[test]
    fn comments_become_docs() {
        let code = render_prost(&prost_service(), Emit::Both);
        assert!(
            code.contains("/// The greeting service.\n///\n/// Trailing.\n///\n/// Client stub")
        );
        assert!(squash(&code).contains("///CallsSayHello.pubfnsay_hello(&self"));
    }
}
