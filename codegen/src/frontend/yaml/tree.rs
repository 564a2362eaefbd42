//! A YAML document as a tree of nodes that remember where they were written.
//!
//! saphyr-parser reports every event with its span; we assemble those into [`Node`]s so that the
//! lowering step can point at any key or value, not only at syntax errors.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YamlSpan, SpannedEventReceiver};

use crate::diagnostics::Diagnostic;
use crate::source::{SourceFile, Span};

/// Specs larger than this are refused before parsing: a spec is a page or two of YAML, and an
/// unbounded input would let a stray file exhaust memory in CI.
pub const MAX_SPEC_BYTES: usize = 1024 * 1024;

/// Deeper nesting than this is refused: no spec needs it, and it bounds recursion.
const MAX_DEPTH: usize = 32;

/// Most nodes that aliases may copy in one spec. An alias is a copy of its anchor's node, so
/// anchors of aliases of anchors grow tenfold a line ("billion laughs"): without a budget a
/// few hundred bytes of YAML would take minutes and gigabytes to read. A spec shares a few
/// small blocks at most.
const MAX_ALIAS_NODES: usize = 10_000;

/// One YAML node.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// What the node is.
    pub kind: NodeKind,
    /// Where it was written.
    pub span: Span,
}

impl Node {
    /// How many nodes this one holds, itself included.
    fn count(&self) -> usize {
        1 + match &self.kind {
            NodeKind::Scalar(_) => 0,
            NodeKind::Seq(items) => items.iter().map(Node::count).sum(),
            NodeKind::Map(entries) => entries.iter().map(|(k, v)| k.count() + v.count()).sum(),
        }
    }
}

/// The three kinds of YAML node.
#[derive(Clone, Debug, PartialEq)]
pub enum NodeKind {
    /// A scalar with its text and whether it was quoted.
    Scalar(Scalar),
    /// A sequence (`[a, b]` or `- a`).
    Seq(Vec<Node>),
    /// A mapping, in source order, duplicates kept (the lowering reports them).
    Map(Vec<(Node, Node)>),
}

/// A scalar's text. Typing follows the YAML 1.2 core schema, see [`Scalar::resolve`].
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    /// The text after unquoting.
    pub text: String,
    /// Quoted and block scalars are always strings.
    pub plain: bool,
}

/// A scalar typed by the YAML 1.2 core schema.
#[derive(Clone, Debug, PartialEq)]
pub enum Resolved<'a> {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// Anything else.
    Str(&'a str),
}

impl Scalar {
    /// Types the scalar as YAML 1.2 does (so `yes` and `on` are strings, not booleans).
    pub fn resolve(&self) -> Resolved<'_> {
        if !self.plain {
            return Resolved::Str(&self.text);
        }
        let t = self.text.as_str();
        match t {
            "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
            "true" | "True" | "TRUE" => return Resolved::Bool(true),
            "false" | "False" | "FALSE" => return Resolved::Bool(false),
            ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
                return Resolved::Float(f64::INFINITY);
            }
            "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
            ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
            _ => {}
        }
        if let Some(hex) = t.strip_prefix("0x") {
            return i64::from_str_radix(hex, 16).map_or(Resolved::Str(t), Resolved::Int);
        }
        if let Some(oct) = t.strip_prefix("0o") {
            return i64::from_str_radix(oct, 8).map_or(Resolved::Str(t), Resolved::Int);
        }
        let digits = t.strip_prefix(['-', '+']).unwrap_or(t);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return t.parse().map_or(Resolved::Str(t), Resolved::Int);
        }
        if looks_like_float(digits) {
            return t.parse().map_or(Resolved::Str(t), Resolved::Float);
        }
        Resolved::Str(t)
    }
}

/// `[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?` or `\.[0-9]+(...)`, the core schema's float.
fn looks_like_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let (int_part, frac_part) = match mantissa.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (mantissa, None),
    };
    let all_digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match frac_part {
        Some(f) => all_digits(int_part) && all_digits(f) && !(int_part.is_empty() && f.is_empty()),
        None => !int_part.is_empty() && all_digits(int_part),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok && (frac_part.is_some() || exponent.is_some())
}

