//! Specs cannot crash the generator: a seeded fuzzer over the spec front-end. It takes every
//! spec the project holds (the examples, the evolution and invalid fixtures) and mutates their
//! text: bytes and lines cut, doubled, swapped and re-indented, YAML syntax and hostile tokens
//! dropped in (anchors and aliases, tags, tabs, U+0000, a byte-order mark, huge numbers, deep
//! brackets), values swapped for others of another type, the text cut short. Every case must:
//! - never panic, in `check` (read and validate) nor, for an accepted spec, in `build` (every
//!   back-end, on a fresh output folder);
//! - be refused only with diagnostics that each point into the text (a label on character
//!   boundaries, `file:line:col` resolvable) and render;
//! - finish in bounded time (each case is timed).
//!
//! A fixed list of known-nasty inputs runs first (a billion-laughs alias bomb, nesting past
//! every limit, an oversized file). `OFFGEN_SPEC_FUZZ_CASES` sets the number of random cases
//! (default 1500, a few seconds) and `OFFGEN_SPEC_FUZZ_SEED` the seed, to replay or widen a run.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use offgen_codegen::backend::{self, Previous};
use offgen_codegen::diagnostics::{Diagnostics, Severity, render};
use offgen_codegen::load_yaml_spec;
use offgen_codegen::source::SourceFile;

/// splitmix64: small, seedable, well mixed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Tokens that stress a YAML reader or the lowering: syntax, types, limits, encodings.
const TOKENS: &[&str] = &[
    ":",
    ": ",
    "- ",
    "-",
    "{",
    "}",
    "[",
    "]",
    ",",
    "? ",
    "|",
    ">",
    "#",
    "'",
    "\"",
    "&a ",
    "*a",
    "&b [*a, *a]",
    "<<: *a",
    "!!binary ",
    "!!str ",
    "!custom ",
    "~",
    "null",
    "true",
    "no",
    "1",
    "0",
    "-1",
    "1.5",
    "1e999",
    "-9223372036854775809",
    "18446744073709551616",
    "0x7fffffffffffffff",
    ".nan",
    ".inf",
    "\t",
    "\u{0}",
    "\u{FEFF}",
    "\u{1F600}",
    "\r\n",
    "\r",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
    "\n  ",
    "\n    - ",
    "type: ",
    "fields:",
    "entities:",
    "conflict: lww",
    "owner: ",
    "default: ",
    "values: [a, a]",
    "renamed_from: ",
    "migrate:",
    "indexes:",
    "uniques: [[]]",
    "{ type: enum }",
    "{ type: Ranger }",
    "text?",
    "int",
    "real?",
    "json",
    "blob",
    "attachment?",
    "uuid",
    "date",
    "datetime",
    "bool",
    "enum",
    "table: select",
    "offgen: 2",
    "app: \"\"",
    "doc: ",
    "clients: { oldest_step: 0 }",
];

/// Every spec the repository holds, as (name, text).
fn corpus() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut paths: Vec<PathBuf> = Vec::new();
    for dir in [
        root.join("codegen/tests/fixtures/invalid"),
        root.join("codegen/tests/fixtures/evolution"),
    ] {
        for entry in std::fs::read_dir(&dir).unwrap() {
            paths.push(entry.unwrap().path());
        }
    }
    for entry in std::fs::read_dir(root.join("examples")).unwrap() {
        let spec = entry.unwrap().path().join("offgen.yaml");
        if spec.is_file() {
            paths.push(spec);
        }
    }
    paths.retain(|p| p.extension().is_some_and(|e| e == "yaml"));
    paths.sort();
    let corpus: Vec<(String, String)> = paths
        .iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(p).unwrap(),
            )
        })
        .collect();
    assert!(corpus.len() > 20, "the corpus is the repository's specs");
    corpus
}

