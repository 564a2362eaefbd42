//! The Rust reference client's steps, read with syn from runtime/src/client/{sync,device}.rs.

use std::collections::{BTreeMap, HashMap, HashSet};

use quote::ToTokens;
use syn::{BinOp, Expr, ImplItem, ImplItemFn, Item, Lit, Pat, Stmt, UnOp};

use super::{Step, camel, normalize};

/// The methods of the client's types, by (type, method).
pub struct Source {
    methods: HashMap<(String, String), ImplItemFn>,
}

impl Source {
    /// Reads the `impl` blocks of the files' texts.
    pub fn parse(texts: &[&str]) -> Source {
        let mut methods = HashMap::new();
        for text in texts {
            let file = syn::parse_file(text).expect("the client's source parses");
            for item in file.items {
                let Item::Impl(block) = item else { continue };
                if block.trait_.is_some() {
                    continue;
                }
                let ty = block.self_ty.to_token_stream().to_string();
                let ty = ty.split_whitespace().next().unwrap_or("").to_owned();
                for item in block.items {
                    if let ImplItem::Fn(f) = item {
                        methods.insert((ty.clone(), f.sig.ident.to_string()), f);
                    }
                }
            }
        }
        Source { methods }
    }

    /// The steps of `ty::method`, calls into the client's methods followed.
    pub fn steps(&self, ty: &str, method: &str) -> Vec<Step> {
        let f = self
            .methods
            .get(&(ty.to_owned(), method.to_owned()))
            .unwrap_or_else(|| panic!("no method {ty}::{method}"));
        let mut reader = Reader {
            source: self,
            ty: ty.to_owned(),
            depth: 0,
            mutable: HashSet::new(),
            locals: HashSet::new(),
            strings: BTreeMap::new(),
            types: BTreeMap::new(),
        };
        normalize(reader.block(&f.block.stmts))
    }

    /// Whether `ty` has `method`.
    pub fn has(&self, ty: &str, method: &str) -> bool {
        self.methods
            .contains_key(&(ty.to_owned(), method.to_owned()))
    }
}

struct Reader<'s> {
    source: &'s Source,
    ty: String,
    depth: usize,
    mutable: HashSet<String>,
    /// Every local of the method read (a `push` onto one is a change of it).
    locals: HashSet<String>,
    strings: BTreeMap<String, String>,
    /// Locals made as a struct of the client (`let run = FileRun { .. }`), by name.
    types: BTreeMap<String, String>,
}

