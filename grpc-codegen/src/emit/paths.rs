//! The per-service module of path constants (`greeter_service`).

use proc_macro2::TokenStream;
use quote::quote;

use super::Resolved;
use super::docs::{doc_attrs, push_notes};

/// `pub mod greeter_service { pub const NAME: &str = ...; pub const SAY_HELLO: &str = ...; }`
pub(super) fn tokens(service: &Resolved<'_>) -> TokenStream {
    let full_name = service.ir.full_name();
    let module = &service.paths_module;
    let mut module_lines = vec![format!(
        " Method paths and the service name of `{full_name}`."
    )];
    push_notes(
        &mut module_lines,
        &service.rename_note("paths").into_iter().collect::<Vec<_>>(),
    );
    let module_doc = doc_attrs(&module_lines);
    let name_doc = doc_attrs(&[" Fully-qualified service name."]);
    let consts = service.methods.iter().map(|method| {
        let ident = &method.path_const;
        let path = method.ir.path(service.ir);
        let doc = doc_attrs(&[format!(" Path of `{}`.", method.ir.proto_name)]);
        quote! {
            #doc
            pub const #ident: &str = #path;
        }
    });
    quote! {
        #module_doc
        pub mod #module {
            #name_doc
            pub const NAME: &str = #full_name;
            #(#consts)*
        }
    }
}
