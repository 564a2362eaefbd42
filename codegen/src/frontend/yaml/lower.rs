//! YAML tree -> [`SchemaDraft`]: checks the spec's shape (right kinds of values, known keys, no
//! duplicate keys) and nothing else; meaning is checked once, for every front-end, in
//! [`crate::validate`].

use crate::diagnostics::{Diagnostic, Diagnostics};
use crate::frontend::yaml::tree::{Node, NodeKind, Resolved};
use crate::model::draft::{EntityDraft, FieldDraft, IndexDraft, Literal, SchemaDraft};
use crate::source::{Span, Spanned};
use crate::spec_format::{self, Key};
use crate::suggest::did_you_mean;

/// Lowers a parsed document into a draft, recording every shape problem.
pub fn lower(root: &Node, diags: &mut Diagnostics) -> SchemaDraft {
    let mut draft = SchemaDraft {
        root: root.span,
        ..SchemaDraft::default()
    };
    let Some(top) = read_keys(root, "the spec", spec_format::TOP_KEYS, diags) else {
        return draft;
    };
    if let Some((_, node)) = top.get("offgen") {
        match node.scalar().map(|s| s.resolve()) {
            Some(Resolved::Int(v)) => draft.format = Some(Spanned::new(v, node.span)),
            _ => diags.push(expected(node, "the spec format version, e.g. `offgen: 1`")),
        }
    }
    if let Some((_, node)) = top.get("app") {
        draft.app = string(node, "the app's name", diags);
    }
    if let Some((_, node)) = top.get("migrate")
        && let Some(keys) = read_keys(node, "`migrate`", spec_format::MIGRATE_KEYS, diags)
    {
        if let Some((_, list)) = keys.get("drop") {
            draft.migrate_drop = field_list(list, diags);
        }
        if let Some((_, list)) = keys.get("retype") {
            draft.migrate_retype = field_list(list, diags);
        }
    }
    if let Some((_, node)) = top.get("clients")
        && let Some(keys) = read_keys(node, "`clients`", spec_format::CLIENTS_KEYS, diags)
        && let Some((_, step)) = keys.get("oldest_step")
    {
        match step.scalar().map(|s| s.resolve()) {
            Some(Resolved::Int(v)) => draft.oldest_client_step = Some(Spanned::new(v, step.span)),
            _ => diags.push(expected(
                step,
                "a schema step number, e.g. `oldest_step: 3`",
            )),
        }
    }
    if let Some((key_span, node)) = top.get("entities") {
        draft.entities_span = Some(key_span.to(node.span));
        for (name, definition) in named_entries(node, "the entities", diags) {
            if let Some(entity) = lower_entity(name, definition, diags) {
                draft.entities.push(entity);
            }
        }
    }
    draft
}

fn lower_entity(
    name: Spanned<String>,
    node: &Node,
    diags: &mut Diagnostics,
) -> Option<EntityDraft> {
    let what = format!("entity `{}`", name.value);
    let keys = read_keys(node, &what, spec_format::ENTITY_KEYS, diags)?;
    let mut entity = EntityDraft {
        name,
        table: None,
        conflict: None,
        conflict_by: None,
        conflict_clock: None,
        owner: None,
        doc: None,
        fields: Vec::new(),
        fields_span: None,
        fields_written: 0,
        indexes: Vec::new(),
        uniques: Vec::new(),
        renamed_from: None,
    };
    if let Some((key_span, fields)) = keys.get("fields") {
        entity.fields_span = Some(key_span.to(fields.span));
        let entries = named_entries(fields, "the fields", diags);
        entity.fields_written = entries.len();
        for (field_name, definition) in entries {
            if let Some(field) = lower_field(field_name, definition, diags) {
                entity.fields.push(field);
            }
        }
    }
    if let Some((_, node)) = keys.get("table") {
        entity.table = string(node, "a table name", diags);
    }
    if let Some((_, node)) = keys.get("owner") {
        entity.owner = string(node, "the name of the field holding the owner's id", diags);
    }
    if let Some((_, node)) = keys.get("doc") {
        entity.doc = string(node, "a description", diags).map(|s| s.value);
    }
    if let Some((_, node)) = keys.get("conflict") {
        lower_conflict(node, &mut entity, diags);
    }
    if let Some((_, node)) = keys.get("renamed_from") {
        entity.renamed_from = string(node, "the entity's previous name", diags);
    }
    if let Some((_, node)) = keys.get("indexes") {
        entity.indexes = lower_indexes(node, "indexes", diags);
    }
    if let Some((_, node)) = keys.get("uniques") {
        entity.uniques = lower_indexes(node, "uniques", diags);
    }
    Some(entity)
}