impl Node {
    /// The scalar, if this is one.
    pub fn scalar(&self) -> Option<&Scalar> {
        match &self.kind {
            NodeKind::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The text of a scalar that resolves to a string (or a plain word such as `text`).
    pub fn as_str(&self) -> Option<&str> {
        match self.scalar()?.resolve() {
            Resolved::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The user-facing name of what this node is, for "expected X, found Y" messages.
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
            NodeKind::Scalar(s) => match s.resolve() {
                Resolved::Null => "nothing (null)",
                Resolved::Bool(_) => "a boolean",
                Resolved::Int(_) => "an integer",
                Resolved::Float(_) => "a number",
                Resolved::Str(_) => "a string",
            },
        }
    }
}

/// Parses one YAML document. Anchors and aliases are resolved (an alias becomes a copy of its
/// anchored node); more than one document is refused, since only the first would be read.
pub fn parse(file: &SourceFile) -> Result<Node, Diagnostic> {
    if file.text.len() > MAX_SPEC_BYTES {
        return Err(Diagnostic::error(format!(
            "the spec is {} bytes; offgen reads specs of at most {} bytes",
            file.text.len(),
            MAX_SPEC_BYTES
        ))
        .at(Span::new(0, 0), "this file"));
    }
    let offsets = CharOffsets::new(&file.text);
    let mut builder = Builder {
        offsets: &offsets,
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        documents: Vec::new(),
        document_starts: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new_from_str(&file.text);
    if let Err(e) = parser.load(&mut builder, true) {
        let at = offsets.byte(e.marker().index());
        return Err(
            Diagnostic::error(format!("invalid YAML: {}", e.info())).at(Span::new(at, at), "here")
        );
    }
    if let Some(error) = builder.error {
        return Err(error);
    }
    let mut documents = builder.documents.into_iter();
    let first = documents.next().ok_or_else(|| {
        Diagnostic::error("the spec is empty").at(Span::new(0, 0), "expected `offgen: 1`")
    })?;
    if let Some(second) = documents.next() {
        let at = builder
            .document_starts
            .get(1)
            .copied()
            .unwrap_or(second.span);
        return Err(
            Diagnostic::error("the spec holds more than one YAML document")
                .at(at, "a second document starts here")
                .help("keep the whole spec in one document; remove the `---` separator"),
        );
    }
    Ok(first)
}

/// Byte offsets of character indexes (saphyr counts characters, Rust strings count bytes).
struct CharOffsets {
    bytes: Vec<usize>,
}

impl CharOffsets {
    fn new(text: &str) -> CharOffsets {
        let mut bytes: Vec<usize> = text.char_indices().map(|(b, _)| b).collect();
        bytes.push(text.len());
        CharOffsets { bytes }
    }

    fn byte(&self, char_index: usize) -> usize {
        self.bytes
            .get(char_index)
            .copied()
            .unwrap_or_else(|| *self.bytes.last().unwrap_or(&0))
    }

    fn span(&self, span: YamlSpan) -> Span {
        Span::new(self.byte(span.start.index()), self.byte(span.end.index()))
    }
}

enum Open {
    Seq {
        items: Vec<Node>,
        start: usize,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        pending_key: Option<Node>,
        start: usize,
        anchor: usize,
    },
}

struct Builder<'o> {
    offsets: &'o CharOffsets,
    stack: Vec<Open>,
    /// Each anchor's node and how many nodes it holds.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes copied by aliases so far (see [`MAX_ALIAS_NODES`]).
    alias_nodes: usize,
    documents: Vec<Node>,
    document_starts: Vec<Span>,
    error: Option<Diagnostic>,
}

impl Builder<'_> {
    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), node.count()));
        }
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map {
                entries,
                pending_key,
                ..
            }) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }

    fn open(&mut self, open: Open, span: Span) {
        if self.stack.len() >= MAX_DEPTH && self.error.is_none() {
            self.error = Some(
                Diagnostic::error(format!("the spec nests deeper than {MAX_DEPTH} levels"))
                    .at(span, "too deep"),
            );
        }
        self.stack.push(open);
    }
}

