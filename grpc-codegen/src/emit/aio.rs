//! The async servicer trait (`AsyncGreeterServicer`) and its registration
//! function (`add_async_greeter_servicer_to_server`).
//!
//! Trait methods are declared as `fn m(&self, ..) -> impl Future<Output = ..>
//! + Send`, so implementors write `async fn m(&self, ..)` (no
//! `async_trait`), and the registration function can require the futures to
//! be `Send` for the server's multi-thread runtime.

use proc_macro2::TokenStream;
use quote::quote;

use super::server::{HandlerFace, MethodParts, method_parts, servicer_trait_tokens};
use super::{Resolved, ResolvedMethod};
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
        &service.async_servicer,
        "async_servicer",
        format!(
            " Async server-side trait for `{full_name}`: implement the methods with \
             `async fn`; every method defaults to `UNIMPLEMENTED`."
        ),
        servicer_method,
    )
}

fn servicer_method(method: &ResolvedMethod<'_>) -> TokenStream {
    let MethodParts {
        doc,
        deprecated,
        request,
        request_type,
        item,
        unimplemented,
    } = method_parts(method, HandlerFace::Async);
    let ident = &method.ident;
    let output = &method.output;
    let (ok_type, default_error) = if method.ir.server_streaming {
        (
            quote! {
                impl ::grpc_core::Stream<Item = #item> + ::core::marker::Send + 'static
            },
            quote! {
                ::core::result::Result::Err::<
                    ::core::pin::Pin<
                        ::std::boxed::Box<
                            dyn ::grpc_core::Stream<Item = #item> + ::core::marker::Send,
                        >,
                    >,
                    _,
                >(#unimplemented)
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
        ) -> impl ::core::future::Future<
            Output = ::core::result::Result<#ok_type, ::grpc_core::Status>,
        > + ::core::marker::Send {
            let _ = (#request, context);
            ::core::future::ready(#default_error)
        }
    }
}

fn add_function(service: &Resolved<'_>) -> TokenStream {
    let full_name = service.ir.full_name();
    super::server::add_servicer_fn(
        service,
        super::server::AddFn {
            servicer: &service.async_servicer,
            add_fn: &service.async_add_fn,
            doc_lines: vec![
                format!(" Registers the async `servicer` on `server` under `{full_name}`."),
                String::new(),
                " Its handlers run as tasks on the server's runtime, next to any blocking"
                    .to_owned(),
                " servicers of the same server (which run on its worker pool).".to_owned(),
            ],
            rename_key: "async_add",
            registration,
            box_fn: box_stream_fn,
        },
    )
}

fn registration(method: &ResolvedMethod<'_>) -> TokenStream {
    let register = match method.ir.kind() {
        CallKind::UnaryUnary => quote!(unary_unary_async),
        CallKind::UnaryStream => quote!(unary_stream_async),
        CallKind::StreamUnary => quote!(stream_unary_async),
        CallKind::StreamStream => quote!(stream_stream_async),
    };
    let request = if method.ir.client_streaming {
        quote!(requests)
    } else {
        quote!(request)
    };
    let ident = &method.ident;
    let proto_name = &method.ir.proto_name;
    let call = quote!(s.#ident(#request, &context).await);
    let result = if method.ir.server_streaming {
        quote!(#call.map(box_stream))
    } else {
        call
    };
    quote! {
        let s = ::std::sync::Arc::clone(&servicer);
        service.#register(#proto_name, move |#request, context| {
            let s = ::std::sync::Arc::clone(&s);
            async move { #result }
        });
    }
}

/// A function-local helper for server-streaming handlers.
///
/// The servicer's `impl Stream` type captures the call's argument lifetimes
/// (edition 2024 capture rules), so it is a different type for every call
/// and cannot be a handler's single response-stream type. It is `'static`,
/// though, so boxing it erases the difference (one allocation per RPC).
fn box_stream_fn() -> TokenStream {
    quote! {
        fn box_stream<T, R>(
            responses: R,
        ) -> ::core::pin::Pin<
            ::std::boxed::Box<
                dyn ::grpc_core::Stream<Item = ::core::result::Result<T, ::grpc_core::Status>>
                    + ::core::marker::Send,
            >,
        >
        where
            R: ::grpc_core::Stream<Item = ::core::result::Result<T, ::grpc_core::Status>>
                + ::core::marker::Send
                + 'static,
        {
            ::std::boxed::Box::pin(responses)
        }
    }
}
