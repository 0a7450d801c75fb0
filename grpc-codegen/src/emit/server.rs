//! The servicer trait (`GreeterServicer`) and its registration function
//! (`add_greeter_servicer_to_server`).

use proc_macro2::TokenStream;
use quote::quote;

use super::docs::{doc_attrs, or_fallback, push_notes, with_summary};
use super::{Resolved, ResolvedMethod, deprecated_attr};
use crate::ir::CallKind;

/// The trait and the registration function.
pub(super) fn tokens(service: &Resolved<'_>) -> TokenStream {
    let trait_tokens = servicer_trait(service);
    let add_fn = add_function(service);
    quote! {
        #trait_tokens
        #add_fn
    }
}

fn servicer_trait(service: &Resolved<'_>) -> TokenStream {
    let full_name = service.ir.full_name();
    servicer_trait_tokens(
        service,
        &service.servicer,
        "servicer",
        format!(" Server-side trait for `{full_name}`; every method defaults to `UNIMPLEMENTED`."),
        servicer_method,
    )
}

/// A servicer trait of either face: docs, deprecation, one method each.
pub(super) fn servicer_trait_tokens<S: quote::ToTokens>(
    service: &Resolved<'_>,
    servicer: &S,
    rename_key: &str,
    summary: String,
    method_tokens: fn(&ResolvedMethod<'_>) -> TokenStream,
) -> TokenStream {
    let notes: Vec<&str> = service.rename_note(rename_key).into_iter().collect();
    let doc = doc_attrs(&with_summary(&service.ir.comments, summary, &notes));
    let deprecated = deprecated_attr(service.ir.deprecated);
    let methods = service.methods.iter().map(method_tokens);
    quote! {
        #doc
        #deprecated
        pub trait #servicer: ::core::marker::Send + ::core::marker::Sync + 'static {
            #(#methods)*
        }
    }
}

/// What a servicer method looks like in both faces, before its return type.
pub(super) struct MethodParts {
    pub(super) doc: TokenStream,
    pub(super) deprecated: TokenStream,
    pub(super) request: TokenStream,
    pub(super) request_type: TokenStream,
    pub(super) item: TokenStream,
    pub(super) unimplemented: TokenStream,
}

/// Which servicer trait a method is emitted for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum HandlerFace {
    /// Blocking handlers: client streams are `Requests` (an `Iterator`).
    Blocking,
    /// Async handlers: client streams are `RequestStream` (a `Stream`).
    Async,
}