fn lower_conflict(node: &Node, entity: &mut EntityDraft, diags: &mut Diagnostics) {
    if let NodeKind::Map(_) = node.kind {
        let what = "the conflict policy";
        let Some(keys) = read_keys(node, what, spec_format::CONFLICT_KEYS, diags) else {
            return;
        };
        match keys.get("policy") {
            Some((_, policy)) => entity.conflict = string(policy, "a conflict policy", diags),
            None => diags.push(Diagnostic::error("the conflict policy has no `policy`").at(
                node.span,
                "add `policy: lww` (or version, server_wins, append_only)",
            )),
        }
        if let Some((_, by)) = keys.get("by") {
            entity.conflict_by = string(by, "the name of a datetime field", diags);
        }
        if let Some((_, clock)) = keys.get("clock") {
            entity.conflict_clock = string(clock, "device or received", diags);
        }
    } else {
        entity.conflict = string(node, "a conflict policy or { policy, clock }", diags);
    }
}

fn lower_field(name: Spanned<String>, node: &Node, diags: &mut Diagnostics) -> Option<FieldDraft> {
    let mut field = FieldDraft {
        span: name.span.to(node.span),
        name,
        ty: Spanned::new(String::new(), node.span),
        nullable: None,
        default: None,
        values: None,
        to: None,
        unique: None,
        doc: None,
        renamed_from: None,
    };
    match &node.kind {
        NodeKind::Scalar(_) => {
            let Some(ty) = node.as_str() else {
                diags.push(expected(
                    node,
                    "a type such as `text`, or a mapping with `type:`",
                ));
                return None;
            };
            set_type(&mut field, ty, node.span);
        }
        NodeKind::Map(_) => {
            let what = format!("field `{}`", field.name.value);
            let keys = read_keys(node, &what, spec_format::FIELD_KEYS, diags)?;
            match keys.get("type") {
                Some((_, ty)) => {
                    let Some(text) = ty.as_str() else {
                        diags.push(expected(ty, "a type name such as `text`"));
                        return None;
                    };
                    set_type(&mut field, text, ty.span);
                }
                None => {
                    diags.push(
                        Diagnostic::error(format!("field `{}` has no type", field.name.value)).at(
                            node.span,
                            "add `type:` (text, int, real, bool, datetime, ...)",
                        ),
                    );
                    return None;
                }
            }
            if let Some((_, v)) = keys.get("nullable")
                && let Some(nullable) = boolean(v, diags)
            {
                if let Some(question) = &field.nullable
                    && question.value != nullable.value
                {
                    diags.push(
                        Diagnostic::error("`?` after the type and `nullable: false` disagree")
                            .at(v.span, "says not nullable")
                            .also(question.span, "says nullable"),
                    );
                }
                field.nullable = Some(nullable);
            }
            if let Some((_, v)) = keys.get("unique") {
                field.unique = boolean(v, diags);
            }
            if let Some((_, v)) = keys.get("default") {
                field.default = Some(Spanned::new(literal(v), v.span));
            }
            if let Some((_, v)) = keys.get("to") {
                field.to = string(v, "the name of the referenced entity", diags);
            }
            if let Some((_, v)) = keys.get("doc") {
                field.doc = string(v, "a description", diags).map(|s| s.value);
            }
            if let Some((_, v)) = keys.get("values") {
                field.values = enum_values(v, diags);
            }
            if let Some((_, v)) = keys.get("renamed_from") {
                field.renamed_from = string(v, "the field's previous name", diags);
            }
        }
        NodeKind::Seq(_) => {
            diags.push(expected(
                node,
                "a type such as `text`, or a mapping with `type:`",
            ));
            return None;
        }
    }
    Some(field)
}