impl Reader<'_> {
    fn block(&mut self, stmts: &[Stmt]) -> Vec<Step> {
        let mut out = Vec::new();
        for stmt in stmts {
            match stmt {
                Stmt::Local(local) => {
                    let pat = match &local.pat {
                        Pat::Type(t) => &*t.pat,
                        other => other,
                    };
                    if let Pat::Ident(p) = pat {
                        self.locals.insert(p.ident.to_string());
                        if p.mutability.is_some() {
                            self.mutable.insert(p.ident.to_string());
                        }
                    }
                    if let Some(init) = &local.init {
                        if let (Pat::Ident(p), Expr::Struct(s)) = (pat, &*init.expr)
                            && let Some(ty) = s.path.get_ident()
                        {
                            self.types.insert(p.ident.to_string(), ty.to_string());
                        }
                        if let (Pat::Ident(p), Expr::Macro(m)) = (&local.pat, &*init.expr)
                            && let Some(text) = format_string(&m.mac.tokens)
                        {
                            self.strings.insert(p.ident.to_string(), text);
                        }
                        out.extend(self.expr(&init.expr));
                        // `let Some(x) = y else { return }` is `if y == null { return }`.
                        if let Some((_, diverge)) = &init.diverge {
                            let condition = format!("{} == null", label(&init.expr));
                            out.push(Step::If(condition, self.expr(diverge), Vec::new()));
                        }
                    }
                }
                Stmt::Expr(e, _) => out.extend(self.expr(e)),
                Stmt::Item(_) | Stmt::Macro(_) => {}
            }
        }
        out
    }

    /// The type a receiver expression stands for.
    fn receiver_type(&self, receiver: &Expr) -> Option<String> {
        if let Expr::Path(p) = receiver
            && let Some(ty) = p
                .path
                .get_ident()
                .and_then(|i| self.types.get(&i.to_string()))
        {
            return Some(ty.clone());
        }
        match receiver {
            Expr::Path(p) if p.path.is_ident("self") => Some(self.ty.clone()),
            Expr::Path(p) if p.path.is_ident("device") => Some("Device".to_owned()),
            Expr::Path(p) if p.path.is_ident("run") => Some("Run".to_owned()),
            Expr::Field(f) => match &f.member {
                syn::Member::Named(name) if name == "device" => Some("Device".to_owned()),
                syn::Member::Named(name) if name == "transport" => Some("Transport".to_owned()),
                _ => None,
            },
            Expr::Reference(r) => self.receiver_type(&r.expr),
            Expr::Paren(p) => self.receiver_type(&p.expr),
            _ => None,
        }
    }

    fn expr(&mut self, e: &Expr) -> Vec<Step> {
        match e {
            Expr::MethodCall(call) => {
                let method = call.method.to_string();
                let ty = self.receiver_type(&call.receiver);
                let mut out = self.expr(&call.receiver);
                match (ty.as_deref(), method.as_str()) {
                    (Some("Device"), "execute" | "query") => {
                        out.push(statement(&call.args));
                        return out;
                    }
                    (Some("Device"), "execute_pulled_row") => {
                        out.push(pulled_row());
                        return out;
                    }
                    (Some("Run"), "in_transaction") => {
                        let Some(Expr::Closure(c)) = call.args.first() else {
                            panic!("in_transaction without a closure")
                        };
                        out.push(Step::Txn(self.expr(&c.body)));
                        return out;
                    }
                    (Some("Run"), "send") => {
                        out.push(self.http(&call.args));
                        return out;
                    }
                    // A request sent ahead (its first argument the thread scope).
                    (Some("Run"), "send_ahead") => {
                        let args: syn::punctuated::Punctuated<Expr, syn::Token![,]> =
                            call.args.iter().skip(1).cloned().collect();
                        out.push(self.http(&args));
                        return out;
                    }
                    // The attachment loop's request: built here, handed to the transport by
                    // the caller (`send`, `upload` or `download`).
                    (Some("FileRun"), "build") => {
                        out.push(self.http(&call.args));
                        return out;
                    }
                    (Some("Transport"), how) => {
                        for arg in &call.args {
                            out.extend(self.expr(arg));
                        }
                        out.push(Step::Transport(how.to_owned()));
                        return out;
                    }
                    _ => {}
                }
                for arg in &call.args {
                    out.extend(self.expr(arg));
                }
                // `held.push(x)`: the local list changes.
                if method == "push"
                    && let Expr::Path(p) = &*call.receiver
                    && let Some(name) = p.path.get_ident()
                    && self.locals.contains(&name.to_string())
                {
                    out.push(Step::Set(camel(&name.to_string())));
                }
                if let Some(ty) = ty
                    && self.source.has(&ty, &method)
                {
                    out.extend(self.inline(&ty, &method));
                }
                out
            }
            Expr::Call(call) => {
                let mut out = Vec::new();
                // `std::thread::scope(|scope| body)`: the body runs here, in order.
                if let Expr::Path(p) = &*call.func
                    && p.path.segments.last().is_some_and(|s| s.ident == "scope")
                    && let Some(Expr::Closure(c)) = call.args.first()
                {
                    return self.expr(&c.body);
                }
                // Files on the device: deleted or renamed.
                if let Expr::Path(p) = &*call.func
                    && let Some(op) =
                        p.path
                            .segments
                            .last()
                            .and_then(|s| match s.ident.to_string().as_str() {
                                "remove_file" => Some("delete"),
                                "rename" => Some("rename"),
                                _ => None,
                            })
                {
                    for arg in &call.args {
                        out.extend(self.expr(arg));
                    }
                    out.push(Step::File(op.to_owned()));
                    return out;
                }
                if let Expr::Paren(p) = &*call.func
                    && let Expr::Field(f) = &*p.expr
                    && matches!(&f.member, syn::Member::Named(n) if n == "token")
                {
                    out.push(Step::Token);
                    return out;
                }
                for arg in &call.args {
                    out.extend(self.expr(arg));
                }
                if let Expr::Path(p) = &*call.func
                    && p.path.is_ident("Err")
                    && let Some(kind) = call.args.first().and_then(fail_kind)
                {
                    out.push(Step::Fail(kind));
                }
                out
            }
            Expr::Return(r) => {
                let Some(value) = &r.expr else {
                    return vec![Step::Return];
                };
                let mut out = self.expr(value);
                if !out.iter().any(|s| matches!(s, Step::Fail(_))) && !is_err(value) {
                    out.push(Step::Return);
                }
                out
            }
            Expr::If(i) => {
                let label = label(&i.cond);
                // Whether the schema has attachment fields is known when the Dart is
                // generated: its client has the attachment code or not, and no such test.
                if label.ends_with("schema.hasAttachments") {
                    let taken = !label.starts_with('!');
                    return match (taken, &i.else_branch) {
                        (true, _) => self.block(&i.then_branch.stmts),
                        (false, Some((_, e))) => self.expr(e),
                        (false, None) => Vec::new(),
                    };
                }
                let mut out = self.condition_steps(&i.cond);
                let then = self.block(&i.then_branch.stmts);
                let otherwise = i
                    .else_branch
                    .as_ref()
                    .map(|(_, e)| self.expr(e))
                    .unwrap_or_default();
                out.push(Step::If(label, then, otherwise));
                out
            }
            Expr::Match(m) => {
                let mut out = self.expr(&m.expr);
                let scrutinee = label(&m.expr);
                out.extend(self.arms(&scrutinee, &m.arms));
                out
            }
            Expr::Loop(l) => vec![Step::Loop(self.block(&l.body.stmts))],
            Expr::While(w) => vec![Step::Loop(self.block(&w.body.stmts))],
            Expr::ForLoop(f) => {
                let mut out = self.expr(&f.expr);
                out.push(Step::Each(self.block(&f.body.stmts)));
                out
            }
            Expr::Assign(a) => {
                let mut out = self.expr(&a.right);
                out.extend(self.set(&a.left));
                out
            }
            Expr::Binary(b) => {
                let mut out = self.expr(&b.left);
                out.extend(self.expr(&b.right));
                if is_compound_assign(&b.op) {
                    out.extend(self.set(&b.left));
                }
                out
            }
            Expr::Block(b) => self.block(&b.block.stmts),
            Expr::Try(t) => self.expr(&t.expr),
            Expr::Paren(p) => self.expr(&p.expr),
            Expr::Reference(r) => self.expr(&r.expr),
            Expr::Unary(u) => self.expr(&u.expr),
            Expr::Field(f) => self.expr(&f.base),
            Expr::Cast(c) => self.expr(&c.expr),
            Expr::Let(l) => self.expr(&l.expr),
            Expr::Tuple(t) => t.elems.iter().flat_map(|e| self.expr(e)).collect(),
            Expr::Array(a) => a.elems.iter().flat_map(|e| self.expr(e)).collect(),
            Expr::Struct(s) => s.fields.iter().flat_map(|f| self.expr(&f.expr)).collect(),
            // Closures given to library calls (`map_err`, row mappers) touch neither the
            // database nor the wire; macros are formatting.
            _ => Vec::new(),
        }
    }

    fn condition_steps(&mut self, cond: &Expr) -> Vec<Step> {
        self.expr(cond)
    }

    fn inline(&mut self, ty: &str, method: &str) -> Vec<Step> {
        assert!(self.depth < 16, "calls nest too deep at {ty}::{method}");
        let f = self.source.methods[&(ty.to_owned(), method.to_owned())].clone();
        let saved = (
            std::mem::replace(&mut self.ty, ty.to_owned()),
            std::mem::take(&mut self.mutable),
            std::mem::take(&mut self.locals),
            std::mem::take(&mut self.strings),
        );
        self.depth += 1;
        let steps = self.block(&f.block.stmts);
        self.depth -= 1;
        (self.ty, self.mutable, self.locals, self.strings) = saved;
        steps
    }

    fn set(&self, target: &Expr) -> Vec<Step> {
        match target {
            Expr::Field(f) => {
                let path = label(target);
                if let Some(field) = path.strip_prefix("report.") {
                    let _ = f;
                    return vec![Step::Set(format!("report.{field}"))];
                }
                Vec::new()
            }
            Expr::Path(p) => match p.path.get_ident() {
                Some(ident) if self.mutable.contains(&ident.to_string()) => {
                    vec![Step::Set(camel(&ident.to_string()))]
                }
                _ => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn http(&self, args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>) -> Step {
        let method = match args.first() {
            Some(Expr::Path(p)) => p
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string().to_uppercase())
                .unwrap_or_default(),
            other => panic!(
                "send's method: {:?}",
                other.map(|e| e.to_token_stream().to_string())
            ),
        };
        let path_arg = match args.iter().nth(1) {
            Some(Expr::Reference(r)) => Some(&*r.expr),
            other => other,
        };
        let path = match path_arg {
            Some(Expr::MethodCall(m)) => match &*m.receiver {
                Expr::Lit(l) => lit_text(&l.lit),
                other => panic!("send's path: {}", other.to_token_stream()),
            },
            Some(Expr::Path(p)) => {
                let name = p
                    .path
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_default();
                self.strings
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| panic!("send's path `{name}` is no format! string"))
            }
            other => panic!(
                "send's path: {:?}",
                other.map(|e| e.to_token_stream().to_string())
            ),
        };
        Step::Http(method, path)
    }

    /// A `match`: on a `Result` (`Ok(true)`/`Ok(false)` a branch, `Ok(x)` the normal path,
    /// `Err` what happens on failure), on an `Option`, or on values (a chain of branches).
    fn arms(&mut self, scrutinee: &str, arms: &[syn::Arm]) -> Vec<Step> {
        let head = |pat: &Pat| match pat {
            Pat::TupleStruct(t) => t.path.segments.last().map(|s| s.ident.to_string()),
            Pat::Ident(i) if i.ident == "None" => Some("None".to_owned()),
            Pat::Path(p) => p.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        };
        let is_result = arms
            .iter()
            .any(|a| matches!(head(&a.pat).as_deref(), Some("Ok" | "Err")));
        if is_result {
            let mut out = Vec::new();
            let mut when_true = None;
            let mut when_false = None;
            for arm in arms {
                let body = self.expr(&arm.body);
                let Pat::TupleStruct(t) = &arm.pat else {
                    continue;
                };
                let inner = t.elems.first().map(|p| p.to_token_stream().to_string());
                match (head(&arm.pat).as_deref(), inner.as_deref()) {
                    (Some("Ok"), Some("true")) => when_true = Some(body),
                    (Some("Ok"), Some("false")) => when_false = Some(body),
                    (Some("Ok"), _) => out.extend(body),
                    (Some("Err"), _) => out.push(Step::OnError(body)),
                    _ => {}
                }
            }
            if when_true.is_some() || when_false.is_some() {
                out.insert(
                    0,
                    Step::If(
                        scrutinee.to_owned(),
                        when_true.unwrap_or_default(),
                        when_false.unwrap_or_default(),
                    ),
                );
            }
            return out;
        }
        // A chain: each arm is `if scrutinee == pattern [&& guard]`, a binding or `_` the rest;
        // `a | b` is `scrutinee == a || scrutinee == b`.
        let mut chain: Option<Vec<Step>> = None;
        for arm in arms.iter().rev() {
            let body = self.expr(&arm.body);
            let condition = match &arm.pat {
                Pat::Lit(l) => Some(format!("{scrutinee} == {}", label(&Expr::Lit(l.clone())))),
                Pat::Or(or) if or.cases.iter().all(|c| matches!(c, Pat::Lit(_))) => Some(
                    or.cases
                        .iter()
                        .map(|c| match c {
                            Pat::Lit(l) => {
                                format!("{scrutinee} == {}", label(&Expr::Lit(l.clone())))
                            }
                            _ => unreachable!(),
                        })
                        .collect::<Vec<_>>()
                        .join(" || "),
                ),
                Pat::Wild(_) | Pat::Ident(_) => None,
                other => match head(other).as_deref() {
                    Some("Some") => Some(format!("{scrutinee} != null")),
                    Some("None") => Some(format!("{scrutinee} == null")),
                    _ => Some(format!("{scrutinee} is {}", other.to_token_stream())),
                },
            };
            let condition = match (condition, &arm.guard) {
                (Some(c), Some((_, g))) => Some(format!("{c} && {}", label(g))),
                (None, Some((_, g))) => Some(label(g)),
                (c, None) => c,
            };
            chain = Some(match condition {
                None => body,
                Some(c) => vec![Step::If(c, body, chain.unwrap_or_default())],
            });
        }
        chain.unwrap_or_default()
    }
}