/// The nearest character boundary at or before `at`.
fn boundary(text: &str, mut at: usize) -> usize {
    at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

/// One mutation of `text`.
fn mutate(rng: &mut Rng, text: &str, corpus: &[(String, String)]) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let line = |rng: &mut Rng| rng.below(lines.len().max(1));
    match rng.below(12) {
        // Cut a range of bytes.
        0 => {
            let a = boundary(text, rng.below(text.len() + 1));
            let b = boundary(text, a + rng.below(40));
            format!("{}{}", &text[..a], &text[b..])
        }
        // Drop in a token.
        1 | 2 => {
            let at = boundary(text, rng.below(text.len() + 1));
            format!("{}{}{}", &text[..at], rng.pick(TOKENS), &text[at..])
        }
        // Replace the rest of a line after `: ` with a token.
        3 => {
            let mut lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let i = line(rng);
            if let Some(l) = lines.get_mut(i)
                && let Some(colon) = l.find(": ")
            {
                l.truncate(colon + 2);
                let token = rng.pick(TOKENS).to_string();
                l.push_str(&token);
            }
            lines.join("\n")
        }
        // Double, drop or swap lines.
        4 => {
            let mut lines = lines.clone();
            let i = line(rng);
            if i < lines.len() {
                lines.insert(i, lines[i]);
            }
            lines.join("\n")
        }
        5 => {
            let mut lines = lines.clone();
            let i = line(rng);
            if i < lines.len() {
                lines.remove(i);
            }
            lines.join("\n")
        }
        6 => {
            let mut lines = lines.clone();
            let (i, j) = (line(rng), line(rng));
            if i < lines.len() && j < lines.len() {
                lines.swap(i, j);
            }
            lines.join("\n")
        }
        // Re-indent a line.
        7 => {
            let mut lines: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            let i = line(rng);
            if let Some(l) = lines.get_mut(i) {
                let trimmed = l.trim_start().to_owned();
                *l = format!("{}{trimmed}", " ".repeat(rng.below(9)));
            }
            lines.join("\n")
        }
        // Cut the text short.
        8 => text[..boundary(text, rng.below(text.len() + 1))].to_owned(),
        // Splice in lines of another spec.
        9 => {
            let (_, other) = rng.pick(corpus);
            let other: Vec<&str> = other.lines().collect();
            let from = rng.below(other.len());
            let to = (from + 1 + rng.below(6)).min(other.len());
            let mut lines = lines.clone();
            let at = line(rng).min(lines.len());
            for (k, l) in other[from..to].iter().enumerate() {
                lines.insert(at + k, l);
            }
            lines.join("\n")
        }
        // Replace an identifier-like word with a token or a word from elsewhere.
        10 => {
            let words: Vec<(usize, &str)> = text
                .match_indices(|c: char| c.is_alphanumeric() || c == '_')
                .collect();
            if words.is_empty() {
                return text.to_owned();
            }
            let (at, _) = words[rng.below(words.len())];
            let end = text[at..]
                .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(text.len(), |e| at + e);
            let start = text[..at]
                .char_indices()
                .rev()
                .find(|(_, c)| !(c.is_alphanumeric() || *c == '_'))
                .map_or(0, |(i, c)| i + c.len_utf8());
            let replacement = if rng.below(2) == 0 {
                rng.pick(TOKENS).to_string()
            } else {
                let (_, other) = rng.pick(corpus);
                let other_words: Vec<&str> = other
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .filter(|w| !w.is_empty())
                    .collect();
                rng.pick(&other_words).to_string()
            };
            format!("{}{replacement}{}", &text[..start], &text[end..])
        }
        // Flip a byte to another ASCII character.
        _ => {
            let at = boundary(text, rng.below(text.len()));
            let c = (b' ' + rng.below(95) as u8) as char;
            let next = boundary(text, at + 1)
                .max(at + text[at..].chars().next().map_or(0, char::len_utf8));
            format!("{}{c}{}", &text[..at], &text[next.min(text.len())..])
        }
    }
}

/// Runs one spec through check and, when accepted, build. The outcome, or the failure.
fn run_case(name: &str, text: &str) -> Result<bool, String> {
    let file = SourceFile::new(name, text);
    let started = Instant::now();
    let checked = catch_unwind(AssertUnwindSafe(|| load_yaml_spec(&file)))
        .map_err(|p| format!("check panicked: {}", panic_text(&p)))?;
    let accepted = match checked {
        Ok(schema) => {
            let mut diags = Diagnostics::new();
            let built = catch_unwind(AssertUnwindSafe(|| {
                backend::generate(&schema, &Previous::default(), &mut diags)
            }))
            .map_err(|p| format!("build of an accepted spec panicked: {}", panic_text(&p)))?;
            if built.is_none() {
                return Err(format!(
                    "check accepted the spec but build refused it:\n{}",
                    render(&file, &diags.into_sorted())
                ));
            }
            true
        }
        Err(diagnostics) => {
            let errors: Vec<_> = diagnostics
                .iter()
                .filter(|d| d.severity == Severity::Error)
                .collect();
            if errors.is_empty() {
                return Err("refused without an error".to_owned());
            }
            for d in &errors {
                let Some(label) = d.labels.iter().find(|l| l.primary).or(d.labels.first()) else {
                    return Err(format!("an error without a position: {}", d.message));
                };
                let span = label.span;
                if span.start > span.end
                    || span.end > text.len()
                    || !text.is_char_boundary(span.start)
                    || !text.is_char_boundary(span.end)
                {
                    return Err(format!("{}: span {span:?} is not in the text", d.message));
                }
                let _ = file.line_col(span.start);
            }
            catch_unwind(AssertUnwindSafe(|| render(&file, &diagnostics)))
                .map_err(|p| format!("rendering panicked: {}", panic_text(&p)))?;
            false
        }
    };
    let took = started.elapsed();
    if took > Duration::from_secs(10) {
        return Err(format!("took {took:?}"));
    }
    Ok(accepted)
}

