//! Doc attributes for generated items.
//!
//! Every line of proto comment text goes through [`crate::docs::sanitize`]
//! here before it becomes a `#[doc]` attribute.

use proc_macro2::TokenStream;

use crate::docs;

/// Turns doc lines into sanitized `#[doc = "..."]` attributes.
pub(crate) fn doc_attrs<S: AsRef<str>>(lines: &[S]) -> TokenStream {
    docs::attrs(&docs::sanitize(lines))
}

/// The proto comments, then an empty doc line and the generated summary
/// line (or only the summary when there are no comments), then `notes`
/// (such as why an item was renamed) as paragraphs of their own.
pub(crate) fn with_summary(comments: &[String], summary: String, notes: &[&str]) -> Vec<String> {
    let mut lines = docs::sanitize(comments);
    if !lines.is_empty() {
        lines.push(String::new());
    }
    lines.push(summary);
    push_notes(&mut lines, notes);
    lines
}

/// The proto comments, or `fallback` when there are none, so every
/// generated item is documented; then `notes` as paragraphs of their own.
pub(crate) fn or_fallback(comments: &[String], fallback: String, notes: &[&str]) -> Vec<String> {
    let mut lines = docs::sanitize(comments);
    if lines.is_empty() {
        lines.push(fallback);
    }
    push_notes(&mut lines, notes);
    lines
}

/// Appends `notes` as paragraphs of their own, wrapped.
pub(crate) fn push_notes(lines: &mut Vec<String>, notes: &[&str]) {
    for note in notes {
        lines.push(String::new());
        lines.extend(wrap(note, 80));
    }
}

/// Breaks generated prose into lines of at most `width` characters (longer
/// words stay whole), each with the customary leading space.
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            lines.push(std::mem::take(&mut line));
        }
        line.push(' ');
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::*;

    #[test]
    fn one_attribute_per_line() {
        let tokens = doc_attrs(&[" first", " second", ""]);
        let expected = quote! {
            #[doc = " first"]
            #[doc = " second"]
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
    fn summaries_fallbacks_and_notes() {
        let none: Vec<String> = vec![];
        let some = vec![" Hi.".to_owned()];
        assert_eq!(with_summary(&none, " S.".into(), &[]), [" S."]);
        assert_eq!(with_summary(&some, " S.".into(), &[]), [" Hi.", "", " S."]);
        assert_eq!(or_fallback(&none, " F.".into(), &[]), [" F."]);
        assert_eq!(
            or_fallback(&some, " F.".into(), &[" N."]),
            [" Hi.", "", " N."]
        );
    }

    #[test]
    fn notes_are_wrapped() {
        assert_eq!(wrap(" aaa bbb ccc", 8), [" aaa bbb", " ccc"]);
        assert_eq!(wrap("toolongword x", 4), [" toolongword", " x"]);
    }

    #[test]
    fn indented_comments_do_not_turn_summaries_into_code() {
        let deep = vec!["       deep".to_owned()];
        assert_eq!(with_summary(&deep, " S.".into(), &[]), [" deep", "", " S."]);
    }
}