pub(super) fn method_parts(method: &ResolvedMethod<'_>, face: HandlerFace) -> MethodParts {
    let notes: Vec<&str> = method.rename_note.as_deref().into_iter().collect();
    let doc = doc_attrs(&or_fallback(
        &method.ir.comments,
        format!(
            " Handles `{}`; the default returns `UNIMPLEMENTED`.",
            method.ir.proto_name
        ),
        &notes,
    ));
    let input = &method.input;
    let output = &method.output;
    let (request, request_type) = if method.ir.client_streaming {
        let stream = match face {
            HandlerFace::Blocking => quote!(::grpc_core::Requests<#input>),
            HandlerFace::Async => quote!(::grpc_core::RequestStream<#input>),
        };
        (quote!(requests), stream)
    } else {
        (quote!(request), quote!(#input))
    };
    MethodParts {
        doc,
        deprecated: deprecated_attr(method.ir.deprecated),
        request,
        request_type,
        item: quote!(::core::result::Result<#output, ::grpc_core::Status>),
        unimplemented: quote!(::grpc_core::Status::unimplemented(
            "Method not implemented!"
        )),
    }
}

fn servicer_method(method: &ResolvedMethod<'_>) -> TokenStream {
    let MethodParts {
        doc,
        deprecated,
        request,
        request_type,
        item,
        unimplemented,
    } = method_parts(method, HandlerFace::Blocking);
    let ident = &method.ident;
    let output = &method.output;
    let (ok_type, default_error) = if method.ir.server_streaming {
        (
            quote! {
                impl ::core::iter::Iterator<Item = #item> + ::core::marker::Send + 'static
            },
            quote! {
                ::core::result::Result::Err::<::core::iter::Empty<#item>, _>(#unimplemented)
            },
        )
    } else {
        (
            quote!(#output),
            quote!(::core::result::Result::Err(#unimplemented)),
        )
    };
    quote! {
        #doc
        #deprecated
        fn #ident(
            &self,
            #request: #request_type,
            context: &::grpc_core::ServicerContext,
        ) -> ::core::result::Result<#ok_type, ::grpc_core::Status> {
            let _ = (#request, context);
            #default_error
        }
    }
}

fn add_function(service: &Resolved<'_>) -> TokenStream {
    let full_name = service.ir.full_name();
    add_servicer_fn(
        service,
        AddFn {
            servicer: &service.servicer,
            add_fn: &service.add_fn,
            doc_lines: vec![format!(
                " Registers `servicer` on `server` under `{full_name}`."
            )],
            rename_key: "add",
            registration,
            box_fn: box_responses_fn,
        },
    )
}

/// What differs between the blocking and the async `add_*_to_server`.
pub(super) struct AddFn<'a, S, A> {
    pub(super) servicer: &'a S,
    pub(super) add_fn: &'a A,
    pub(super) doc_lines: Vec<String>,
    pub(super) rename_key: &'static str,
    pub(super) registration: fn(&ResolvedMethod<'_>) -> TokenStream,
    pub(super) box_fn: fn() -> TokenStream,
}

/// The `add_<service>_servicer_to_server` function of either face.
pub(super) fn add_servicer_fn<S: quote::ToTokens, A: quote::ToTokens>(
    service: &Resolved<'_>,
    spec: AddFn<'_, S, A>,
) -> TokenStream {
    let AddFn {
        servicer,
        add_fn,
        mut doc_lines,
        rename_key,
        registration,
        box_fn,
    } = spec;
    push_notes(
        &mut doc_lines,
        &service
            .rename_note(rename_key)
            .into_iter()
            .collect::<Vec<_>>(),
    );
    let doc = doc_attrs(&doc_lines);
    let deprecated = deprecated_attr(service.ir.deprecated);
    let allow_deprecated = if service.ir.uses_deprecated() {
        quote!(#[allow(deprecated)])
    } else {
        TokenStream::new()
    };
    let register_descriptors = if service.embeds_descriptors {
        quote!(server.register_generated_descriptors(FILE_DESCRIPTOR_SET);)
    } else {
        TokenStream::new()
    };
    let module = &service.paths_module;
    let body = if service.methods.is_empty() {
        quote! {
            let _ = servicer;
            let service = ::grpc_core::ServiceBuilder::new(#module::NAME);
        }
    } else {
        let registrations = service.methods.iter().map(registration);
        let boxer = if service.methods.iter().any(|m| m.ir.server_streaming) {
            box_fn()
        } else {
            TokenStream::new()
        };
        quote! {
            #boxer
            let servicer = ::std::sync::Arc::new(servicer);
            let mut service = ::grpc_core::ServiceBuilder::new(#module::NAME);
            #(#registrations)*
        }
    };
    quote! {
        #doc
        #deprecated
        #allow_deprecated
        pub fn #add_fn<S: #servicer>(servicer: S, server: &::grpc_core::Server) {
            #body
            #register_descriptors
            server.add_service(service.build());
        }
    }
}

fn registration(method: &ResolvedMethod<'_>) -> TokenStream {
    let register = match method.ir.kind() {
        CallKind::UnaryUnary => quote!(unary_unary),
        CallKind::UnaryStream => quote!(unary_stream),
        CallKind::StreamUnary => quote!(stream_unary),
        CallKind::StreamStream => quote!(stream_stream),
    };
    let request = if method.ir.client_streaming {
        quote!(requests)
    } else {
        quote!(request)
    };
    let ident = &method.ident;
    let proto_name = &method.ir.proto_name;
    let call = quote!(s.#ident(#request, context));
    let handler = if method.ir.server_streaming {
        quote!(#call.map(box_responses))
    } else {
        call
    };
    quote! {
        let s = ::std::sync::Arc::clone(&servicer);
        service.#register(#proto_name, move |#request, context| #handler);
    }
}

/// A function-local helper for server-streaming handlers.
///
/// The servicer's `impl Iterator` return type captures the call's argument
/// lifetimes (edition 2024 capture rules), so it is a different type for
/// every call and cannot be a handler's single response-stream type. It is
/// `'static`, though, so boxing it erases the difference.
fn box_responses_fn() -> TokenStream {
    quote! {
        fn box_responses<T, I>(
            responses: I,
        ) -> ::std::boxed::Box<
            dyn ::core::iter::Iterator<Item = ::core::result::Result<T, ::grpc_core::Status>>
                + ::core::marker::Send,
        >
        where
            I: ::core::iter::Iterator<Item = ::core::result::Result<T, ::grpc_core::Status>>
                + ::core::marker::Send
                + 'static,
        {
            ::std::boxed::Box::new(responses)
        }
    }
}