/// `text`, or `text?` for a nullable field.
fn set_type(field: &mut FieldDraft, written: &str, span: Span) {
    match written.strip_suffix('?') {
        Some(base) => {
            let question = Span::new(span.end.saturating_sub(1), span.end);
            field.ty = Spanned::new(
                base.trim().to_owned(),
                Span::new(span.start, question.start),
            );
            field.nullable = Some(Spanned::new(true, question));
        }
        None => field.ty = Spanned::new(written.trim().to_owned(), span),
    }
}

fn enum_values(node: &Node, diags: &mut Diagnostics) -> Option<Spanned<Vec<Spanned<String>>>> {
    let NodeKind::Seq(items) = &node.kind else {
        diags.push(expected(
            node,
            "a list of values, e.g. `values: [draft, final]`",
        ));
        return None;
    };
    let values = items
        .iter()
        .filter_map(|item| match item.scalar().map(|s| s.resolve()) {
            Some(Resolved::Str(s)) => Some(Spanned::new(s.to_owned(), item.span)),
            _ => {
                diags.push(expected(item, "an enum value (a word such as `draft`)"));
                None
            }
        })
        .collect();
    Some(Spanned::new(values, node.span))
}

fn lower_indexes(node: &Node, what: &str, diags: &mut Diagnostics) -> Vec<IndexDraft> {
    let NodeKind::Seq(items) = &node.kind else {
        diags.push(expected(
            node,
            &format!("a list of {what}, e.g. `{what}: [[recordedAt]]`"),
        ));
        return Vec::new();
    };
    let mut out = Vec::new();
    for item in items {
        let index = match &item.kind {
            NodeKind::Scalar(_) => string(item, "a field name", diags).map(|f| IndexDraft {
                fields: vec![f],
                name: None,
                span: item.span,
            }),
            NodeKind::Seq(_) => Some(IndexDraft {
                fields: field_list(item, diags),
                name: None,
                span: item.span,
            }),
            NodeKind::Map(_) => {
                read_keys(item, "the index", spec_format::INDEX_KEYS, diags).map(|keys| {
                    let fields = match keys.get("fields") {
                        Some((_, f)) if f.scalar().is_some() => {
                            string(f, "a field name", diags).into_iter().collect()
                        }
                        Some((_, f)) => field_list(f, diags),
                        None => {
                            diags.push(
                                Diagnostic::error("the index lists no `fields`")
                                    .at(item.span, "add `fields: [...]`"),
                            );
                            Vec::new()
                        }
                    };
                    let name = keys
                        .get("name")
                        .and_then(|(_, n)| string(n, "an index name", diags));
                    IndexDraft {
                        fields,
                        name,
                        span: item.span,
                    }
                })
            }
        };
        out.extend(index);
    }
    out
}

fn field_list(node: &Node, diags: &mut Diagnostics) -> Vec<Spanned<String>> {
    match &node.kind {
        NodeKind::Seq(items) => items
            .iter()
            .filter_map(|i| string(i, "a field name", diags))
            .collect(),
        _ => {
            diags.push(expected(node, "a list of field names"));
            Vec::new()
        }
    }
}

/// A mapping's entries by key, after checking that every key is known and appears once.
struct Keys<'n> {
    entries: Vec<(&'n str, Span, &'n Node)>,
}

impl<'n> Keys<'n> {
    fn get(&self, key: &str) -> Option<(Span, &'n Node)> {
        self.entries
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, span, node)| (*span, *node))
    }
}