fn is_compound_assign(op: &BinOp) -> bool {
    matches!(
        op,
        BinOp::AddAssign(_)
            | BinOp::SubAssign(_)
            | BinOp::MulAssign(_)
            | BinOp::DivAssign(_)
            | BinOp::RemAssign(_)
    )
}

fn is_err(e: &Expr) -> bool {
    matches!(e, Expr::Call(c) if matches!(&*c.func, Expr::Path(p) if p.path.is_ident("Err")))
}

/// The kind of error an `Err(...)` raises: `SyncErrorKind::Busy` anywhere in it, or the
/// function that builds it (`refused(&response)`); none for `Client` (a database error that
/// only propagates).
fn fail_kind(arg: &Expr) -> Option<String> {
    let text = arg.to_token_stream().to_string();
    // A file the app or the loop cannot attach, keep or delete (Dart's AttachmentException).
    if text.contains("ClientError :: Attachment") {
        return Some("attachment".to_owned());
    }
    if let Some(at) = text.find("SyncErrorKind :: ") {
        let kind: String = text[at + "SyncErrorKind :: ".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric())
            .collect();
        return (kind != "Client").then(|| kind.to_lowercase());
    }
    match arg {
        Expr::Call(c) => match &*c.func {
            Expr::Path(p) => p.path.get_ident().map(|i| camel(&i.to_string())),
            _ => None,
        },
        _ => None,
    }
}

