//! The client stub (`GreeterStub`).

use proc_macro2::TokenStream;
use quote::quote;

use super::deprecated_attr;
use super::docs::{doc_attrs, or_fallback, with_summary};
use super::{Resolved, ResolvedMethod};
use crate::ir::CallKind;

/// The stub struct and its impl block.
pub(super) fn tokens(service: &Resolved<'_>) -> TokenStream {
    let full_name = service.ir.full_name();
    let stub = &service.stub;
    let notes: Vec<&str> = service.rename_note("stub").into_iter().collect();
    let doc = doc_attrs(&with_summary(
        &service.ir.comments,
        format!(" Client stub for `{full_name}`."),
        &notes,
    ));
    let (deprecated, allow_deprecated) = if service.ir.deprecated {
        (quote!(#[deprecated]), quote!(#[allow(deprecated)]))
    } else {
        (TokenStream::new(), TokenStream::new())
    };
    let methods = service.methods.iter().map(|m| method(service, m));
    // Without methods nothing reads the channel.
    let allow_unused_channel = if service.methods.is_empty() {
        quote!(#[allow(dead_code)])
    } else {
        TokenStream::new()
    };
    quote! {
        #doc
        #deprecated
        #[derive(Clone, Debug)]
        pub struct #stub<C = ::grpc_core::ProstCodec> {
            #allow_unused_channel
            channel: ::grpc_core::Channel,
            #allow_unused_channel
            codec: C,
        }

        #allow_deprecated
        impl #stub {
            /// Creates a stub that issues calls on `channel`, with protobuf
            /// messages.
            pub fn new(channel: ::grpc_core::Channel) -> Self {
                Self { channel, codec: ::grpc_core::ProstCodec }
            }
        }

        #allow_deprecated
        impl<C: ::grpc_core::Codec> #stub<C> {
            /// The same stub with its messages in `codec`'s format, sent as
            /// `application/grpc+<name>` (e.g. `grpc_core::JsonCodec`).
            pub fn with_codec<D: ::grpc_core::Codec>(self, codec: D) -> #stub<D> {
                #stub { channel: self.channel, codec }
            }

            #(#methods)*
        }
    }
}

fn method(service: &Resolved<'_>, method: &ResolvedMethod<'_>) -> TokenStream {
    let notes: Vec<&str> = method.rename_note.as_deref().into_iter().collect();
    let doc = doc_attrs(&or_fallback(
        &method.ir.comments,
        format!(" Calls `{}`.", method.ir.path(service.ir)),
        &notes,
    ));
    let deprecated = deprecated_attr(method.ir.deprecated);
    let call = match method.ir.kind() {
        CallKind::UnaryUnary => quote!(::grpc_core::UnaryUnary),
        CallKind::UnaryStream => quote!(::grpc_core::UnaryStream),
        CallKind::StreamUnary => quote!(::grpc_core::StreamUnary),
        CallKind::StreamStream => quote!(::grpc_core::StreamStream),
    };
    let ident = &method.ident;
    let input = &method.input;
    let output = &method.output;
    let module = &service.paths_module;
    let path_const = &method.path_const;
    quote! {
        #doc
        #deprecated
        pub fn #ident(&self) -> #call<#input, #output, C> {
            #call::new(self.channel.clone(), #module::#path_const).with_codec(self.codec.clone())
        }
    }
}