impl<'input> SpannedEventReceiver<'input> for Builder<'_> {
    fn on_event(&mut self, event: Event<'input>, span: YamlSpan) {
        let span = self.offsets.span(span);
        match event {
            Event::Scalar(text, style, anchor, _tag) => {
                let plain = matches!(style, ScalarStyle::Plain);
                let node = Node {
                    kind: NodeKind::Scalar(Scalar {
                        text: text.into_owned(),
                        plain,
                    }),
                    span,
                };
                self.finish(node, anchor);
            }
            Event::SequenceStart(anchor, _) => self.open(
                Open::Seq {
                    items: Vec::new(),
                    start: span.start,
                    anchor,
                },
                span,
            ),
            Event::MappingStart(anchor, _) => self.open(
                Open::Map {
                    entries: Vec::new(),
                    pending_key: None,
                    start: span.start,
                    anchor,
                },
                span,
            ),
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(open) = self.stack.pop() else { return };
                // A block collection "ends" where the next token starts, often lines later;
                // end the node's span at its last child instead so carets stay on the text.
                let (kind, start, anchor, last_end) = match open {
                    Open::Seq {
                        items,
                        start,
                        anchor,
                    } => {
                        let last = items.last().map(|n| n.span.end);
                        (NodeKind::Seq(items), start, anchor, last)
                    }
                    Open::Map {
                        entries,
                        start,
                        anchor,
                        ..
                    } => {
                        let last = entries.last().map(|(_, v)| v.span.end);
                        (NodeKind::Map(entries), start, anchor, last)
                    }
                };
                let flow_end = span.end;
                let end = match last_end {
                    Some(last) if flow_end > last + 1 || flow_end < last => last,
                    _ => flow_end.max(start),
                };
                self.finish(
                    Node {
                        kind,
                        span: Span::new(start, end),
                    },
                    anchor,
                );
            }
            Event::Alias(anchor) => match self.anchors.get(&anchor) {
                Some((_, count)) if self.alias_nodes + count > MAX_ALIAS_NODES => {
                    if self.error.is_none() {
                        self.error = Some(
                            Diagnostic::error(format!(
                                "the spec's aliases expand to more than {MAX_ALIAS_NODES} nodes"
                            ))
                            .at(span, "this alias copies its anchor past the limit")
                            .help("write the shared part out, or share fewer and smaller blocks"),
                        );
                    }
                }
                Some((node, count)) => {
                    self.alias_nodes += count;
                    let mut node = node.clone();
                    node.span = span;
                    self.finish(node, 0);
                }
                None => {
                    if self.error.is_none() {
                        self.error =
                            Some(Diagnostic::error("alias to an unknown anchor").at(span, "here"));
                    }
                }
            },
            Event::DocumentStart(_) => self.document_starts.push(span),
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Node, Diagnostic> {
        parse(&SourceFile::new("t.yaml", text))
    }

    #[test]
    fn scalars_follow_the_yaml_1_2_core_schema() {
        let cases: &[(&str, Resolved<'static>)] = &[
            ("true", Resolved::Bool(true)),
            ("False", Resolved::Bool(false)),
            ("yes", Resolved::Str("yes")),
            ("~", Resolved::Null),
            ("", Resolved::Null),
            ("42", Resolved::Int(42)),
            ("-7", Resolved::Int(-7)),
            ("0x1f", Resolved::Int(31)),
            ("1.5", Resolved::Float(1.5)),
            ("1e3", Resolved::Float(1000.0)),
            (".5", Resolved::Float(0.5)),
            ("1.2.3", Resolved::Str("1.2.3")),
            ("2024-01-01", Resolved::Str("2024-01-01")),
        ];
        for (text, expected) in cases {
            let scalar = Scalar {
                text: (*text).to_owned(),
                plain: true,
            };
            assert_eq!(&scalar.resolve(), expected, "{text:?}");
        }
        let quoted = Scalar {
            text: "true".into(),
            plain: false,
        };
        assert_eq!(quoted.resolve(), Resolved::Str("true"));
    }

    #[test]
    fn nodes_carry_byte_spans_of_their_text() {
        let text = "a: héllo\nb: [1, 2]\n";
        let root = parse_str(text).unwrap();
        let NodeKind::Map(entries) = root.kind else {
            panic!("not a map")
        };
        let (_, hello) = &entries[0];
        assert_eq!(&text[hello.span.start..hello.span.end], "héllo");
        let (_, list) = &entries[1];
        assert_eq!(&text[list.span.start..list.span.end], "[1, 2]");
    }

    #[test]
    fn aliases_copy_their_anchor() {
        let root = parse_str("a: &x {t: 1}\nb: *x\n").unwrap();
        let NodeKind::Map(entries) = root.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].1.kind, entries[1].1.kind);
    }

    #[test]
    fn syntax_errors_and_extra_documents_are_reported() {
        assert!(parse_str("a: [1, 2\nb: 3\n").is_err());
        let err = parse_str("a: 1\n---\nb: 2\n").unwrap_err();
        assert!(err.message.contains("more than one YAML document"));
        assert!(parse_str("").is_err());
    }

    #[test]
    fn aliases_of_aliases_cannot_blow_the_spec_up() {
        // Six lines, a million nodes once expanded ("billion laughs"): refused at the alias
        // that passes the budget, at once.
        let mut text = String::from("x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
        for level in 1..7 {
            let aliases = vec![format!("*x{}", level - 1); 10].join(", ");
            text.push_str(&format!("x{level}: &x{level} [{aliases}]\n"));
        }
        let started = std::time::Instant::now();
        let err = parse_str(&text).unwrap_err();
        assert!(err.message.contains("aliases expand"), "{}", err.message);
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // A few shared blocks are fine.
        assert!(parse_str("a: &a {type: text}\nb: *a\nc: *a\n").is_ok());
    }
}
