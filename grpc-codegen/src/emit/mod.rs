//! Service IR -> Rust source.
//!
//! [`render`] builds a token stream from the [`ir::Service`], then formats
//! it with prettyplease. The pieces live in submodules: [`paths`] (the
//! method-path module), [`client`] (the stub), [`server`] (the blocking
//! servicer trait and its registration function) and [`aio`] (the async
//! servicer trait and its registration function).

mod aio;
mod client;
mod docs;
mod paths;
mod server;

use std::collections::BTreeSet;

use proc_macro2::{Ident, TokenStream};
use quote::quote;

use crate::ir;
use crate::naming::{self, Scope};
use crate::options::{CodegenOptions, DescriptorSet};

/// Stub and servicer method names that would clash with something every
/// stub or servicer has (the constructor, the codec switch; `Clone::clone`,
/// which a `clone` method would shadow), with the names such methods get
/// instead.
const RESERVED_METHOD_NAMES: &[(&str, &str)] = &[
    ("new", "new_"),
    ("clone", "clone_"),
    ("with_codec", "with_codec_"),
];

/// Path constants that the paths module already has.
const RESERVED_CONST_NAMES: &[(&str, &str)] = &[("NAME", "NAME_")];

/// A service with every name and type resolved into tokens.
struct Resolved<'a> {
    ir: &'a ir::Service,
    /// `GreeterStub`
    stub: Ident,
    /// `GreeterServicer`
    servicer: Ident,
    /// `greeter_service`
    paths_module: Ident,
    /// `add_greeter_servicer_to_server`
    add_fn: Ident,
    /// `AsyncGreeterServicer`
    async_servicer: Ident,
    /// `add_async_greeter_servicer_to_server`
    async_add_fn: Ident,
    /// Why an item did not get its natural name, keyed by the item's role
    /// (`"stub"`, `"servicer"`, `"paths"`, `"add"`, `"async_servicer"`,
    /// `"async_add"`).
    renames: Vec<(&'static str, String)>,
    methods: Vec<ResolvedMethod<'a>>,
    /// The module has `FILE_DESCRIPTOR_SET` (`DescriptorSet::Embed`): the
    /// add functions register it for Connect's JSON.
    embeds_descriptors: bool,
}

impl Resolved<'_> {
    /// Doc lines explaining why the item in `role` was renamed, if it was.
    fn rename_note(&self, role: &str) -> Option<&str> {
        self.renames
            .iter()
            .find(|(r, _)| *r == role)
            .map(|(_, note)| note.as_str())
    }
}

/// A method with its Rust identifiers and message types.
struct ResolvedMethod<'a> {
    ir: &'a ir::Method,
    /// Method name in stub and servicer (`say_hello`, `r#type`).
    ident: Ident,
    /// Path constant in the paths module (`SAY_HELLO`).
    path_const: Ident,
    /// Why the method did not get the snake_case of its proto name.
    rename_note: Option<String>,
    input: syn::Type,
    output: syn::Type,
}

/// Renders `service` as formatted Rust source, taking its item names from
/// `scope` (the names already used in the service's module).
pub(crate) fn render(service: &ir::Service, options: &CodegenOptions, scope: &mut Scope) -> String {
    format(service_tokens(service, options, scope))
}

