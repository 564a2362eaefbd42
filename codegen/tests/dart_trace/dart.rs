//! The generated Dart client's steps, read with tree-sitter from lib/src/sync_*.dart.

use std::collections::{BTreeMap, HashMap, HashSet};

use tree_sitter::{Node, Tree};

use super::{Step, camel, normalize};

/// The methods of the generated classes, by (class, method), over their parsed sources.
pub struct Source<'s> {
    files: Vec<(&'s str, Tree)>,
    methods: HashMap<(String, String), (usize, usize, usize)>,
}

fn text<'a>(node: Node, source: &'a str) -> &'a str {
    &source[node.byte_range()]
}

fn named(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.named_children(&mut cursor).collect()
}

fn children(node: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = node.walk();
    node.children(&mut cursor).collect()
}

impl<'s> Source<'s> {
    /// Parses the files and indexes the methods of their classes.
    pub fn parse(texts: &[&'s str]) -> Source<'s> {
        let mut files = Vec::new();
        let mut methods = HashMap::new();
        for (index, text) in texts.iter().enumerate() {
            let tree = crate::support::drift::parse(text);
            let mut classes = Vec::new();
            crate::support::drift::find_all(tree.root_node(), "class_declaration", &mut classes);
            for class in classes {
                let class_name = text_of(class.child_by_field_name("name").unwrap(), text);
                let mut declarations = Vec::new();
                crate::support::drift::find_all(class, "method_declaration", &mut declarations);
                for method in declarations {
                    let signature = method.child_by_field_name("signature").unwrap();
                    let mut names = Vec::new();
                    crate::support::drift::find_all(signature, "function_signature", &mut names);
                    crate::support::drift::find_all(signature, "getter_signature", &mut names);
                    let Some(sig) = names.first() else { continue };
                    let name = text_of(sig.child_by_field_name("name").unwrap(), text);
                    methods.insert(
                        (class_name.clone(), name),
                        (index, method.start_byte(), method.end_byte()),
                    );
                }
            }
            files.push((*text, tree));
        }
        Source { files, methods }
    }

    fn method(&self, class: &str, name: &str) -> Option<(&'s str, Node<'_>)> {
        let (file, start, end) = *self.methods.get(&(class.to_owned(), name.to_owned()))?;
        let (text, tree) = &self.files[file];
        let node = tree
            .root_node()
            .descendant_for_byte_range(start, end)
            .filter(|n| n.kind() == "method_declaration")?;
        Some((text, node))
    }

    /// Whether `class` has `name`.
    pub fn has(&self, class: &str, name: &str) -> bool {
        self.methods
            .contains_key(&(class.to_owned(), name.to_owned()))
    }

    /// The source of `class.name`.
    pub fn method_text(&self, class: &str, name: &str) -> Option<&'s str> {
        self.method(class, name).map(|(t, n)| &t[n.byte_range()])
    }

    /// The steps of `class.name`, calls into the classes' methods followed.
    pub fn steps(&self, class: &str, name: &str) -> Vec<Step> {
        let (source, method) = self
            .method(class, name)
            .unwrap_or_else(|| panic!("no method {class}.{name}"));
        let mut reader = Reader {
            source: self,
            text: source,
            class: class.to_owned(),
            depth: 0,
            mutable: HashSet::new(),
            locals: HashSet::new(),
            strings: BTreeMap::new(),
            types: BTreeMap::new(),
        };
        normalize(reader.body(method.child_by_field_name("body").unwrap()))
    }
}

fn text_of(node: Node, source: &str) -> String {
    text(node, source).to_owned()
}

/// The classes the client is made of (the Dart side of [`class_of`]).
const CLIENT_CLASSES: [&str; 4] = ["SyncClient", "_Run", "SyncDevice", "_FileRun"];

/// The Dart class of each Rust type the client is made of.
pub fn class_of(rust_type: &str) -> &'static str {
    match rust_type {
        "SyncClient" => "SyncClient",
        "Run" => "_Run",
        "Device" => "SyncDevice",
        "FileRun" => "_FileRun",
        other => panic!("no Dart class for {other}"),
    }
}

struct Reader<'a, 's> {
    source: &'a Source<'s>,
    text: &'s str,
    class: String,
    depth: usize,
    mutable: HashSet<String>,
    /// Every local of the method read (an `add` to one is a change of it).
    locals: HashSet<String>,
    strings: BTreeMap<String, String>,
    /// Locals made by a constructor of the client's classes (`final run = _FileRun(..)`).
    types: BTreeMap<String, String>,
}