fn read_keys<'n>(
    node: &'n Node,
    what: &str,
    allowed: &[Key],
    diags: &mut Diagnostics,
) -> Option<Keys<'n>> {
    let NodeKind::Map(entries) = &node.kind else {
        diags.push(expected(node, &format!("a mapping for {what}")));
        return None;
    };
    let mut keys = Keys {
        entries: Vec::new(),
    };
    for (key, value) in entries {
        let Some(name) = key.as_str() else {
            diags.push(expected(key, "a key name"));
            continue;
        };
        if let Some((_, first, _)) = keys.entries.iter().find(|(k, _, _)| *k == name) {
            diags.push(
                Diagnostic::error(format!("duplicate key `{name}` in {what}"))
                    .at(key.span, "written again here")
                    .also(*first, "first written here"),
            );
            continue;
        }
        if !allowed.iter().any(|k| k.name == name) {
            let names = spec_format::names(allowed);
            let mut d = Diagnostic::error(format!("unknown key `{name}` in {what}"))
                .at(key.span, "not a key offgen knows here");
            if let Some(hint) = did_you_mean(name, names.iter().copied()) {
                d = d.help(format!("did you mean `{hint}`?"));
            }
            diags.push(d.note(format!("keys allowed here: {}", names.join(", "))));
            continue;
        }
        keys.entries.push((name, key.span, value));
    }
    Some(keys)
}

/// The entries of a mapping whose keys are user-chosen names (entities, fields).
fn named_entries<'n>(
    node: &'n Node,
    what: &str,
    diags: &mut Diagnostics,
) -> Vec<(Spanned<String>, &'n Node)> {
    let NodeKind::Map(entries) = &node.kind else {
        diags.push(expected(node, &format!("a mapping of names for {what}")));
        return Vec::new();
    };
    let mut out: Vec<(Spanned<String>, &Node)> = Vec::new();
    // By name, so that a spec of many names is read in linear time.
    let mut first_at: std::collections::HashMap<String, Span> = std::collections::HashMap::new();
    for (key, value) in entries {
        let name = match key.scalar().map(|s| s.resolve()) {
            Some(Resolved::Str(s)) => s.to_owned(),
            // `true:` or `1:` as a name is a mistake, but say so with the name as written.
            Some(_) => key.scalar().map(|s| s.text.clone()).unwrap_or_default(),
            None => {
                diags.push(expected(key, "a name"));
                continue;
            }
        };
        if let Some(first) = first_at.get(&name) {
            diags.push(
                Diagnostic::error(format!("`{name}` is defined twice in {what}"))
                    .at(key.span, "defined again here")
                    .also(*first, "first defined here"),
            );
            continue;
        }
        first_at.insert(name.clone(), key.span);
        out.push((Spanned::new(name, key.span), value));
    }
    out
}

fn string(node: &Node, what: &str, diags: &mut Diagnostics) -> Option<Spanned<String>> {
    match node.scalar().map(|s| s.resolve()) {
        Some(Resolved::Str(s)) => Some(Spanned::new(s.to_owned(), node.span)),
        _ => {
            diags.push(expected(node, what));
            None
        }
    }
}

fn boolean(node: &Node, diags: &mut Diagnostics) -> Option<Spanned<bool>> {
    match node.scalar().map(|s| s.resolve()) {
        Some(Resolved::Bool(b)) => Some(Spanned::new(b, node.span)),
        Some(Resolved::Str("yes" | "no" | "on" | "off" | "y" | "n")) => {
            diags.push(
                expected(node, "true or false")
                    .help("YAML 1.2 reads yes/no/on/off as strings; write true or false"),
            );
            None
        }
        _ => {
            diags.push(expected(node, "true or false"));
            None
        }
    }
}

fn literal(node: &Node) -> Literal {
    match &node.kind {
        NodeKind::Scalar(s) => match s.resolve() {
            Resolved::Null => Literal::Null,
            Resolved::Bool(b) => Literal::Bool(b),
            Resolved::Int(i) => Literal::Int(i),
            Resolved::Float(f) => Literal::Float(f),
            Resolved::Str(t) => Literal::Str(t.to_owned()),
        },
        NodeKind::Seq(items) => Literal::List(items.iter().map(literal).collect()),
        NodeKind::Map(entries) => Literal::Map(
            entries
                .iter()
                .map(|(k, v)| {
                    (
                        k.scalar().map(|s| s.text.clone()).unwrap_or_default(),
                        literal(v),
                    )
                })
                .collect(),
        ),
    }
}

fn expected(node: &Node, what: &str) -> Diagnostic {
    Diagnostic::error(format!("expected {what}, found {}", node.describe()))
        .at(node.span, format!("this is {}", node.describe()))
}
