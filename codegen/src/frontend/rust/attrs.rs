//! `#[syncable(...)]` attributes: the keys each item may carry, read with syn's nested-meta
//! parser. An unknown key is reported with a suggestion and skipped, so one typo does not hide
//! the rest of the attribute.

use proc_macro2::TokenStream;
use syn::meta::ParseNestedMeta;
use syn::{Expr, Lit, UnOp};

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::frontend::rust::spans::SpanMap;
use crate::model::draft::Literal;
use crate::source::Spanned;
use crate::spec_format::Key;
use crate::suggest::did_you_mean;

/// The attribute's name.
pub const ATTRIBUTE: &str = "syncable";

const fn key(name: &'static str, doc: &'static str) -> Key {
    Key { name, doc }
}

/// Keys of `#[syncable(...)]` on a struct deriving `Syncable`.
pub const ENTITY_KEYS: &[Key] = &[
    key(
        "table",
        "SQL table name (and URL segment). Default: the struct's name in snake_case, plural.",
    ),
    key(
        "conflict",
        "version (default), lww, server_wins or append_only.",
    ),
    key(
        "clock",
        "For lww: device (default) or received: what orders the writes.",
    ),
    key(
        "owner",
        "The field holding the owning user's id: each user pulls and writes only their rows.",
    ),
    key(
        "index",
        "An index over fields, in order: `index(ranger, recorded_at)`, optionally `name = \"...\"`.",
    ),
    key(
        "unique",
        "A unique constraint over fields: `unique(sector, name)`, optionally `name = \"...\"`.",
    ),
    key(
        "renamed_from",
        "The entity's previous name: the next migration renames its table.",
    ),
];

/// Keys of `#[syncable(...)]` on a field.
pub const FIELD_KEYS: &[Key] = &[
    key(
        "default",
        "Value used when a row is created without this field.",
    ),
    key("unique", "No two rows may hold the same value."),
    key(
        "renamed_from",
        "The field's previous name: the next migration renames its column.",
    ),
    key(
        "values",
        "Makes a `String` field an enum of these values: `values(draft, final)`.",
    ),
];

/// Keys of `#[syncable(...)]` on a variant of an enum deriving `SyncEnum`.
pub const VARIANT_KEYS: &[Key] = &[key(
    "rename",
    "The value as stored and sent. Default: the variant's name in lowerCamelCase.",
)];

/// Keys of `#[syncable(...)]` on the struct deriving `SyncApp`.
pub const APP_KEYS: &[Key] = &[
    key(
        "app",
        "The app's name: names the Dart database class and the generated files.",
    ),
    key(
        "entities",
        "The structs deriving Syncable, in order: `entities(Ranger, Observation)`.",
    ),
    key(
        "build",
        "Where `offgen build --rust` writes, from the crate's root. Default: generated.",
    ),
    key(
        "oldest_step",
        "The oldest schema step whose apps the server still serves.",
    ),
    key(
        "drop",
        "Entities (`\"Note\"`) or fields (`\"Note.color\"`) removed with their data.",
    ),
    key(
        "retype",
        "Fields (`\"Note.stars\"`) whose type changed in a way that can lose values.",
    ),
];

/// Calls `handle` with each known key of every `#[syncable(...)]` in `attrs`, reporting
/// unknown and repeated keys and syntax errors. `repeatable` keys may be given more than once.
pub fn each_key(
    attrs: &[syn::Attribute],
    allowed: &[Key],
    repeatable: &[&str],
    what: &str,
    spans: &mut dyn SpanMap,
    diags: &mut Diagnostics,
    mut handle: impl FnMut(
        &str,
        &ParseNestedMeta,
        &mut dyn SpanMap,
        &mut Diagnostics,
    ) -> syn::Result<()>,
) {
    let mut seen: Vec<(String, proc_macro2::Span)> = Vec::new();
    for attr in attrs.iter().filter(|a| a.path().is_ident(ATTRIBUTE)) {
        let result = attr.parse_nested_meta(|meta| {
            let name = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_else(|| quote::ToTokens::to_token_stream(&meta.path).to_string());
            let span = syn::spanned::Spanned::span(&meta.path);
            if !allowed.iter().any(|k| k.name == name) {
                let names: Vec<&str> = allowed.iter().map(|k| k.name).collect();
                let mut d = Diagnostic::error(format!("unknown key `{name}` in {what}"))
                    .at(spans.span(span), "not a key offgen knows here");
                if let Some(hint) = did_you_mean(&name, names.iter().copied()) {
                    d = d.help(format!("did you mean `{hint}`?"));
                }
                diags.push(d.note(format!("keys allowed here: {}", names.join(", "))));
                return skip_value(&meta);
            }
            if !repeatable.contains(&name.as_str()) {
                if let Some((_, first)) = seen.iter().find(|(n, _)| *n == name) {
                    diags.push(
                        Diagnostic::error(format!("duplicate key `{name}` in {what}"))
                            .at(spans.span(span), "written again here")
                            .also(spans.span(*first), "first written here"),
                    );
                    return skip_value(&meta);
                }
                seen.push((name.clone(), span));
            }
            handle(&name, &meta, spans, diags)
        });
        if let Err(e) = result {
            diags.push(syntax_error(&e, spans));
        }
    }
}

