//! `offgen build --rust`: Rust structs deriving Syncable as a spec. The ranger example written
//! as structs (examples/ranger-rs) builds exactly what examples/ranger's YAML builds;
//! problems point at the Rust file, line and column; a changed struct adds a migration step.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn offgen(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_offgen"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("offgen runs")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file under `dir`, by `/`-separated relative path.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap();
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                files.insert(rel.join("/"), fs::read(&path).unwrap());
            }
        }
    }
    files
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn the_ranger_structs_build_byte_for_byte_what_the_ranger_yaml_builds() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    // Built on the checked-in output of the structs, as `offgen build --rust` builds: the
    // earlier steps are history (the YAML's output has the same), the new ones follow.
    copy_dir(&root().join("examples/ranger-rs/generated"), &out);
    let run = offgen(
        &[
            "build",
            "--rust",
            "examples/ranger-rs/src",
            "--out",
            out.to_str().unwrap(),
        ],
        &root(),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    let from_rust = tree(&out);
    let from_yaml = tree(&root().join("examples/ranger"));
    // Everything the YAML build generates but the server's Rust (the structs are that) and
    // the server crate written once.
    let expected: Vec<&String> = from_yaml
        .keys()
        .filter(|p| {
            !p.starts_with("server/src/")
                && !p.starts_with("server/tests/")
                && !p.starts_with("server/benches/")
                && *p != "server/Cargo.toml"
                && *p != "offgen.yaml"
        })
        .collect();
    assert_eq!(from_rust.keys().collect::<Vec<_>>(), expected);
    for (path, bytes) in &from_rust {
        assert!(
            from_yaml[path] == *bytes,
            "{path} differs between examples/ranger-rs/src and examples/ranger/offgen.yaml"
        );
    }
    for kind in [
        "client/migrations/",
        "dart/",
        "openapi.json",
        "server/migrations/",
    ] {
        assert!(from_rust.keys().any(|p| p.starts_with(kind)), "{kind}");
    }
}

#[test]
fn the_checked_in_rust_example_is_exactly_what_offgen_builds() {
    let run = offgen(
        &["build", "--rust", "examples/ranger-rs/src", "--check"],
        &root(),
    );
    assert!(
        run.status.success(),
        "examples/ranger-rs/generated is stale; run `scripts/build-examples.sh`\n{}",
        stderr(&run)
    );
}

const APP: &str = r#"use offgen_macros::{SyncApp, Syncable};

#[derive(SyncApp)]
#[syncable(app = "notes", entities(Note))]
pub struct App;
"#;

const NOTE: &str = r#"/// A note.
#[derive(Syncable)]
pub struct Note {
    pub title: String,
    pub stars: i64,
}
"#;

fn crate_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("Cargo.toml"),
        "[package]\nname = \"notes\"\n",
    )
    .unwrap();
    fs::create_dir(tmp.path().join("src")).unwrap();
    for (name, text) in files {
        fs::write(tmp.path().join("src").join(name), text).unwrap();
    }
    tmp
}

#[test]
fn problems_point_at_the_rust_file_line_and_column_and_nothing_is_written() {
    let broken = NOTE.replace("pub stars: i64", "pub stars: u8").replace(
        "pub struct Note {",
        "#[syncable(tabel = \"notes\")]\npub struct Note {",
    );
    let tmp = crate_with(&[("app.rs", APP), ("note.rs", &broken)]);
    let run = offgen(&["build", "--rust", "src"], tmp.path());
    assert_eq!(run.status.code(), Some(1));
    let err = stderr(&run);
    assert!(err.contains("src/note.rs:3:12"), "{err}");
    assert!(err.contains("did you mean `table`?"), "{err}");
    assert!(err.contains("src/note.rs:6:16"), "{err}");
    assert!(
        err.contains("`u8` is not a field type offgen can sync"),
        "{err}"
    );
    assert!(err.contains("2 problems found"), "{err}");
    assert!(!tmp.path().join("generated").exists());
}

#[test]
fn sources_without_an_app_or_with_an_unlisted_entity_are_refused() {
    let tmp = crate_with(&[("note.rs", NOTE)]);
    let run = offgen(&["check", "--rust", "src"], tmp.path());
    assert_eq!(run.status.code(), Some(1));
    assert!(
        stderr(&run).contains("no struct derives SyncApp"),
        "{}",
        stderr(&run)
    );

    let other = NOTE.replace("Note", "Memo");
    let tmp = crate_with(&[("app.rs", APP), ("note.rs", NOTE), ("memo.rs", &other)]);
    let run = offgen(&["check", "--rust", "src"], tmp.path());
    let err = stderr(&run);
    assert!(
        err.contains("`Memo` derives Syncable but the app does not list it"),
        "{err}"
    );
    assert!(err.contains("src/memo.rs:3:12"), "{err}");
}

