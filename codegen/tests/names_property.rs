//! Every spec `offgen check` accepts builds, and what it builds works: a property test over
//! specs whose entity, table, field and enum-value names come from every target language's
//! vocabulary (Rust, Dart and Drift, SQL, the bookkeeping columns) and from odd but legal
//! spellings. For each generated spec: `check` and `build` agree (no panic, no problem the
//! check did not report), the generated Dart parses, the device migrations apply to a real
//! SQLite; and the generated Rust of a batch of accepted specs compiles.
//!
//! `OFFGEN_NAME_CASES` sets the number of specs (default 32) and `OFFGEN_NAME_SEED` the seed,
//! to replay or widen a run.

mod support;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::process::Command;

use offgen_codegen::backend::{self, Previous};
use offgen_codegen::diagnostics::{Diagnostics, Severity, render};
use offgen_codegen::load_yaml_spec;
use offgen_codegen::model::vocabulary::{
    DART_ENUM_MEMBERS, DART_RESERVED, DRIFT_RESERVED_GETTERS, RESERVED_TYPE_NAMES, RUST_KEYWORDS,
    RUST_UNESCAPABLE, SQL_KEYWORDS,
};
use offgen_codegen::output::FileSet;
use offgen_codegen::source::SourceFile;
use offgen_runtime::bookkeeping;

/// Spellings that have tripped name handling elsewhere: acronyms, digits, one-letter words,
/// Dart enum and `Object` members, Dart built-in identifiers, Rust prelude names.
const ODD: &[&str] = &[
    "photoURL",
    "HTTPLogs",
    "ID",
    "aB",
    "a1",
    "x_y",
    "sha256Hash",
    "accuracyM",
    "values",
    "index",
    "hashCode",
    "runtimeType",
    "toString",
    "noSuchMethod",
    "name",
    "get",
    "set",
    "late",
    "required",
    "dynamic",
    "Function",
    "async",
    "await",
    "yield",
    "covariant",
    "extension",
    "Self_",
    "self_",
    "crate_",
    "String",
    "str",
    "u8",
    "i64",
    "Option",
    "Vec",
    "Some",
    "None",
    "Ok",
    "Err",
    "Default",
    "Clone",
    "Serialize",
    "Deserialize",
    "serde",
    "offgen_runtime",
    "APP",
    "OPENAPI",
    "router",
    "entities",
    "models",
    "app",
    "Kind",
    "Policy",
    "EntityDef",
];

/// Enum values may also carry `-`.
const ODD_VALUES: &[&str] = &["in-progress", "a-b-c", "x1-y2", "Z"];

/// A small deterministic generator (SplitMix64): a failing case replays from its seed.
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
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Names a spec may use for anything, though some target reserves them: Rust keywords (raw
/// identifiers), SQL keywords (quoted) and odd spellings, less the refusable ones.
fn usable() -> Vec<&'static str> {
    let refusable: Vec<String> = refusable().iter().map(|w| w.to_ascii_lowercase()).collect();
    [RUST_KEYWORDS, SQL_KEYWORDS, ODD]
        .concat()
        .into_iter()
        .filter(|w| !refusable.contains(&w.to_ascii_lowercase()))
        .collect()
}

/// Names validation refuses for some roles (with a reason): drawn now and then, so refusals
/// are exercised too. Enum values may take them all (each target escapes its own words).
fn refusable() -> Vec<&'static str> {
    [
        DART_RESERVED,
        DRIFT_RESERVED_GETTERS,
        RESERVED_TYPE_NAMES,
        RUST_UNESCAPABLE,
        &bookkeeping::COLUMNS.map(|c| c.sql),
        &bookkeeping::COLUMNS.map(|c| c.key),
        DART_ENUM_MEMBERS,
        &["Self_", "self_", "crate_"],
    ]
    .concat()
}

