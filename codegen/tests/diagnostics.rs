//! Every bad-spec fixture under `fixtures/invalid/` states its expected message on its first line
//! (`# expect: ...`) and marks the line the caret must point at (`# <- here`). The rendered
//! output is also snapshotted, so a change of wording or position shows up in review.

use std::fs;
use std::path::Path;

use offgen_codegen::diagnostics::render;
use offgen_codegen::load_yaml_spec;
use offgen_codegen::model::{ConflictPolicy, LwwClock};
use offgen_codegen::source::SourceFile;

struct Fixture {
    name: String,
    file: SourceFile,
    expect: String,
    marked_line: usize,
}

fn fixtures() -> Vec<Fixture> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid");
    let mut paths: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = fs::read_to_string(&path).unwrap();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            let expect = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# expect: "))
                .unwrap_or_else(|| panic!("{name}: first line must be `# expect: ...`"))
                .to_owned();
            let marked_line = text
                .lines()
                .position(|l| l.contains("# <- here"))
                .unwrap_or_else(|| panic!("{name}: no line marked `# <- here`"))
                + 1;
            Fixture {
                file: SourceFile::new(format!("fixtures/{name}.yaml"), text),
                name,
                expect,
                marked_line,
            }
        })
        .collect()
}

#[test]
fn each_invalid_spec_reports_its_problem_at_the_marked_line() {
    let fixtures = fixtures();
    assert!(fixtures.len() >= 40, "fixtures went missing");
    let mut failures = Vec::new();
    for fixture in &fixtures {
        let diagnostics = match load_yaml_spec(&fixture.file) {
            Ok(_) => {
                failures.push(format!("{}: the spec was accepted", fixture.name));
                continue;
            }
            Err(d) => d,
        };
        let Some(found) = diagnostics
            .iter()
            .find(|d| d.message.contains(&fixture.expect))
        else {
            let messages: Vec<_> = diagnostics.iter().map(|d| d.message.as_str()).collect();
            failures.push(format!(
                "{}: no `{}` among {messages:?}",
                fixture.name, fixture.expect
            ));
            continue;
        };
        let span = found.primary_span().expect("every diagnostic has a caret");
        let (line, _) = fixture.file.line_col(span.start);
        if line != fixture.marked_line {
            failures.push(format!(
                "{}: caret on line {line}, expected line {}",
                fixture.name, fixture.marked_line
            ));
        }
        let rendered = render(&fixture.file, &diagnostics);
        let location = format!("{}:{}:", fixture.file.name, fixture.marked_line);
        if !rendered.contains(&location) {
            failures.push(format!("{}: rendering lacks `{location}`", fixture.name));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn rendered_diagnostics_match_their_snapshots() {
    for fixture in fixtures() {
        let diagnostics = load_yaml_spec(&fixture.file).err().unwrap_or_default();
        insta::assert_snapshot!(fixture.name.clone(), render(&fixture.file, &diagnostics));
    }
}

#[test]
fn every_problem_of_a_spec_is_reported_in_one_run_in_source_order() {
    let text = "\
offgen: 1
app: ranger
entities:
  Observation:
    conflict: lwww
    fields:
      notes: texy
      version: int
      count: { type: int, default: 1.5, nulable: true }
      status: { type: enum, values: [draft, final], default: finall }
";
    let file = SourceFile::new("offgen.yaml", text);
    let diagnostics = load_yaml_spec(&file).unwrap_err();
    let lines: Vec<usize> = diagnostics
        .iter()
        .map(|d| file.line_col(d.primary_span().unwrap().start).0)
        .collect();
    assert_eq!(lines, vec![5, 7, 8, 9, 9, 10], "{diagnostics:#?}");
}

#[test]
fn a_problem_position_counts_characters_not_bytes() {
    // A multi-byte character before the mistake must not shift the column.
    let text = "offgen: 1\napp: ranger\nentities:\n  Observation:\n    doc: \"Sichtung für Wölfe\"\n    fields: { notes: texy }\n";
    let file = SourceFile::new("offgen.yaml", text);
    let rendered = render(&file, &load_yaml_spec(&file).unwrap_err());
    assert!(rendered.contains("offgen.yaml:6:22"), "{rendered}");
}

/// `by:` named lww's conflict clock, a datetime the app had to bump on every edit; stamps sent
/// with each write replaced it. Specs that still say it build, with a warning at the line.
#[test]
fn lww_by_is_accepted_with_a_warning_that_it_is_ignored() {
    let text = "\
offgen: 1
app: ranger
entities:
  Observation:
    conflict: { policy: lww, by: editedAt }
    fields:
      notes: text?
      editedAt: datetime?
";
    let file = SourceFile::new("offgen.yaml", text);
    let (schema, warnings) = offgen_codegen::read_yaml_spec(&file).expect("the spec builds");
    assert_eq!(schema.entities[0].conflict.name(), "lww");
    assert_eq!(warnings.len(), 1, "{warnings:#?}");
    assert_eq!(
        file.line_col(warnings[0].primary_span().unwrap().start).0,
        5
    );
    insta::assert_snapshot!(render(&file, &warnings));
    // Without `by`, and without any datetime field, lww needs nothing more.
    let plain =
        "offgen: 1\napp: a\nentities:\n  Note:\n    conflict: lww\n    fields: { body: text }\n";
    let (_, warnings) =
        offgen_codegen::read_yaml_spec(&SourceFile::new("offgen.yaml", plain)).unwrap();
    assert!(warnings.is_empty(), "{warnings:#?}");
}

/// `clock:` says what orders lww writes: devices' stamps (the default) or the server's receive
/// time. It means nothing to other policies, and a misspelt clock is an error where it is.
#[test]
fn an_lww_clock_is_device_or_received_and_only_for_lww() {
    let spec = |conflict: &str| {
        format!(
            "offgen: 1\napp: yard\nentities:\n  Inspection:\n    conflict: {conflict}\n    fields: {{ result: text }}\n"
        )
    };
    for (conflict, clock) in [
        ("lww", LwwClock::Device),
        ("{ policy: lww }", LwwClock::Device),
        ("{ policy: lww, clock: device }", LwwClock::Device),
        ("{ policy: lww, clock: received }", LwwClock::Received),
    ] {
        let file = SourceFile::new("offgen.yaml", spec(conflict));
        let (schema, warnings) = offgen_codegen::read_yaml_spec(&file).expect(conflict);
        assert!(warnings.is_empty(), "{warnings:#?}");
        assert_eq!(
            schema.entities[0].conflict,
            ConflictPolicy::Lww { clock },
            "{conflict}"
        );
    }
    for (conflict, message, column) in [
        (
            "{ policy: lww, clock: recieved }",
            "unknown lww clock `recieved`",
            37,
        ),
        (
            "{ policy: version, clock: received }",
            "`clock` only applies to the lww policy, not `version`",
            41,
        ),
    ] {
        let file = SourceFile::new("offgen.yaml", spec(conflict));
        let diagnostics = load_yaml_spec(&file).unwrap_err();
        assert_eq!(diagnostics.len(), 1, "{diagnostics:#?}");
        let rendered = render(&file, &diagnostics);
        assert!(rendered.contains(message), "{rendered}");
        assert!(
            rendered.contains(&format!("offgen.yaml:5:{column}")),
            "{rendered}"
        );
    }
    let file = SourceFile::new("offgen.yaml", spec("{ policy: lww, clock: recieved }"));
    let rendered = render(&file, &load_yaml_spec(&file).unwrap_err());
    assert!(rendered.contains("did you mean `received`?"), "{rendered}");
}