fn panic_text(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name} must be a number"))
        })
        .unwrap_or(default)
}

/// A spec of the corpus with the fragment appended under its first entity's fields.
fn known_nasty() -> Vec<(String, String)> {
    let head = "offgen: 1\napp: nasty\nentities:\n  Thing:\n    fields:\n      name: text\n";
    // Each level's anchor holds ten aliases of the one before: 10^6 nodes once expanded.
    let mut bomb = String::from("offgen: 1\napp: bomb\nx0: &x0 [a, a, a, a, a, a, a, a, a, a]\n");
    for level in 1..7 {
        let prev = level - 1;
        let aliases = vec![format!("*x{prev}"); 10].join(", ");
        bomb.push_str(&format!("x{level}: &x{level} [{aliases}]\n"));
    }
    bomb.push_str("entities:\n  Thing:\n    fields:\n      name: text\n");
    let deep_flow = format!(
        "{head}      deep: {}{}\n",
        "[".repeat(200_000),
        "]".repeat(200_000)
    );
    let mut deep_block = head.to_owned();
    for level in 0..2000 {
        deep_block.push_str(&format!("{}k{level}:\n", " ".repeat(6 + level % 200)));
    }
    vec![
        ("alias_bomb.yaml".into(), bomb),
        ("deep_flow.yaml".into(), deep_flow),
        ("deep_block.yaml".into(), deep_block),
        (
            "oversized.yaml".into(),
            format!("{head}#{}\n", "x".repeat(2 << 20)),
        ),
        ("nul.yaml".into(), format!("{head}      bad\u{0}: text\n")),
        ("bom.yaml".into(), format!("\u{FEFF}{head}")),
        ("only_bom.yaml".into(), "\u{FEFF}".into()),
        ("empty.yaml".into(), String::new()),
        ("tabs.yaml".into(), head.replace("  ", "\t")),
        ("crlf.yaml".into(), head.replace('\n', "\r\n")),
        ("cr.yaml".into(), head.replace('\n', "\r")),
        ("scalar.yaml".into(), "just text".into()),
        ("list.yaml".into(), "- offgen: 1\n".into()),
        (
            "merge.yaml".into(),
            format!("{head}      <<: {{ a: text }}\n"),
        ),
        (
            "tagged.yaml".into(),
            format!("{head}      t: !!binary aGk=\n"),
        ),
        (
            "huge_int.yaml".into(),
            head.replace("offgen: 1", "offgen: 99999999999999999999999"),
        ),
        (
            "long_name.yaml".into(),
            format!("{head}      {}: text\n", "a".repeat(100_000)),
        ),
        ("many_fields.yaml".into(), {
            let mut s = head.to_owned();
            // Far past the limit of 500: refused, and read in linear time (quadratic
            // duplicate checks took 46 s for 20,000).
            for i in 0..10_000 {
                s.push_str(&format!("      f{i}: text\n"));
            }
            s
        }),
    ]
}

#[test]
fn known_nasty_specs_are_refused_or_built_without_a_crash() {
    let mut failures = Vec::new();
    for (name, text) in known_nasty() {
        let started = Instant::now();
        let outcome = run_case(&name, &text);
        let took = started.elapsed();
        match outcome {
            Ok(_) if took < Duration::from_secs(5) => {}
            Ok(_) => failures.push(format!("{name}: took {took:?}")),
            Err(e) => failures.push(format!("{name}: {e}")),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn mutated_specs_never_crash_the_generator() {
    let corpus = corpus();
    let cases = setting("OFFGEN_SPEC_FUZZ_CASES", 1500);
    let seed = setting("OFFGEN_SPEC_FUZZ_SEED", 0x0ff9_e5ec);
    let mut rng = Rng(seed);
    let (mut accepted, mut refused) = (0, 0);
    let mut failures = Vec::new();
    let started = Instant::now();
    for case in 0..cases {
        let (name, original) = rng.pick(&corpus).clone();
        let mut text = original;
        for _ in 0..1 + rng.below(4) {
            text = mutate(&mut rng, &text, &corpus);
        }
        match run_case(&name, &text) {
            Ok(true) => accepted += 1,
            Ok(false) => refused += 1,
            Err(e) => {
                failures.push(format!(
                    "case {case} (from {name}):\n{e}\n--- spec:\n{text}\n---"
                ));
                if failures.len() >= 5 {
                    break;
                }
            }
        }
    }
    println!(
        "{cases} mutated specs from seed {seed}: {accepted} accepted and built, {refused} refused, \
         in {:?}",
        started.elapsed()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    // The mutations must reach both sides, or the test proves little.
    assert!(
        accepted >= cases / 200 && refused > cases / 4,
        "{accepted} accepted, {refused} refused"
    );
}