struct Pools {
    usable: Vec<&'static str>,
    refusable: Vec<&'static str>,
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// A name, as written or capitalized; one in `rare` from the refusable ones.
fn name(rng: &mut Rng, pools: &Pools, rare: usize) -> String {
    let word = if rng.chance(rare) {
        rng.pick(&pools.refusable)
    } else {
        rng.pick(&pools.usable)
    };
    if rng.chance(2) {
        capitalized(word)
    } else {
        word.to_owned()
    }
}

const TYPES: &[&str] = &[
    "text",
    "int",
    "real",
    "bool",
    "datetime",
    "date",
    "uuid",
    "json",
    "blob",
    "attachment",
];
const POLICIES: &[&str] = &["version", "lww", "server_wins", "append_only"];

/// One spec of two or three entities, every name double-quoted so YAML reads it as written.
fn spec(rng: &mut Rng, pools: &Pools) -> String {
    let entities: Vec<String> = (0..2 + rng.below(2))
        .map(|_| capitalized(&name(rng, pools, 40)))
        .collect();
    let mut out = format!(
        "offgen: 1\napp: \"{}\"\nentities:\n",
        rng.pick(&["app", "ranger", "self", "type", "crate_x"])
    );
    for entity in &entities {
        out.push_str(&format!("  \"{entity}\":\n"));
        out.push_str(&format!("    conflict: {}\n", rng.pick(POLICIES)));
        if rng.chance(3) {
            out.push_str(&format!(
                "    table: \"{}\"\n",
                name(rng, pools, 40).to_ascii_lowercase()
            ));
        }
        out.push_str("    fields:\n");
        let mut fields = Vec::new();
        let owned = rng.chance(3);
        for _ in 0..2 + rng.below(3) {
            let field = name(rng, pools, 40);
            let ty = match rng.below(TYPES.len() + 2) {
                // The owner holds a user id.
                _ if owned && fields.is_empty() => "\"text\"".to_owned(),
                i if i < TYPES.len() => format!("\"{}\"", TYPES[i]),
                i if i == TYPES.len() => {
                    let values: Vec<String> = (0..1 + rng.below(3))
                        .map(|_| {
                            if rng.chance(4) {
                                rng.pick(ODD_VALUES).to_owned()
                            } else {
                                name(rng, pools, 2)
                            }
                        })
                        .map(|v| format!("\"{v}\""))
                        .collect();
                    format!("{{ type: enum, values: [{}] }}", values.join(", "))
                }
                _ => format!("\"{}\"", entities[rng.below(entities.len())]),
            };
            let ty = if rng.chance(3) && !ty.starts_with('{') && !(owned && fields.is_empty()) {
                format!("{{ type: {ty}, nullable: true }}")
            } else {
                ty
            };
            out.push_str(&format!("      \"{field}\": {ty}\n"));
            fields.push(field);
        }
        if owned {
            out.push_str(&format!("    owner: \"{}\"\n", fields[0]));
        }
        if rng.chance(2) {
            out.push_str(&format!(
                "    indexes:\n      - \"{}\"\n",
                fields[rng.below(fields.len())]
            ));
        }
    }
    out
}

fn cases() -> (u64, usize) {
    let seed = std::env::var("OFFGEN_NAME_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(9);
    let count = std::env::var("OFFGEN_NAME_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(32);
    (seed, count)
}

#[test]
fn every_spec_check_accepts_builds_and_its_output_parses_applies_and_compiles() {
    let pools = Pools {
        usable: usable(),
        refusable: refusable(),
    };
    let (seed, count) = cases();
    let mut accepted: Vec<(String, FileSet)> = Vec::new();
    let mut refused = 0;
    for case in 0..count {
        let mut rng = Rng(seed.wrapping_mul(1_000_003).wrapping_add(case as u64));
        let text = spec(&mut rng, &pools);
        let file = SourceFile::new("offgen.yaml", text.as_str());
        let replay = format!("case {case} (OFFGEN_NAME_SEED={seed}):\n{text}");
        let checked = catch_unwind(AssertUnwindSafe(|| load_yaml_spec(&file)))
            .unwrap_or_else(|_| panic!("check panicked on {replay}"));
        let schema = match checked {
            Ok(schema) => schema,
            Err(problems) => {
                // A refusal is fine when it says where and what.
                assert!(
                    problems.iter().any(|d| d.severity == Severity::Error),
                    "{replay}"
                );
                refused += 1;
                if std::env::var("OFFGEN_NAME_VERBOSE").is_ok() {
                    eprintln!("refused: {}", problems[0].message);
                }
                continue;
            }
        };
        let mut diags = Diagnostics::new();
        let built = catch_unwind(AssertUnwindSafe(|| {
            backend::generate(&schema, &Previous::default(), &mut diags)
        }))
        .unwrap_or_else(|_| panic!("check accepted, build panicked on {replay}"));
        let problems = diags.into_sorted();
        let files = built.unwrap_or_else(|| {
            panic!(
                "check accepted, build refused {replay}\n{}",
                render(&file, &problems)
            )
        });
        for (path, source) in support::drift::dart_files(&files) {
            let tree = support::drift::parse(source);
            let syntax = support::drift::syntax_problems(&tree, source);
            assert!(syntax.is_empty(), "{path} of {replay}\n{syntax:#?}");
        }
        catch_unwind(AssertUnwindSafe(|| support::Device::from_build(&files)))
            .unwrap_or_else(|_| panic!("the device migrations did not apply, {replay}"));
        accepted.push((replay, files));
    }
    // Names that broke the build once, always in the batch: an enum value `self` (a Rust
    // variant no raw identifier can spell), Dart's `final` and an enum's own `values`, an entity
    // called like the derive it uses.
    let fixed = "offgen: 1\napp: keywords\nentities:\n  Serialize:\n    fields:\n      \"type\": text\n      \"mode\": { type: enum, values: [self, final, values, index, in-progress, Type] }\n  Deserialize:\n    conflict: lww\n    owner: \"ref\"\n    fields:\n      \"ref\": text\n      \"select\": Serialize\n";
    let schema = support::schema(fixed);
    let files = backend::generate(&schema, &Previous::default(), &mut Diagnostics::new())
        .expect("the fixed spec builds");
    accepted.push((format!("the fixed spec:\n{fixed}"), files));
    // The property is only worth something if most generated specs get through the check.
    assert!(
        accepted.len() * 3 >= count,
        "only {} of {count} specs were accepted ({refused} refused): the generator needs tuning",
        accepted.len()
    );
    compiles(&accepted);
}

/// Compiles the generated server crates of `builds` together: one workspace of one crate
/// each, checked by one `cargo check` in this build's target directory (so the runtime and
/// its dependencies are not built again).
fn compiles(builds: &[(String, FileSet)]) {
    let root = tempfile::tempdir().unwrap();
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let runtime = repo.join("runtime").canonicalize().unwrap();
    let mut members = Vec::new();
    for (i, (_, files)) in builds.iter().enumerate() {
        // The whole build output: the crate includes its migrations and openapi.json.
        let out = root.path().join(format!("case_{i}"));
        for (path, text) in files.iter() {
            let at = out.join(path);
            std::fs::create_dir_all(at.parent().unwrap()).unwrap();
            std::fs::write(at, text).unwrap();
        }
        let dir = out.join("server");
        std::fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = \"case_{i}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
                 [lib]\npath = \"src/lib.rs\"\n\n\
                 [dependencies]\noffgen-runtime = {{ path = {:?}, features = [\"server\"] }}\n\n\
                 [lints.rust]\nwarnings = \"deny\"\n",
                runtime.display().to_string()
            ),
        )
        .unwrap();
        members.push(format!("\"case_{i}/server\""));
    }
    let manifest = std::fs::read_to_string(repo.join("Cargo.toml")).unwrap();
    let profiles = &manifest[manifest.find("[profile.").unwrap_or(manifest.len())..];
    std::fs::write(
        root.path().join("Cargo.toml"),
        format!(
            "[workspace]\nresolver = \"3\"\nmembers = [{}]\n\n{profiles}",
            members.join(", ")
        ),
    )
    .unwrap();
    std::fs::copy(repo.join("Cargo.lock"), root.path().join("Cargo.lock")).unwrap();
    let out = Command::new(env!("CARGO"))
        .args([
            "check",
            "--offline",
            "--workspace",
            "--message-format=short",
        ])
        .env("CARGO_TARGET_DIR", target_dir())
        .current_dir(root.path())
        .output()
        .unwrap();
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let failing: Vec<&str> = builds
            .iter()
            .enumerate()
            .filter(|(i, _)| stderr.contains(&format!("case_{i}")))
            .map(|(_, (replay, _))| replay.as_str())
            .collect();
        panic!(
            "the generated Rust does not compile:\n{stderr}\n\nspecs:\n{}",
            failing.join("\n")
        );
    }
}

/// The target directory this test was built in (`<target>/debug/deps/<test>`).
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    exe.ancestors().nth(3).unwrap().to_path_buf()
}
