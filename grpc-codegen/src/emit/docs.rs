//! Doc attributes for generated items.

use proc_macro2::TokenStream;
use quote::quote;

/// Turns comment lines into `#[doc = "..."]` attributes, one per line.
///
/// This is the single place where proto comment text enters generated code,
/// so any escaping or cleanup of comment text belongs here. Today it:
/// - adds the customary single leading space to lines that lack one, so the
///   formatted output reads `/// text`;
/// - drops carriage returns, which rustc rejects inside `///` comments (the
///   form prettyplease prints doc attributes in).
///
/// The text is otherwise passed through verbatim.
pub(crate) fn doc_attrs<S: AsRef<str>>(lines: &[S]) -> TokenStream {
    lines
        .iter()
        .map(|line| {
            let text = doc_text(line.as_ref());
            quote!(#[doc = #text])
        })
        .collect()
}

/// Comment lines followed by a generated summary line, separated by an
/// empty doc line when there are comments.
pub(crate) fn with_summary(comments: &[String], summary: String) -> Vec<String> {
    let mut lines = comments.to_vec();
    if !lines.is_empty() {
        lines.push(String::new());
    }
    lines.push(summary);
    lines
}

/// The comment lines, or `fallback` when there are none, so every generated
/// item is documented.
pub(crate) fn or_fallback(comments: &[String], fallback: String) -> Vec<String> {
    if comments.is_empty() {
        vec![fallback]
    } else {
        comments.to_vec()
    }
}

fn doc_text(line: &str) -> String {
    let line: String = line.chars().filter(|&c| c != '\r').collect();
    if line.is_empty() || line.starts_with(' ') {
        line
    } else {
        format!(" {line}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_attribute_per_line() {
        let tokens = doc_attrs(&[" first", "second", ""]);
        let expected = quote! {
            #[doc = " first"]
            #[doc = " second"]
            #[doc = ""]
        };
        assert_eq!(tokens.to_string(), expected.to_string());
    }

    #[test]
    fn quotes_and_backslashes_survive() {
        let tokens = doc_attrs(&[r#" say "hi" \ */ /*"#]);
        let attr: syn::Attribute = syn::parse_quote!(#tokens);
        let syn::Meta::NameValue(meta) = attr.meta else {
            panic!("not a name-value attribute");
        };
        let syn::Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(text),
            ..
        }) = meta.value
        else {
            panic!("not a string");
        };
        assert_eq!(text.value(), r#" say "hi" \ */ /*"#);
    }

    #[test]
    fn carriage_returns_are_dropped() {
        assert_eq!(doc_text(" a\rb\r"), " ab");
    }

    #[test]
    fn summaries_and_fallbacks() {
        let none: Vec<String> = vec![];
        let some = vec![" Hi.".to_owned()];
        assert_eq!(with_summary(&none, " S.".into()), [" S."]);
        assert_eq!(with_summary(&some, " S.".into()), [" Hi.", "", " S."]);
        assert_eq!(or_fallback(&none, " F.".into()), [" F."]);
        assert_eq!(or_fallback(&some, " F.".into()), [" Hi."]);
    }
}