/// Renders `service` as tokens. Problems that make correct code impossible
/// (unparsable types) become a `compile_error!` so they surface when the
/// generated file is compiled, never as a panic here.
pub(crate) fn service_tokens(
    service: &ir::Service,
    options: &CodegenOptions,
    scope: &mut Scope,
) -> TokenStream {
    let emit = options.emitted();
    if !emit.includes_client() && !emit.includes_server() {
        return TokenStream::new();
    }
    let resolved = match resolve(service, scope) {
        Ok(resolved) => Resolved {
            embeds_descriptors: options.selected_descriptor_set() == DescriptorSet::Embed,
            ..resolved
        },
        Err(message) => {
            let message = format!("rustgrpc: service `{}`: {message}", service.full_name());
            return quote!(::core::compile_error!(#message););
        }
    };
    let paths = paths::tokens(&resolved);
    let client = if emit.includes_client() {
        client::tokens(&resolved)
    } else {
        TokenStream::new()
    };
    let face = options.selected_face();
    let server = if emit.includes_server() && face.includes_blocking() {
        server::tokens(&resolved)
    } else {
        TokenStream::new()
    };
    let async_server = if emit.includes_server() && face.includes_async() {
        aio::tokens(&resolved)
    } else {
        TokenStream::new()
    };
    allow_unused(quote! {
        #paths
        #client
        #server
        #async_server
    })
}

/// Marks every item `#[allow(dead_code)]`: generated code lives in the
/// user's (often private) module, where the methods and servicers a program
/// does not use are not the user's mistake and must not warn.
fn allow_unused(tokens: TokenStream) -> TokenStream {
    let Ok(mut file) = syn::parse2::<syn::File>(tokens.clone()) else {
        return tokens;
    };
    for item in &mut file.items {
        let attrs = match item {
            syn::Item::Mod(item) => &mut item.attrs,
            syn::Item::Struct(item) => &mut item.attrs,
            syn::Item::Impl(item) => &mut item.attrs,
            syn::Item::Trait(item) => &mut item.attrs,
            syn::Item::Fn(item) => &mut item.attrs,
            syn::Item::Const(item) => &mut item.attrs,
            syn::Item::Static(item) => &mut item.attrs,
            syn::Item::Enum(item) => &mut item.attrs,
            syn::Item::Type(item) => &mut item.attrs,
            _ => continue,
        };
        attrs.push(syn::parse_quote!(#[allow(dead_code)]));
    }
    quote!(#file)
}

/// Names the service's items and methods.
///
/// Every item is named whatever is emitted (`emit`, `face`), so a file with
/// only some of them names them as the full file does. Item names that are
/// taken in the module (by a message, an enum, a
/// nested-type module or an earlier service) get the first free numeric
/// suffix: `ThingStub2`, `thing_service_2`. Methods whose Rust names
/// collide (`GetFoo` and `get_foo` are both `get_foo`) keep proto order: the
/// first gets the plain name, each later one the first free `_2`, `_3`, ...
fn resolve<'a>(service: &'a ir::Service, scope: &mut Scope) -> Result<Resolved<'a>, String> {
    let mut renames = Vec::new();
    let mut claim = |role: &'static str, wanted: String, claimed: String| {
        if claimed != wanted {
            renames.push((
                role,
                format!(
                    " Named `{claimed}` because `{wanted}` is already used by another item of \
                     this module (a message, enum or service): generated names take the first \
                     free numeric suffix."
                ),
            ));
        }
        naming::ident(&claimed)
    };
    let stub_name = format!("{}Stub", service.name);
    let stub = claim("stub", stub_name.clone(), scope.claim_type(&stub_name));
    let servicer_name = format!("{}Servicer", service.name);
    let servicer = claim(
        "servicer",
        servicer_name.clone(),
        scope.claim_type(&servicer_name),
    );
    let paths_name = format!("{}_service", service.snake_name);
    let paths_module = claim("paths", paths_name.clone(), scope.claim_module(&paths_name));
    let add_name = format!("add_{}_servicer_to_server", service.snake_name);
    let add_fn = claim("add", add_name.clone(), scope.claim_value(&add_name));
    let async_servicer_name = format!("Async{}Servicer", service.name);
    let async_servicer = claim(
        "async_servicer",
        async_servicer_name.clone(),
        scope.claim_type(&async_servicer_name),
    );
    let async_add_name = format!("add_async_{}_servicer_to_server", service.snake_name);
    let async_add_fn = claim(
        "async_add",
        async_add_name.clone(),
        scope.claim_value(&async_add_name),
    );

    let mut idents = BTreeSet::new();
    let mut consts = BTreeSet::new();
    let mut methods = Vec::with_capacity(service.methods.len());
    for method in &service.methods {
        let (ident, path_const, rename_note) =
            method_names(service, method, &mut idents, &mut consts);
        let input = parse_type(&method.input_type, method, "input")?;
        let output = parse_type(&method.output_type, method, "output")?;
        methods.push(ResolvedMethod {
            ir: method,
            ident,
            path_const,
            rename_note,
            input,
            output,
        });
    }
    Ok(Resolved {
        ir: service,
        stub,
        servicer,
        paths_module,
        add_fn,
        async_servicer,
        async_add_fn,
        renames,
        methods,
        embeds_descriptors: false,
    })
}

/// The method's identifier and path constant, unique among `idents` and
/// `consts`, and a doc note when the name is not the plain snake_case.
fn method_names(
    service: &ir::Service,
    method: &ir::Method,
    idents: &mut BTreeSet<String>,
    consts: &mut BTreeSet<String>,
) -> (Ident, Ident, Option<String>) {
    let reserved = RESERVED_METHOD_NAMES
        .iter()
        .find(|(name, _)| *name == method.name)
        .map(|(_, renamed)| *renamed);
    let base = reserved.unwrap_or(&method.name);
    let mut n = 0_usize;
    loop {
        n += 1;
        let name = if n == 1 {
            base.to_owned()
        } else {
            format!("{base}_{n}")
        };
        let ident = naming::ident(&name);
        let screaming = naming::screaming_snake_case(&name);
        let const_name = RESERVED_CONST_NAMES
            .iter()
            .find(|(reserved, _)| *reserved == screaming)
            .map_or(screaming.clone(), |(_, renamed)| (*renamed).to_owned());
        let path_const = naming::ident(&const_name);
        if idents.contains(&ident.to_string()) || consts.contains(&path_const.to_string()) {
            continue;
        }
        idents.insert(ident.to_string());
        consts.insert(path_const.to_string());
        let note = if n > 1 {
            let first = service
                .methods
                .iter()
                .find(|m| m.name == method.name)
                .map_or(method.proto_name.as_str(), |m| m.proto_name.as_str());
            Some(format!(
                " Named `{ident}` because `{}` is already the Rust name of `{first}` in this \
                 service: when the snake_case names of methods collide, the first in the \
                 .proto file keeps it and each later one gets the first free suffix `_2`, \
                 `_3`, ...",
                naming::ident(base)
            ))
        } else {
            reserved.map(|renamed| {
                format!(
                    " Named `{renamed}` because `{}` is reserved in generated stubs and \
                     servicers (`new` constructs the stub; `clone` would shadow \
                     `Clone::clone`).",
                    method.name
                )
            })
        };
        return (ident, path_const, note);
    }
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

/// `#[deprecated]` for a deprecated proto item, nothing otherwise.
pub(super) fn deprecated_attr(deprecated: bool) -> TokenStream {
    if deprecated {
        quote!(#[deprecated])
    } else {
        TokenStream::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::tests::{prost_method, prost_service};
    use crate::options::{Emit, Face};

    /// Removes all whitespace, so checks do not depend on line wrapping.
    fn squash(code: &str) -> String {
        code.chars().filter(|c| !c.is_whitespace()).collect()
    }

    fn render_prost(service: &prost_build::Service, emit: Emit) -> String {
        render(
            &ir::Service::from_prost(service),
            &CodegenOptions::new().emit(emit),
            &mut Scope::default(),
        )
    }

    #[test]
    fn output_parses_and_is_deterministic() {
        let first = render_prost(&prost_service(), Emit::ALL);
        let second = render_prost(&prost_service(), Emit::ALL);
        assert_eq!(first, second);
        syn::parse_file(&first).expect("generated code parses");
        assert!(!first.contains("compile_error"));
    }

    #[test]
    fn emit_selects_halves() {
        let client = render_prost(&prost_service(), Emit::CLIENT);
        assert!(client.contains("pub struct GreeterStub"));
        assert!(!client.contains("GreeterServicer"));
        assert!(client.contains("pub mod greeter_service"));

        let server = render_prost(&prost_service(), Emit::SERVER);
        assert!(!server.contains("GreeterStub"));
        assert!(server.contains("pub trait GreeterServicer"));
        assert!(server.contains("pub fn add_greeter_servicer_to_server"));
        assert!(server.contains("pub mod greeter_service"));
    }

    fn render_face(service: &prost_build::Service, face: Face) -> String {
        render(
            &ir::Service::from_prost(service),
            &CodegenOptions::new().face(face),
            &mut Scope::default(),
        )
    }

    #[test]
    fn face_selects_servicers() {
        let both = render_face(&prost_service(), Face::Both);
        assert!(both.contains("pub trait GreeterServicer:"));
        assert!(both.contains("pub fn add_greeter_servicer_to_server<"));
        assert!(both.contains("pub trait AsyncGreeterServicer:"));
        assert!(both.contains("pub fn add_async_greeter_servicer_to_server<"));
        assert!(both.contains("pub struct GreeterStub"));
        assert_eq!(render_prost(&prost_service(), Emit::ALL), both);

        let blocking = render_face(&prost_service(), Face::Blocking);
        assert!(blocking.contains("pub trait GreeterServicer:"));
        assert!(!blocking.contains("Async"));
        assert!(blocking.contains("pub struct GreeterStub"));

        let aio = render_face(&prost_service(), Face::Async);
        assert!(!aio.contains("pub trait GreeterServicer:"));
        assert!(!aio.contains("add_greeter_servicer_to_server"));
        assert!(aio.contains("pub trait AsyncGreeterServicer:"));
        assert!(aio.contains("pub struct GreeterStub"));
        syn::parse_file(&aio).expect("generated code parses");
    }

    #[test]
    fn async_servicer_shapes() {
        let mut service = prost_service();
        service.methods = vec![
            prost_method("Unary", false, false),
            prost_method("Lots", false, true),
            prost_method("Gather", true, false),
            prost_method("Chat", true, true),
        ];
        let code = render_face(&service, Face::Async);
        syn::parse_file(&code).expect("generated code parses");
        // Without whitespace and the trailing commas of wrapped lists.
        let flat = squash(&code).replace(",>", ">").replace(",)", ")");
        // Methods return `Send` futures, so implementors may write `async fn`.
        assert!(flat.contains(
            "fnunary(&self,request:HelloRequest,context:&::grpc_core::ServicerContext)\
             ->impl::core::future::Future<Output=::core::result::Result<super::other::HelloReply,\
             ::grpc_core::Status>>+::core::marker::Send{"
        ));
        assert!(flat.contains(
            "Output=::core::result::Result<impl::grpc_core::Stream<Item=::core::result::Result<\
             super::other::HelloReply,::grpc_core::Status>>+::core::marker::Send+'static,\
             ::grpc_core::Status>>+::core::marker::Send{"
        ));
        assert!(flat.contains("requests:::grpc_core::RequestStream<HelloRequest>"));
        assert_eq!(
            code.matches("::core::future::ready(").count(),
            4,
            "every default is ready: {code}"
        );
        // Registration: one task-friendly closure per method, streams boxed.
        assert!(flat.contains(
            "service.unary_unary_async(\"Unary\",move|request,context|{lets=::std::sync::Arc::clone(&s);\
             asyncmove{s.unary(request,&context).await}});"
        ));
        assert!(flat.contains("asyncmove{s.lots(request,&context).await.map(box_stream)}"));
        assert!(flat.contains("service.stream_unary_async(\"Gather\""));
        assert!(flat.contains("asyncmove{s.chat(requests,&context).await.map(box_stream)}"));
        assert_eq!(code.matches("fn box_stream<").count(), 1);
    }

    #[test]
    fn async_item_names_avoid_taken_names() {
        let mut scope = Scope::default();
        scope.reserve_type("AsyncGreeterServicer");
        let ir = ir::Service::from_prost(&prost_service());
        // Names do not depend on the face: the blocking file claims them too.
        let mut blocking_scope = scope.clone();
        render(
            &ir,
            &CodegenOptions::new().face(Face::Blocking),
            &mut blocking_scope,
        );
        let code = render(&ir, &CodegenOptions::new(), &mut scope);
        assert_eq!(scope, blocking_scope);
        assert!(code.contains("pub trait AsyncGreeterServicer2:"));
        assert!(code.contains("pub fn add_async_greeter_servicer_to_server<"));
        assert!(
            squash(&code).contains(
                "///Named`AsyncGreeterServicer2`because`AsyncGreeterServicer`isalreadyused"
            )
        );
    }

    #[test]
    fn keyword_method_names_are_escaped() {
        let mut service = prost_service();
        service.methods = vec![
            prost_method("Type", false, false),
            prost_method("Self", false, true),
        ];
        let code = render_prost(&service, Emit::ALL);
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
    fn clashing_method_names_get_suffixes() {
        let mut service = prost_service();
        service.methods = vec![
            prost_method("GetFoo", false, false),
            prost_method("get_foo", false, false),
            prost_method("GETFoo", false, false),
            prost_method("Self", false, false),
            prost_method("self", false, false),
        ];
        let code = render_prost(&service, Emit::ALL);
        syn::parse_file(&code).expect("generated code parses");
        assert!(!code.contains("compile_error!"));
        let flat = squash(&code);
        for name in ["get_foo", "get_foo_2", "get_foo_3", "self_", "self_2"] {
            assert!(
                flat.contains(&format!("pubfn{name}(&self")),
                "{name}: {code}"
            );
        }
        assert!(code.contains("pub const GET_FOO_2: &str = \"/helloworld.Greeter/get_foo\";"));
        assert!(code.contains("pub const GET_FOO_3: &str = \"/helloworld.Greeter/GETFoo\";"));
        assert!(flat.contains("///Named`get_foo_2`because`get_foo`isalreadytheRustnameof`GetFoo`"));
        assert!(flat.contains("///Named`self_2`because`self_`isalreadytheRustnameof`Self`"));
        // Registration uses the proto names and the distinct Rust names.
        assert!(flat.contains("\"get_foo\",move|request,context|s.get_foo_2(request,context)"));
    }

    #[test]
    fn reserved_method_and_const_names_are_renamed() {
        let mut service = prost_service();
        service.methods = vec![
            prost_method("New", false, false),
            prost_method("Clone", false, false),
            prost_method("Name", false, false),
        ];
        let code = render_prost(&service, Emit::ALL);
        let flat = squash(&code);
        assert!(flat.contains("pubfnnew_(&self"));
        assert!(flat.contains("pubfnclone_(&self"));
        assert!(flat.contains("pubfnname(&self"));
        assert!(code.contains("pub const NEW: &str"));
        assert!(code.contains("pub const CLONE: &str"));
        assert!(code.contains("pub const NAME_: &str = \"/helloworld.Greeter/Name\";"));
        assert!(flat.contains("///Named`clone_`because`clone`isreserved"));
    }

    #[test]
    fn taken_item_names_get_suffixes() {
        let mut scope = Scope::default();
        scope.reserve_type("GreeterStub");
        scope.reserve_type("greeter_service");
        let ir = ir::Service::from_prost(&prost_service());
        let first = render(&ir, &CodegenOptions::new(), &mut scope);
        assert!(first.contains("pub struct GreeterStub2<C = ::grpc_core::ProstCodec> {"));
        assert!(first.contains("pub trait GreeterServicer:"));
        assert!(first.contains("pub mod greeter_service_2 {"));
        assert!(squash(&first).contains("///Named`GreeterStub2`because`GreeterStub`isalreadyused"));
        // A second service of the same name in the same module.
        let second = render(&ir, &CodegenOptions::new(), &mut scope);
        assert!(second.contains("pub struct GreeterStub3<C = ::grpc_core::ProstCodec> {"));
        assert!(second.contains("pub trait GreeterServicer2:"));
        assert!(second.contains("pub fn add_greeter_servicer_to_server_2<"));
    }

    #[test]
    fn messages_only_renders_no_service_code() {
        let code = render_prost(&prost_service(), Emit::MESSAGES);
        assert!(code.trim().is_empty(), "{code}");
    }

    #[test]
    fn unparsable_types_become_compile_errors() {
        let mut service = prost_service();
        service.methods[0].input_type = "not a type ((".to_owned();
        let code = render_prost(&service, Emit::ALL);
        syn::parse_file(&code).expect("generated code parses");
        assert!(code.contains("compile_error!"));
        assert!(code.contains("cannot parse input type"));
    }

    #[test]
    fn deprecated_methods_are_marked() {
        let mut service = prost_service();
        service.methods[0].options.deprecated = Some(true);
        let code = render_prost(&service, Emit::ALL);
        syn::parse_file(&code).expect("generated code parses");
        // stub method + servicer method + async servicer method
        assert_eq!(code.matches("#[deprecated]").count(), 3);
        assert!(code.contains(
            "#[allow(deprecated)]\n#[allow(dead_code)]\npub fn add_greeter_servicer_to_server"
        ));
        assert!(code.contains(
            "#[allow(deprecated)]\n#[allow(dead_code)]\npub fn add_async_greeter_servicer_to_server"
        ));
    }

    #[test]
    fn deprecated_services_are_marked() {
        let mut service = prost_service();
        service.options.deprecated = Some(true);
        let code = render_prost(&service, Emit::ALL);
        syn::parse_file(&code).expect("generated code parses");
        // stub, servicer traits, registration functions
        assert_eq!(code.matches("#[deprecated]").count(), 5);
    }

    #[test]
    fn empty_services_render() {
        let mut service = prost_service();
        service.methods.clear();
        let code = render_prost(&service, Emit::ALL);
        syn::parse_file(&code).expect("generated code parses");
        assert_eq!(code.matches("let _ = servicer;").count(), 2);
        assert!(!code.contains("let mut service"));
    }

    #[test]
    fn comments_become_docs() {
        let code = render_prost(&prost_service(), Emit::ALL);
        assert!(
            code.contains("/// The greeting service.\n///\n/// Trailing.\n///\n/// Client stub")
        );
        assert!(squash(&code).contains("///CallsSayHello.pubfnsay_hello(&self"));
    }
}