/// A syn parse error as a diagnostic at its token.
pub fn syntax_error(error: &syn::Error, spans: &mut dyn SpanMap) -> Diagnostic {
    Diagnostic::error(error.to_string()).at(spans.span(error.span()), "here")
}

fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(syn::Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

/// `key = "text"`.
pub fn string(meta: &ParseNestedMeta, spans: &mut dyn SpanMap) -> syn::Result<Spanned<String>> {
    let lit: syn::LitStr = meta.value()?.parse()?;
    Ok(Spanned::new(lit.value(), spans.span(lit.span())))
}

/// `key = word` or `key = "word"`.
pub fn word(meta: &ParseNestedMeta, spans: &mut dyn SpanMap) -> syn::Result<Spanned<String>> {
    let expr: Expr = meta.value()?.parse()?;
    match &expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(Spanned::new(s.value(), spans.span(s.span()))),
        Expr::Path(p) if p.path.get_ident().is_some() => {
            let ident = p.path.get_ident().map(unraw).unwrap_or_default();
            Ok(Spanned::new(
                ident,
                spans.span(syn::spanned::Spanned::span(p)),
            ))
        }
        other => Err(syn::Error::new_spanned(other, "expected a name")),
    }
}

/// `key = 3`.
pub fn integer(meta: &ParseNestedMeta, spans: &mut dyn SpanMap) -> syn::Result<Spanned<i64>> {
    let lit: syn::LitInt = meta.value()?.parse()?;
    Ok(Spanned::new(lit.base10_parse()?, spans.span(lit.span())))
}

/// `key = <literal>`: a string, number or boolean, as a spec's `default:` holds it.
pub fn literal(meta: &ParseNestedMeta, spans: &mut dyn SpanMap) -> syn::Result<Spanned<Literal>> {
    let expr: Expr = meta.value()?.parse()?;
    let span = spans.span(syn::spanned::Spanned::span(&expr));
    let value = match &expr {
        Expr::Lit(lit) => lit_value(&lit.lit, false)?,
        Expr::Unary(unary) if matches!(unary.op, UnOp::Neg(_)) => match &*unary.expr {
            Expr::Lit(lit) => lit_value(&lit.lit, true)?,
            other => return Err(syn::Error::new_spanned(other, "expected a number")),
        },
        other => {
            return Err(syn::Error::new_spanned(
                other,
                "expected a literal: a string, a number, true or false",
            ));
        }
    };
    Ok(Spanned::new(value, span))
}

fn lit_value(lit: &Lit, negative: bool) -> syn::Result<Literal> {
    let sign = if negative { "-" } else { "" };
    match lit {
        Lit::Str(s) if !negative => Ok(Literal::Str(s.value())),
        Lit::Bool(b) if !negative => Ok(Literal::Bool(b.value)),
        Lit::Int(i) => format!("{sign}{}", i.base10_digits())
            .parse()
            .map(Literal::Int)
            .map_err(|_| syn::Error::new_spanned(i, "this integer does not fit in 64 bits")),
        Lit::Float(f) => format!("{sign}{}", f.base10_digits())
            .parse()
            .map(Literal::Float)
            .map_err(|_| syn::Error::new_spanned(f, "expected a number")),
        other => Err(syn::Error::new_spanned(
            other,
            "expected a literal: a string, a number, true or false",
        )),
    }
}

/// `key(a, b, ...)`: words or strings, in order.
pub fn list(meta: &ParseNestedMeta, spans: &mut dyn SpanMap) -> syn::Result<Vec<Spanned<String>>> {
    let mut out = Vec::new();
    meta.parse_nested_meta(|item| {
        if let Some(ident) = item.path.get_ident() {
            out.push(Spanned::new(unraw(ident), spans.span(ident.span())));
            Ok(())
        } else {
            Err(item.error("expected a name"))
        }
    })?;
    Ok(out)
}

/// `key(A, path::B)`: type paths, in order.
pub fn paths(meta: &ParseNestedMeta) -> syn::Result<Vec<syn::Path>> {
    let mut out = Vec::new();
    meta.parse_nested_meta(|item| {
        out.push(item.path.clone());
        Ok(())
    })?;
    Ok(out)
}

/// `key("a", "b")`: string literals, in order.
pub fn strings(
    meta: &ParseNestedMeta,
    spans: &mut dyn SpanMap,
) -> syn::Result<Vec<Spanned<String>>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let items =
        content.parse_terminated(<syn::LitStr as syn::parse::Parse>::parse, syn::Token![,])?;
    Ok(items
        .iter()
        .map(|s| Spanned::new(s.value(), spans.span(s.span())))
        .collect())
}

/// An identifier as written, without `r#`.
pub fn unraw(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
}

/// The text of `///` comments, one line each, trimmed and joined by spaces (a spec's `doc`
/// is one paragraph).
pub fn doc(attrs: &[syn::Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value().trim().to_owned()),
                _ => None,
            },
            _ => None,
        })
        .filter(|line| !line.is_empty())
        .collect();
    (!lines.is_empty()).then(|| lines.join(" "))
}
