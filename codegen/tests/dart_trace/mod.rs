//! What a sync loop does, read from source code: the order of sync.sql statements, HTTP
//! requests, transactions, loops, branches on the answer, assignments to the report and to
//! mutable locals, and the ways out (return, and the kind of each error raised). Read from the
//! Rust reference client with syn and from the generated Dart with tree-sitter, into one
//! shape, so the two can be compared line for line.
//!
//! Both readers follow calls into the methods of the client, its run and its device (as the
//! code runs them), treat `send` as one HTTP request and `in_transaction` as a transaction
//! around its closure, and leave out what has no effect on the database or the wire (local
//! computations, closures passed to library calls). Errors that only propagate (`?`, a Dart
//! exception going up) are not steps; errors raised on purpose are.
#![allow(dead_code)]

pub mod dart;
pub mod rust;

use std::fmt::Write;

/// One thing a loop does.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A statement of sync.sql (camelCase name) with the parameter names it binds.
    Sql(String, Vec<String>),
    /// An HTTP request: method and path with the values of its query left out.
    Http(String, String),
    /// An assignment to the report (`report.pushed`) or to a mutable local (`limit`).
    Set(String),
    /// A transaction around the steps.
    Txn(Vec<Step>),
    /// `loop` / `while (true)`.
    Loop(Vec<Step>),
    /// `for x in xs`.
    Each(Vec<Step>),
    /// A branch on a condition, in a normal spelling (`response.status == 413`).
    If(String, Vec<Step>, Vec<Step>),
    /// What happens when the call before it fails (a `match` arm `Err(e)`, a `catch`).
    OnError(Vec<Step>),
    /// Leaves the function early.
    Return,
    /// Raises an error of this kind (`busy`, `transport`, `refused`, `protocol`).
    Fail(String),
    /// Asks the token provider.
    Token,
    /// Hands a request to the transport: `send`, or a file's `upload` or `download`.
    Transport(String),
    /// Deletes (`delete`) or renames (`rename`) a file on the device.
    File(String),
}

/// `snake_case` as `camelCase`; Dart's library-private `_` dropped.
pub fn camel(name: &str) -> String {
    let name = name.trim_start_matches('_');
    let mut out = String::new();
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn negate(condition: &str) -> String {
    match condition.strip_prefix('!') {
        Some(rest) => rest.to_owned(),
        None => format!("!{condition}"),
    }
}

/// Drops what does nothing, and spells `if c {} else {x}` as `if !c {x}`.
pub fn normalize(steps: Vec<Step>) -> Vec<Step> {
    let mut out = Vec::new();
    for step in steps {
        match step {
            Step::Txn(s) => {
                let s = normalize(s);
                if !s.is_empty() {
                    out.push(Step::Txn(s));
                }
            }
            Step::Loop(s) => {
                let s = normalize(s);
                if !s.is_empty() {
                    out.push(Step::Loop(s));
                }
            }
            Step::Each(s) => {
                let s = normalize(s);
                if !s.is_empty() {
                    out.push(Step::Each(s));
                }
            }
            Step::OnError(s) => {
                let s = normalize(s);
                if !s.is_empty() {
                    out.push(Step::OnError(s));
                }
            }
            Step::If(c, then, otherwise) => {
                let then = normalize(then);
                let otherwise = normalize(otherwise);
                match (then.is_empty(), otherwise.is_empty()) {
                    (true, true) => {}
                    (true, false) => out.push(Step::If(negate(&c), otherwise, Vec::new())),
                    _ => out.push(Step::If(c, then, otherwise)),
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// One line per step, nested steps indented: what the tests compare and print.
pub fn render(steps: &[Step]) -> String {
    fn go(steps: &[Step], depth: usize, out: &mut String) {
        let pad = "  ".repeat(depth);
        for step in steps {
            match step {
                Step::Sql(name, params) => {
                    let _ = writeln!(out, "{pad}sql {name}({})", params.join(", "));
                }
                Step::Http(method, path) => {
                    let _ = writeln!(out, "{pad}http {method} {path}");
                }
                Step::Set(target) => {
                    let _ = writeln!(out, "{pad}set {target}");
                }
                Step::Txn(s) => {
                    let _ = writeln!(out, "{pad}transaction");
                    go(s, depth + 1, out);
                }
                Step::Loop(s) => {
                    let _ = writeln!(out, "{pad}loop");
                    go(s, depth + 1, out);
                }
                Step::Each(s) => {
                    let _ = writeln!(out, "{pad}for each");
                    go(s, depth + 1, out);
                }
                Step::If(c, then, otherwise) => {
                    let _ = writeln!(out, "{pad}if {c}");
                    go(then, depth + 1, out);
                    if !otherwise.is_empty() {
                        let _ = writeln!(out, "{pad}else");
                        go(otherwise, depth + 1, out);
                    }
                }
                Step::OnError(s) => {
                    let _ = writeln!(out, "{pad}on error");
                    go(s, depth + 1, out);
                }
                Step::Return => {
                    let _ = writeln!(out, "{pad}return");
                }
                Step::Fail(kind) => {
                    let _ = writeln!(out, "{pad}fail {kind}");
                }
                Step::Token => {
                    let _ = writeln!(out, "{pad}token");
                }
                Step::Transport(how) => {
                    let _ = writeln!(out, "{pad}transport {how}");
                }
                Step::File(op) => {
                    let _ = writeln!(out, "{pad}file {op}");
                }
            }
        }
    }
    let mut out = String::new();
    go(steps, 0, &mut out);
    out
}

/// Every statement step, with its parameters, anywhere in `steps`.
pub fn statements(steps: &[Step], out: &mut Vec<(String, Vec<String>)>) {
    for step in steps {
        match step {
            Step::Sql(name, params) => out.push((name.clone(), params.clone())),
            Step::Txn(s) | Step::Loop(s) | Step::Each(s) | Step::OnError(s) => statements(s, out),
            Step::If(_, a, b) => {
                statements(a, out);
                statements(b, out);
            }
            _ => {}
        }
    }
}