#[test]
fn a_changed_struct_adds_a_migration_step_as_a_changed_spec_does() {
    let tmp = crate_with(&[("app.rs", APP), ("note.rs", NOTE)]);
    let first = offgen(&["build", "--rust", "src"], tmp.path());
    assert!(first.status.success(), "{}", stderr(&first));
    let renamed = NOTE.replace(
        "    pub title: String,",
        "    #[syncable(renamed_from = \"title\")]\n    pub heading: String,\n    pub body: Option<String>,",
    );
    fs::write(tmp.path().join("src/note.rs"), renamed).unwrap();
    let second = offgen(&["build", "--rust", "src"], tmp.path());
    assert!(second.status.success(), "{}", stderr(&second));
    let steps = tree(&tmp.path().join("generated/client/migrations"));
    assert_eq!(steps.len(), 2, "{:?}", steps.keys());
    let step = String::from_utf8(steps.values().nth(1).unwrap().clone()).unwrap();
    assert!(
        step.contains("RENAME COLUMN \"title\" TO \"heading\""),
        "{step}"
    );
    assert!(step.contains("\"body\""), "{step}");
    assert!(
        tmp.path()
            .join("generated/server/migrations/postgres")
            .is_dir()
    );
    assert!(!tmp.path().join("generated/server/src").exists());
}

/// Every option a YAML spec has, written both ways, gives one schema.
#[test]
fn every_spec_option_written_as_rust_is_the_yaml_schema() {
    let yaml = r#"
offgen: 1
app: depot
clients: { oldest_step: 1 }
migrate: { drop: [Old.gone], retype: [Item.weight] }
entities:
  Site:
    table: depots
    doc: A depot.
    fields:
      code: { type: text, unique: true }
  Item:
    conflict: { policy: lww, clock: received }
    owner: keeper
    renamed_from: Thing
    fields:
      keeper: { type: uuid, doc: Who keeps it. }
      site: Site?
      parent: Item?
      weight: { type: real, default: 1.5 }
      count: { type: int, default: -2 }
      seen: { type: datetime, nullable: true }
      day: date?
      meta: json?
      raw: blob?
      state: { type: enum, values: [in_stock, gone], default: in_stock }
      grade: { type: enum, values: [low, high] }
      label: { type: text, renamed_from: title, default: "none" }
    indexes:
      - [site, seen]
      - { fields: [count], name: items_count_idx }
    uniques:
      - { fields: [keeper, label], name: items_keeper_label_key }
"#;
    let rust = r#"
use offgen_macros::{SyncApp, SyncEnum, Syncable};

#[derive(SyncApp)]
#[syncable(app = "depot", entities(Site, Item), oldest_step = 1, drop("Old.gone"), retype("Item.weight"))]
pub struct Depot;

/// A depot.
#[derive(Syncable)]
#[syncable(table = "depots")]
pub struct Site {
    #[syncable(unique)]
    pub code: String,
}

#[derive(Syncable)]
#[syncable(conflict = "lww", clock = received, owner = keeper, renamed_from = "Thing")]
#[syncable(index(site, seen), index(count, name = "items_count_idx"))]
#[syncable(unique(keeper, label, name = "items_keeper_label_key"))]
pub struct Item {
    /// Who keeps it.
    pub keeper: uuid::Uuid,
    pub site: Option<Ref<Site>>,
    pub parent: Option<Ref<Self>>,
    #[syncable(default = 1.5)]
    pub weight: f64,
    #[syncable(default = -2)]
    pub count: i32,
    pub seen: Option<chrono::DateTime<chrono::Utc>>,
    pub day: Option<NaiveDate>,
    pub meta: Option<serde_json::Value>,
    pub raw: Option<Vec<u8>>,
    #[syncable(default = "in_stock")]
    pub state: State,
    #[syncable(values(low, high))]
    pub grade: String,
    #[syncable(renamed_from = "title", default = "none")]
    pub label: String,
}

#[derive(SyncEnum)]
pub enum State {
    #[syncable(rename = "in_stock")]
    InStock,
    Gone,
}
"#;
    let from_yaml = offgen_codegen::load_yaml_spec(&offgen_codegen::source::SourceFile::new(
        "offgen.yaml",
        yaml,
    ))
    .unwrap_or_else(|d| panic!("{d:?}"));
    let sources = offgen_codegen::source::SourceSet::single(
        offgen_codegen::source::SourceFile::new("lib.rs", rust),
    );
    let (from_rust, warnings, _) =
        offgen_codegen::read_rust_spec(&sources).unwrap_or_else(|d| panic!("{d:?}"));
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(
        serde_json::to_value(&from_rust).unwrap(),
        serde_json::to_value(&from_yaml).unwrap()
    );
    let hints = |s: &offgen_codegen::model::Schema| {
        let values = |v: &[offgen_codegen::source::Spanned<String>]| {
            v.iter().map(|s| s.value.clone()).collect::<Vec<_>>()
        };
        (values(&s.migrate.drop), values(&s.migrate.retype))
    };
    assert_eq!(hints(&from_rust), hints(&from_yaml));
    let renames = |s: &offgen_codegen::model::Schema| {
        let item = s.entity("Item").unwrap();
        (
            item.renamed_from.as_ref().map(|r| r.value.clone()),
            item.field("label")
                .and_then(|f| f.renamed_from.as_ref())
                .map(|r| r.value.clone()),
        )
    };
    assert_eq!(renames(&from_rust), renames(&from_yaml));
    assert_eq!(renames(&from_rust).0.as_deref(), Some("Thing"));
}
