//! Problems found in a spec, collected and rendered together.
//!
//! Every check pushes into one [`Diagnostics`] instead of returning early, so a user sees every
//! problem of a spec in one run. Rendering is rustc-like (`file:line:col`, the line, a caret and a
//! plain message) and plain ASCII, so the same text reads well in a terminal, a CI log and a
//! snapshot test.

use codespan_reporting::diagnostic as cs;
use codespan_reporting::files::SimpleFiles;
use codespan_reporting::term;

use crate::source::{SourceFile, SourceSet, Span};

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// The spec cannot be built.
    Error,
    /// The spec builds, but probably not as meant.
    Warning,
}

/// A place in the source with what to say about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there (may be empty).
    pub message: String,
    /// The primary label carries the caret; secondary ones point at related places.
    pub primary: bool,
}

/// One problem.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// The headline, a plain sentence.
    pub message: String,
    /// Places in the source.
    pub labels: Vec<Label>,
    /// Trailing notes, e.g. `help: did you mean ...`.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with a headline.
    pub fn error(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            message: message.into(),
            labels: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// A warning with a headline.
    pub fn warning(message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(message)
        }
    }

    /// Adds the caret at `span`.
    pub fn at(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: true,
        });
        self
    }

    /// Points at a related place.
    pub fn also(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
            primary: false,
        });
        self
    }

    /// Adds `help: ...`.
    pub fn help(mut self, help: impl AsRef<str>) -> Diagnostic {
        self.notes.push(format!("help: {}", help.as_ref()));
        self
    }

    /// Adds `note: ...`.
    pub fn note(mut self, note: impl AsRef<str>) -> Diagnostic {
        self.notes.push(format!("note: {}", note.as_ref()));
        self
    }

    /// Where the caret is, for ordering.
    pub fn primary_span(&self) -> Option<Span> {
        self.labels.iter().find(|l| l.primary).map(|l| l.span)
    }
}

/// Problems collected over a whole run.
#[derive(Clone, Debug, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    /// No problems yet.
    pub fn new() -> Diagnostics {
        Diagnostics::default()
    }

    /// Records a problem.
    pub fn push(&mut self, diagnostic: Diagnostic) {
        self.items.push(diagnostic);
    }

    /// Whether any error (not warning) was recorded.
    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    /// All problems, in source order (then in the order they were found).
    pub fn into_sorted(mut self) -> Vec<Diagnostic> {
        self.items.sort_by_key(|d| {
            d.primary_span()
                .map_or((usize::MAX, usize::MAX), |s| (s.start, s.end))
        });
        self.items
    }

    /// The problems, in the order found.
    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// None at all.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl Extend<Diagnostic> for Diagnostics {
    fn extend<I: IntoIterator<Item = Diagnostic>>(&mut self, iter: I) {
        self.items.extend(iter);
    }
}

/// Renders diagnostics against their source as plain text, one after another.
pub fn render(file: &SourceFile, diagnostics: &[Diagnostic]) -> String {
    render_set(&SourceSet::single(file.clone()), diagnostics)
}

/// Renders diagnostics whose spans point into a [`SourceSet`] (each label at its own file).
pub fn render_set(sources: &SourceSet, diagnostics: &[Diagnostic]) -> String {
    let mut files = SimpleFiles::new();
    for (_, file) in sources.files() {
        files.add(file.name.as_str(), file.text.as_str());
    }
    let config = term::Config {
        chars: term::Chars::ascii(),
        ..term::Config::default()
    };
    let mut out = String::new();
    for diagnostic in diagnostics {
        let converted = to_codespan(diagnostic, sources);
        match term::emit_into_string(&config, &files, &converted) {
            Ok(text) => out.push_str(&text),
            // A span past the end of the file is a bug of ours; still show the message.
            Err(_) => out.push_str(&format!("error: {}\n", diagnostic.message)),
        }
    }
    out
}

fn to_codespan(diagnostic: &Diagnostic, sources: &SourceSet) -> cs::Diagnostic<usize> {
    let severity = match diagnostic.severity {
        Severity::Error => cs::Severity::Error,
        Severity::Warning => cs::Severity::Warning,
    };
    let labels = diagnostic
        .labels
        .iter()
        .filter_map(|label| {
            let (file, text, start) = sources.locate(label.span.start)?;
            let end =
                (start + label.span.end.saturating_sub(label.span.start)).min(text.text.len());
            let style = if label.primary {
                cs::LabelStyle::Primary
            } else {
                cs::LabelStyle::Secondary
            };
            Some(cs::Label::new(style, file, start..end).with_message(label.message.clone()))
        })
        .collect();
    cs::Diagnostic::new(severity)
        .with_message(diagnostic.message.clone())
        .with_labels(labels)
        .with_notes(diagnostic.notes.clone())
}
