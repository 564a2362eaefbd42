//! From syn's token spans to the spec [`Span`]s every check and diagnostic uses.
//!
//! The same lowering runs in two places that know positions differently: `offgen build --rust`
//! parses files itself and knows each token's line and column; a derive macro is handed tokens
//! whose only position is the compiler's own span, which it must give back to report an error.

use proc_macro2::LineColumn;

use crate::source::Span;

/// Turns a token's span into a spec span.
pub trait SpanMap {
    /// The spec span of a token (or of a syntax node, by its first token in a macro).
    fn span(&mut self, span: proc_macro2::Span) -> Span;
}

/// Spans of a file parsed outside a macro: byte offsets into a [`crate::source::SourceSet`].
pub struct FileSpans<'t> {
    base: usize,
    text: &'t str,
    line_starts: Vec<usize>,
}

impl<'t> FileSpans<'t> {
    /// Spans of `text`, a file whose spans start at `base` in its source set.
    pub fn new(base: usize, text: &'t str) -> FileSpans<'t> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        FileSpans {
            base,
            text,
            line_starts,
        }
    }

    /// proc-macro2 counts lines from 1 and columns in characters from 0.
    fn offset(&self, at: LineColumn) -> usize {
        let Some(&start) = self.line_starts.get(at.line.saturating_sub(1)) else {
            return self.text.len();
        };
        let line = &self.text[start..];
        let within = line
            .char_indices()
            .nth(at.column)
            .map_or(line.len(), |(i, _)| i);
        start + within
    }
}

impl SpanMap for FileSpans<'_> {
    fn span(&mut self, span: proc_macro2::Span) -> Span {
        let start = self.offset(span.start());
        let end = self.offset(span.end()).max(start);
        Span::new(self.base + start, self.base + end)
    }
}

/// Spans of the tokens a derive macro was handed: each is kept, and the spec span is its
/// index, so a diagnostic is reported back at the token it came from.
#[derive(Default)]
pub struct TokenSpans {
    spans: Vec<proc_macro2::Span>,
}

impl TokenSpans {
    /// No spans yet.
    pub fn new() -> TokenSpans {
        TokenSpans::default()
    }

    /// The token span a spec span was made from (the call site for one made otherwise).
    pub fn token(&self, span: Span) -> proc_macro2::Span {
        self.spans
            .get(span.start)
            .copied()
            .unwrap_or_else(proc_macro2::Span::call_site)
    }
}

impl SpanMap for TokenSpans {
    fn span(&mut self, span: proc_macro2::Span) -> Span {
        self.spans.push(span);
        let index = self.spans.len() - 1;
        Span::new(index, index + 1)
    }
}
