//! Which Rust types stand for which spec field types.
//!
//! Types are recognised by how they are written (the last segment of their path and its
//! generic argument), as a derive macro must: it runs before types are resolved. The table
//! below is the whole mapping; a new field type is one more row.

use syn::{GenericArgument, PathArguments, Type};

use crate::diagnostics::Diagnostic;
use crate::frontend::rust::spans::SpanMap;
use crate::suggest::did_you_mean;

/// One Rust type that maps to a spec field type.
#[derive(Clone, Copy, Debug)]
pub struct TypeMapping {
    /// The last segment of the type's path (`DateTime`).
    pub segment: &'static str,
    /// Its one generic argument, if it has one (`Utc`).
    pub argument: Option<&'static str>,
    /// The spec type it is (`datetime`).
    pub spec: &'static str,
    /// How docs and errors write it.
    pub written: &'static str,
}

const fn map(
    segment: &'static str,
    argument: Option<&'static str>,
    spec: &'static str,
    written: &'static str,
) -> TypeMapping {
    TypeMapping {
        segment,
        argument,
        spec,
        written,
    }
}

/// Every Rust type a field may have besides `Option<T>`, `Ref<Entity>` and an enum deriving
/// `SyncEnum`.
pub const TYPES: &[TypeMapping] = &[
    map("String", None, "text", "String"),
    map("i64", None, "int", "i64"),
    map("i32", None, "int", "i32"),
    map("f64", None, "real", "f64"),
    map("bool", None, "bool", "bool"),
    map("DateTime", Some("Utc"), "datetime", "chrono::DateTime<Utc>"),
    map("NaiveDate", None, "date", "chrono::NaiveDate"),
    map("Uuid", None, "uuid", "uuid::Uuid"),
    map("Value", None, "json", "serde_json::Value"),
    map("Vec", Some("u8"), "blob", "Vec<u8>"),
    map(
        "AttachmentRef",
        None,
        "attachment",
        "offgen_runtime::attachments::AttachmentRef",
    ),
];

/// The wrapper of a reference to another entity (`offgen_runtime::Ref<Ranger>`).
pub const REFERENCE: &str = "Ref";

/// How a field's type was written.
#[derive(Clone, Copy)]
pub enum Written<'t> {
    /// A type of [`TYPES`]: the spec type.
    Spec(&'static str),
    /// `Ref<T>`: a reference to the entity `T` (the path as written).
    Reference(&'t syn::Path),
    /// Any other plain path (`Status`): an enum deriving `SyncEnum`, or a mistake that only
    /// a look at the other items can tell.
    Named(&'t syn::Path),
}

/// A field's type: what it is and whether `Option` made it nullable.
#[derive(Clone, Copy)]
pub struct Classified<'t> {
    /// What the type is.
    pub written: Written<'t>,
    /// The `Option` that made the field nullable.
    pub nullable: Option<proc_macro2::Span>,
}

/// The last segment of a path, as text.
pub fn last_segment(path: &syn::Path) -> String {
    path.segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default()
}

fn single_argument(arguments: &PathArguments) -> Option<&Type> {
    let PathArguments::AngleBracketed(args) = arguments else {
        return None;
    };
    let mut types = args.args.iter().filter_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    });
    let first = types.next()?;
    (args.args.len() == 1).then_some(first)
}

fn type_path(ty: &Type) -> Option<&syn::Path> {
    match ty {
        Type::Path(p) if p.qself.is_none() => Some(&p.path),
        Type::Group(g) => type_path(&g.elem),
        Type::Paren(p) => type_path(&p.elem),
        _ => None,
    }
}