/// A record bound to its entity's pulled-row statement, run: the statement is the entity's
/// (`applyPulledRow…`), its parameters the record's values.
pub fn pulled_row() -> Step {
    Step::Sql("applyPulledRow…".to_owned(), vec!["record".to_owned()])
}

/// A `device.execute("name", &[(":p", &v), ...])` or `query(...)` call as a step.
fn statement(args: &syn::punctuated::Punctuated<Expr, syn::Token![,]>) -> Step {
    let name = match args.first() {
        Some(Expr::Lit(l)) => lit_text(&l.lit),
        other => panic!(
            "a statement call without a name: {:?}",
            other.map(|e| e.to_token_stream().to_string())
        ),
    };
    let mut params = Vec::new();
    if let Some(Expr::Reference(r)) = args.iter().nth(1)
        && let Expr::Array(a) = &*r.expr
    {
        for elem in &a.elems {
            if let Expr::Tuple(t) = elem
                && let Some(Expr::Lit(l)) = t.elems.first()
            {
                params.push(lit_text(&l.lit).trim_start_matches(':').to_owned());
            }
        }
    }
    Step::Sql(camel(&name), params)
}

fn lit_text(lit: &Lit) -> String {
    match lit {
        Lit::Str(s) => s.value(),
        Lit::Int(i) => i.base10_digits().to_owned(),
        Lit::Bool(b) => b.value.to_string(),
        other => other.to_token_stream().to_string(),
    }
}

