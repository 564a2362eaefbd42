//! Source text and positions in it.

/// A byte range in a spec source file. Every IR item keeps the span of the spec text it came
/// from, so a problem found late (in validation or in a migration diff) still points at the
/// user's line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` to `end` (bytes).
    pub fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// An empty span at this span's start, for "something is missing here".
    pub fn start_only(self) -> Span {
        Span::new(self.start, self.start)
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

/// A value with the span it was read from.
#[derive(Clone, Debug, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub span: Span,
}

impl<T> Spanned<T> {
    /// Pairs a value with its span.
    pub fn new(value: T, span: Span) -> Spanned<T> {
        Spanned { value, span }
    }
}

/// A spec file: its display name (the path as the user gave it) and its text.
#[derive(Clone, Debug)]
pub struct SourceFile {
    /// The path shown in diagnostics.
    pub name: String,
    /// The whole text.
    pub text: String,
}

impl SourceFile {
    /// A source file from a name and text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> SourceFile {
        SourceFile {
            name: name.into(),
            text: text.into(),
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let col = self.text[line_start..offset].chars().count() + 1;
        (line, col)
    }
}

/// Several source files read as one spec (the Rust sources of `offgen build --rust`). Spans
/// are offsets into the files laid end to end, one byte apart, so a [`Span`] stays two numbers
/// and every check and diagnostic works as it does for a single file.
#[derive(Clone, Debug, Default)]
pub struct SourceSet {
    files: Vec<(usize, SourceFile)>,
    next: usize,
}

impl SourceSet {
    /// No files yet.
    pub fn new() -> SourceSet {
        SourceSet::default()
    }

    /// A set of one file, whose spans are its own offsets.
    pub fn single(file: SourceFile) -> SourceSet {
        let mut set = SourceSet::new();
        set.add(file);
        set
    }

    /// Adds a file; returns the offset its spans start at.
    pub fn add(&mut self, file: SourceFile) -> usize {
        let base = self.next;
        // One byte between files: a span at the end of one file is not at the start of the next.
        self.next = base + file.text.len() + 1;
        self.files.push((base, file));
        base
    }

    /// The files, each with the offset its spans start at.
    pub fn files(&self) -> impl Iterator<Item = (usize, &SourceFile)> {
        self.files.iter().map(|(base, file)| (*base, file))
    }

    /// The file holding `offset`, its index and the offset within it.
    pub fn locate(&self, offset: usize) -> Option<(usize, &SourceFile, usize)> {
        let index = self.files.partition_point(|(base, _)| *base <= offset);
        let (base, file) = self.files.get(index.checked_sub(1)?)?;
        Some((index - 1, file, (offset - base).min(file.text.len())))
    }

    /// Whether no file was added.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}