/// What a field's Rust type stands for, or why it stands for nothing offgen stores.
pub fn classify<'t>(ty: &'t Type, spans: &mut dyn SpanMap) -> Result<Classified<'t>, Diagnostic> {
    let unsupported = |spans: &mut dyn SpanMap, what: String, help: Option<String>| {
        let mut d = Diagnostic::error(format!("`{what}` is not a field type offgen can sync")).at(
            spans.span(syn::spanned::Spanned::span(ty)),
            "unsupported type",
        );
        if let Some(help) = help {
            d = d.help(help);
        }
        d.note(format!(
            "field types: {}, Option<T> (nullable), Ref<Entity> (a reference) and enums deriving SyncEnum",
            TYPES.iter().map(|t| t.written).collect::<Vec<_>>().join(", ")
        ))
    };
    let written_as = || {
        let mut text = quote::ToTokens::to_token_stream(ty).to_string();
        for (spaced, tight) in [
            ("& ", "&"),
            (" <", "<"),
            ("< ", "<"),
            (" >", ">"),
            (" ::", "::"),
            (":: ", "::"),
            (" ,", ","),
        ] {
            text = text.replace(spaced, tight);
        }
        text
    };
    let Some(path) = type_path(ty) else {
        let help = match ty {
            Type::Reference(_) => Some("a row owns its values: write `String` for text".to_owned()),
            _ => None,
        };
        return Err(unsupported(spans, written_as(), help));
    };
    let Some(last) = path.segments.last() else {
        return Err(unsupported(spans, written_as(), None));
    };
    let segment = last.ident.to_string();
    if segment == "Option" {
        let Some(inner) = single_argument(&last.arguments) else {
            return Err(unsupported(spans, written_as(), None));
        };
        let inner = classify(inner, spans)?;
        if inner.nullable.is_some() {
            return Err(unsupported(
                spans,
                written_as(),
                Some("a field is null or not: one `Option` is enough".to_owned()),
            ));
        }
        return Ok(Classified {
            nullable: Some(syn::spanned::Spanned::span(&last.ident)),
            ..inner
        });
    }
    if segment == REFERENCE {
        return match single_argument(&last.arguments).and_then(type_path) {
            Some(target) => Ok(Classified {
                written: Written::Reference(target),
                nullable: None,
            }),
            None => Err(unsupported(
                spans,
                written_as(),
                Some("a reference names the entity it points to: `Ref<Ranger>`".to_owned()),
            )),
        };
    }
    let argument = single_argument(&last.arguments)
        .and_then(type_path)
        .map(last_segment);
    let has_arguments = !matches!(last.arguments, PathArguments::None);
    if let Some(known) = TYPES
        .iter()
        .find(|t| t.segment == segment && t.argument.map(str::to_owned) == argument)
    {
        return Ok(Classified {
            written: Written::Spec(known.spec),
            nullable: None,
        });
    }
    if !has_arguments && !TYPES.iter().any(|t| t.segment == segment) && !is_primitive(&segment) {
        return Ok(Classified {
            written: Written::Named(path),
            nullable: None,
        });
    }
    let help = match segment.as_str() {
        "f32" => Some("use `f64` (real)".to_owned()),
        "i8" | "i16" | "u8" | "u16" | "u32" | "u64" | "i128" | "u128" | "isize" | "usize" => {
            Some("use `i64` or `i32` (int: a 64-bit signed integer)".to_owned())
        }
        "str" | "char" => Some("use `String` (text)".to_owned()),
        "Vec" => Some(
            "a list is not a field type: use `serde_json::Value` (json), or `Vec<u8>` for bytes"
                .to_owned(),
        ),
        "DateTime" => Some("use `DateTime<Utc>` (datetime)".to_owned()),
        _ => did_you_mean(&segment, TYPES.iter().map(|t| t.segment))
            .map(|hint| format!("did you mean `{hint}`?")),
    };
    Err(unsupported(spans, written_as(), help))
}

fn is_primitive(segment: &str) -> bool {
    matches!(
        segment,
        "f32"
            | "i8"
            | "i16"
            | "u8"
            | "u16"
            | "u32"
            | "u64"
            | "i128"
            | "u128"
            | "isize"
            | "usize"
            | "str"
            | "char"
    )
}