impl<'s> Reader<'_, 's> {
    /// A function body: a block, or `=> expression`. A `return` as the last statement is the
    /// function's value, not an early exit.
    fn body(&mut self, body: Node) -> Vec<Step> {
        let block = named(body).into_iter().find(|n| n.kind() == "block");
        match block {
            Some(block) => {
                let statements = named(block);
                let mut out = Vec::new();
                for (i, statement) in statements.iter().enumerate() {
                    if i + 1 == statements.len() && statement.kind() == "return_statement" {
                        for value in named(*statement) {
                            out.extend(self.node(value));
                        }
                    } else {
                        out.extend(self.node(*statement));
                    }
                }
                out
            }
            None => named(body).into_iter().flat_map(|n| self.node(n)).collect(),
        }
    }

    fn t(&self, node: Node) -> &'s str {
        text(node, self.text)
    }

    fn class_of_receiver(&self, receiver: Option<Node>) -> Option<String> {
        let Some(receiver) = receiver else {
            return Some(self.class.clone()); // `this.x()`
        };
        match receiver.kind() {
            "this" => Some(self.class.clone()),
            "identifier" if self.types.contains_key(self.t(receiver)) => {
                self.types.get(self.t(receiver)).cloned()
            }
            "identifier" => match self.t(receiver) {
                "device" => Some("SyncDevice".to_owned()),
                "run" => Some("_Run".to_owned()),
                _ => None,
            },
            "member_expression" => {
                let property = receiver.child_by_field_name("property")?;
                match self.t(property) {
                    "device" => Some("SyncDevice".to_owned()),
                    "transport" => Some("Transport".to_owned()),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn node(&mut self, node: Node) -> Vec<Step> {
        match node.kind() {
            "block" => named(node).into_iter().flat_map(|n| self.node(n)).collect(),
            "local_variable_declaration" => {
                let declaration = self.t(node);
                let mutable =
                    !declaration.starts_with("final") && !declaration.starts_with("const");
                let mut out = Vec::new();
                for variable in named(node) {
                    let (Some(name), value) = (
                        variable.child_by_field_name("name"),
                        variable.child_by_field_name("value"),
                    ) else {
                        continue;
                    };
                    let name = self.t(name).to_owned();
                    self.locals.insert(name.clone());
                    if mutable {
                        self.mutable.insert(name.clone());
                    }
                    if let Some(value) = value {
                        if value.kind() == "call_expression"
                            && let Some(function) = value.child_by_field_name("function")
                            && function.kind() == "identifier"
                            && CLIENT_CLASSES.contains(&self.t(function))
                        {
                            self.types.insert(name.clone(), self.t(function).to_owned());
                        }
                        if value.kind() == "string_literal" {
                            self.strings.insert(name, self.template_text(value));
                        }
                        out.extend(self.node(value));
                    }
                }
                out
            }
            "if_statement" => {
                let condition = node.child_by_field_name("condition").unwrap();
                let mut out = self.node(condition);
                let then = node
                    .child_by_field_name("consequence")
                    .map(|n| self.node(n))
                    .unwrap_or_default();
                let otherwise = node
                    .child_by_field_name("alternative")
                    .map(|n| self.node(n))
                    .unwrap_or_default();
                out.push(Step::If(self.label(condition), then, otherwise));
                out
            }
            "while_statement" => {
                let condition = node.child_by_field_name("condition").unwrap();
                assert_eq!(
                    self.t(condition),
                    "(true)",
                    "only `while (true)` loops are read"
                );
                let body = node.child_by_field_name("body").unwrap();
                vec![Step::Loop(self.node(body))]
            }
            "for_statement" => {
                let mut out = node
                    .child_by_field_name("value")
                    .map(|n| self.node(n))
                    .unwrap_or_default();
                let body = node.child_by_field_name("body").unwrap();
                out.push(Step::Each(self.node(body)));
                out
            }
            "try_statement" => {
                let body = node.child_by_field_name("body").unwrap();
                let mut out = self.node(body);
                for child in named(node) {
                    if child.id() == body.id() {
                        continue;
                    }
                    match child.kind() {
                        "block" => out.push(Step::OnError(self.node(child))),
                        "finally_clause" => {
                            for block in named(child) {
                                out.extend(self.node(block));
                            }
                        }
                        _ => {}
                    }
                }
                out
            }
            "return_statement" => {
                let mut out: Vec<Step> =
                    named(node).into_iter().flat_map(|n| self.node(n)).collect();
                out.push(Step::Return);
                out
            }
            "throw_expression" => {
                let value = node.child_by_field_name("value").unwrap();
                let mut out = self.node(value);
                out.push(Step::Fail(self.fail_kind(value)));
                out
            }
            "assignment_expression" => {
                let left = node.child_by_field_name("left").unwrap();
                let right = node.child_by_field_name("right").unwrap();
                let mut out = self.node(right);
                let target = self.label(left);
                if target.starts_with("report.") || self.mutable.contains(&target) {
                    out.push(Step::Set(target));
                }
                out
            }
            "call_expression" => self.call(node),
            // Closures given to library calls touch neither the database nor the wire.
            "function_expression" => Vec::new(),
            _ => named(node).into_iter().flat_map(|n| self.node(n)).collect(),
        }
    }

    fn call(&mut self, node: Node) -> Vec<Step> {
        let function = node.child_by_field_name("function").unwrap();
        let arguments: Vec<Node> = node
            .child_by_field_name("arguments")
            .map(named)
            .unwrap_or_default()
            .into_iter()
            .map(|a| {
                if a.kind() == "named_argument" {
                    named(a).pop().unwrap()
                } else {
                    a
                }
            })
            .collect();
        let (receiver, name) = match function.kind() {
            "identifier" => (None, self.t(function).to_owned()),
            "member_expression" => (
                function.child_by_field_name("object"),
                self.t(function.child_by_field_name("property").unwrap())
                    .to_owned(),
            ),
            _ => {
                let mut out = self.node(function);
                for a in &arguments {
                    out.extend(self.node(*a));
                }
                return out;
            }
        };
        let mut out = receiver.map(|r| self.node(r)).unwrap_or_default();
        let class = if function.kind() == "identifier" && !self.source.has(&self.class, &name) {
            None // a top-level function
        } else {
            self.class_of_receiver(receiver)
        };
        let bare = camel(&name);
        match (class.as_deref(), bare.as_str()) {
            (Some("SyncDevice"), "execute" | "query") => {
                out.push(self.statement(&arguments));
                return out;
            }
            (Some("SyncDevice"), "executePulledRow") => {
                out.push(super::rust::pulled_row());
                return out;
            }
            (Some("_Run"), "inTransaction") => {
                let closure = arguments
                    .first()
                    .filter(|a| a.kind() == "function_expression")
                    .expect("inTransaction takes a closure");
                let body = closure.child_by_field_name("body").unwrap();
                out.push(Step::Txn(self.body(body)));
                return out;
            }
            (Some("_Run"), "send") => {
                out.push(self.http(&arguments));
                return out;
            }
            // The attachment loop's request: built here, handed to the transport by the caller.
            (Some("_FileRun"), "build") => {
                out.push(self.http(&arguments));
                return out;
            }
            (Some("Transport"), how) => {
                for a in &arguments {
                    out.extend(self.node(*a));
                }
                out.push(Step::Transport(how.to_owned()));
                return out;
            }
            // Files on the device (dart:io's File).
            (_, "delete" | "rename") if receiver.is_some() => {
                for a in &arguments {
                    out.extend(self.node(*a));
                }
                out.push(Step::File(bare.clone()));
                return out;
            }
            _ => {}
        }
        if let Some(object) = receiver
            && bare == "token"
            && self.t(object) == "client"
        {
            out.push(Step::Token);
            return out;
        }
        for a in &arguments {
            out.extend(self.node(*a));
        }
        // `held.add(x)`: the local list changes.
        if name == "add"
            && let Some(object) = receiver
            && object.kind() == "identifier"
            && self.locals.contains(self.t(object))
        {
            out.push(Step::Set(self.t(object).to_owned()));
        }
        if let Some(class) = class
            && self.source.has(&class, &name)
        {
            out.extend(self.inline(&class, &name));
        }
        out
    }

    fn inline(&mut self, class: &str, name: &str) -> Vec<Step> {
        assert!(self.depth < 16, "calls nest too deep at {class}.{name}");
        let (text, method) = self.source.method(class, name).unwrap();
        let saved = (
            std::mem::replace(&mut self.class, class.to_owned()),
            std::mem::replace(&mut self.text, text),
            std::mem::take(&mut self.mutable),
            std::mem::take(&mut self.locals),
            std::mem::take(&mut self.strings),
        );
        self.depth += 1;
        let steps = self.body(method.child_by_field_name("body").unwrap());
        self.depth -= 1;
        (
            self.class,
            self.text,
            self.mutable,
            self.locals,
            self.strings,
        ) = saved;
        steps
    }

    /// `device._execute(SyncSql.x, {'p': v, ...})` as a step.
    fn statement(&self, arguments: &[Node]) -> Step {
        let first = arguments
            .first()
            .expect("a statement call names its statement");
        let name = first
            .child_by_field_name("property")
            .filter(|_| first.kind() == "member_expression")
            .map(|p| self.t(p).to_owned())
            .unwrap_or_else(|| panic!("not a SyncSql statement: {}", self.t(*first)));
        let mut params = Vec::new();
        if let Some(map) = arguments.get(1) {
            let mut elements = Vec::new();
            crate::support::drift::find_all(*map, "map_element", &mut elements);
            for element in elements {
                let key = element.child_by_field_name("key").unwrap();
                params.push(crate::support::drift::string_value(key, self.text));
            }
        }
        Step::Sql(name, params)
    }

    fn http(&self, arguments: &[Node]) -> Step {
        let method = arguments
            .first()
            .filter(|a| a.kind() == "string_literal")
            .map(|a| self.template_text(*a))
            .expect("send's method is a string");
        let path = match arguments.get(1) {
            Some(a) if a.kind() == "string_literal" => self.template_text(*a),
            Some(a) if a.kind() == "identifier" => self
                .strings
                .get(self.t(*a))
                .cloned()
                .unwrap_or_else(|| panic!("send's path `{}` is no string", self.t(*a))),
            other => panic!("send's path: {:?}", other.map(|a| self.t(*a))),
        };
        Step::Http(method, path)
    }

    /// A string literal's text, its interpolations left empty.
    fn template_text(&self, literal: Node) -> String {
        let mut parts = Vec::new();
        crate::support::drift::find_all(literal, "template_chars_single_single", &mut parts);
        crate::support::drift::find_all(literal, "template_chars_single", &mut parts);
        parts.sort_by_key(|p| p.start_byte());
        parts.iter().map(|p| self.t(*p)).collect()
    }

    /// The kind a `throw` raises: `SyncErrorKind.x` in it, or the function building it.
    fn fail_kind(&self, value: Node) -> String {
        let mut members = Vec::new();
        crate::support::drift::find_all(value, "member_expression", &mut members);
        for member in members {
            if let Some(object) = member.child_by_field_name("object")
                && self.t(object) == "SyncErrorKind"
            {
                return self
                    .t(member.child_by_field_name("property").unwrap())
                    .to_owned();
            }
        }
        if value.kind() == "call_expression" {
            let function = value.child_by_field_name("function").unwrap();
            // `AttachmentException(..)` raises `attachment`.
            if let Some(kind) = self.t(function).strip_suffix("Exception") {
                let mut chars = kind.chars();
                if let Some(first) = chars.next() {
                    return first.to_lowercase().chain(chars).collect();
                }
            }
            return camel(self.t(function));
        }
        panic!("a throw of unknown kind: {}", self.t(value))
    }

    /// A condition in the spelling both readers share (see the Rust reader's `label`).
    fn label(&self, node: Node) -> String {
        match node.kind() {
            "identifier" => camel(self.t(node)),
            "member_expression" | "assignable_expression"
                if node.child_by_field_name("property").is_some() =>
            {
                let property = camel(self.t(node.child_by_field_name("property").unwrap()));
                match node
                    .child_by_field_name("object")
                    .filter(|o| o.kind() != "this")
                {
                    Some(object) => format!("{}.{property}", self.label(object)),
                    None => property,
                }
            }
            "call_expression" => {
                let function = node.child_by_field_name("function").unwrap();
                if function.kind() == "identifier"
                    && !self.source.has(&self.class, self.t(function))
                {
                    // A top-level function, with its arguments.
                    let args: Vec<String> = node
                        .child_by_field_name("arguments")
                        .map(named)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|a| self.label(a))
                        .collect();
                    format!("{}({})", camel(self.t(function)), args.join(", "))
                } else {
                    self.label(function)
                }
            }
            "parenthesized_expression" | "await_expression" | "assignable_expression" => {
                named(node)
                    .first()
                    .map(|n| self.label(*n))
                    .unwrap_or_default()
            }
            "unary_expression" => {
                let parts = named(node);
                match parts.as_slice() {
                    [op, operand] if op.kind() == "negation_operator" => {
                        format!("!{}", self.label(*operand))
                    }
                    [operand] => self.label(*operand),
                    _ => self.t(node).to_owned(),
                }
            }
            "string_literal" => format!("'{}'", self.template_text(node)),
            "decimal_integer_literal" | "null_literal" | "true" | "false" => {
                self.t(node).to_owned()
            }
            kind if kind.ends_with("_expression") => children(node)
                .into_iter()
                .map(|c| {
                    if c.is_named() && !c.kind().ends_with("_operator") {
                        self.label(c)
                    } else {
                        self.t(c).to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => self.t(node).to_owned(),
        }
    }
}