/// The literal of a `format!("...", ...)`, its `{}` holes left empty.
fn format_string(tokens: &proc_macro2::TokenStream) -> Option<String> {
    let first = tokens.clone().into_iter().next()?;
    let lit: syn::LitStr = syn::parse2(first.into_token_stream()).ok()?;
    let mut out = String::new();
    let mut depth = 0;
    for c in lit.value().chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    Some(out)
}

/// A condition in the spelling both readers share: `self.` dropped, names camelCase, method
/// calls without their arguments, `len` as `length`, conversions (`as_str`) dropped,
/// `if let Some(x) = y` as `y != null`.
pub fn label(e: &Expr) -> String {
    match e {
        Expr::Path(p) => {
            let name = p
                .path
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default();
            if name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            {
                camel(&name.to_lowercase()) // a constant: `SCHEMA_AHEAD_PROBLEM`
            } else {
                camel(&name)
            }
        }
        // A free function with its arguments; `Some(x)` compared is `x` (Dart's null-aware
        // comparison).
        Expr::Call(c) => {
            let args: Vec<String> = c.args.iter().map(label).collect();
            match &*c.func {
                Expr::Path(p) if p.path.is_ident("Some") => args.join(", "),
                func => format!("{}({})", label(func), args.join(", ")),
            }
        }
        Expr::Field(f) => {
            let member = match &f.member {
                syn::Member::Named(n) => camel(&n.to_string()),
                syn::Member::Unnamed(i) => i.index.to_string(),
            };
            join(&label(&f.base), &member)
        }
        Expr::MethodCall(m) => {
            let base = label(&m.receiver);
            let method = m.method.to_string();
            match method.as_str() {
                "as_str" | "as_deref" | "get" | "clone" | "to_owned" | "as_ref" => base,
                "len" => join(&base, "length"),
                _ => join(&base, &camel(&method)),
            }
        }
        Expr::Unary(u) => match u.op {
            UnOp::Not(_) => format!("!{}", label(&u.expr)),
            _ => label(&u.expr),
        },
        Expr::Binary(b) => format!(
            "{} {} {}",
            label(&b.left),
            b.op.to_token_stream(),
            label(&b.right)
        ),
        Expr::Lit(l) => match &l.lit {
            Lit::Str(s) => format!("'{}'", s.value()),
            other => lit_text(other),
        },
        Expr::Paren(p) => label(&p.expr),
        Expr::Reference(r) => label(&r.expr),
        Expr::Try(t) => label(&t.expr),
        Expr::Let(l) => format!("{} != null", label(&l.expr)),
        other => other.to_token_stream().to_string(),
    }
}

fn join(base: &str, member: &str) -> String {
    if base.is_empty() || base == "self" {
        member.to_owned()
    } else {
        format!("{base}.{member}")
    }
}
