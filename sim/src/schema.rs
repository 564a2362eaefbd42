//! The schema versions a simulated phone can run, and the server too: three builds of the
//! ranger example's spec made in memory, each on the one before, as a team makes them
//! (`offgen_testkit::builds`), with the same edits as the example's fleet-upgrade test
//! (examples/ranger/server/tests/fleet_upgrades.rs), so the fleet crosses everything a
//! schema change can do to a running fleet (issue 13):
//!
//! - v1: the example as it is (its checked-in build: CI holds it to `offgen build --check`);
//! - v2: `notes` renamed to `remarks`; `weather` (nullable) and `verified` (default false)
//!   added; the enum value `snare` added to `kind`; a new entity `Camera`;
//! - v3: `photoPath` dropped; `other` removed from `kind` (which gets a default); `battery`
//!   added to `Camera`.
//!
//! Each version is its device side (migrations and `sync.sql`) and its server (the plan the
//! runtime serves, made without compiling a crate), with the entities as that build describes
//! them: all the workload needs to write rows and the checks need to read them back.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use offgen_runtime::client::ClientSchema;
use offgen_runtime::model::{AppDef, Kind, Policy};
use offgen_testkit::builds::{Version, build_on};

/// A field as a device of one version holds it.
#[derive(Clone, Debug)]
pub struct FieldShape {
    /// Wire key.
    pub key: &'static str,
    /// Device column.
    pub column: &'static str,
    /// Type.
    pub kind: Kind,
    /// Whether null is allowed.
    pub nullable: bool,
    /// Whether values are unique per table (a unique index of its own).
    pub unique: bool,
}

/// An entity as a device of one version holds it.
#[derive(Clone, Debug)]
pub struct EntityShape {
    /// Table name (also the wire `entity`).
    pub table: &'static str,
    /// Declared fields.
    pub fields: Vec<FieldShape>,
    /// Conflict policy.
    pub policy: Policy,
    /// The owner field's key, for owner-scoped entities.
    pub owner: Option<&'static str>,
}

impl EntityShape {
    /// The field with this wire key.
    pub fn field(&self, key: &str) -> Option<&FieldShape> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// One build: the device side and the server of one app version.
#[derive(Clone, Debug)]
pub struct SchemaVersion {
    /// For traces: `v1`, `v2`, ...
    pub name: String,
    /// Its schema step (what its apps send in `Offgen-Schema-Step`).
    pub step: u32,
    /// Migration steps and sync statements.
    pub client: ClientSchema,
    /// The app as its server serves it (every earlier step in its shapes).
    pub app: &'static AppDef,
    /// The OpenAPI document its server serves.
    pub openapi: &'static str,
    /// The entities, in spec order.
    pub entities: Vec<EntityShape>,
}

impl SchemaVersion {
    /// The entity with this table name.
    pub fn entity(&self, table: &str) -> Option<&EntityShape> {
        self.entities.iter().find(|e| e.table == table)
    }

    /// What an app at `step` calls `key` of its `table` is called in this version: `None`
    /// when the field (or its entity) was dropped since, or this version does not serve
    /// `step`. A version at or before `step` (a server behind the app) keeps the key.
    pub fn key_from(&self, step: u32, table: &str, key: &str) -> Option<&'static str> {
        if step >= self.step {
            let entity = self.entity(table)?;
            return entity.field(key).map(|f| f.key);
        }
        let entity = self.app.shape(step)?.entity(table)?;
        entity.now?;
        entity.field(key)?.now
    }
}

/// The entities of an app as its server describes them. `unique` lists the fields that have
/// a single-field unique constraint (the server description does not carry them).
pub fn shapes(app: &AppDef, unique: &[(&str, &str)]) -> Vec<EntityShape> {
    app.entities
        .iter()
        .map(|e| EntityShape {
            table: e.table,
            fields: e
                .fields
                .iter()
                .map(|f| FieldShape {
                    key: f.key,
                    column: f.column,
                    kind: f.kind,
                    nullable: f.nullable,
                    unique: unique.contains(&(e.table, f.key)),
                })
                .collect(),
            policy: e.policy,
            owner: e.owner_field().map(|f| f.key),
        })
        .collect()
}

/// Whether `value` is one a field of `kind` holds (an enum value removed since is not: the
/// server step that removed it converted the stored ones).
pub fn holds(kind: Kind, value: &serde_json::Value) -> bool {
    match (kind, value) {
        (Kind::Enum(values), serde_json::Value::String(s)) => values.contains(&s.as_str()),
        _ => true,
    }
}

/// The example this simulation runs: `examples/ranger`.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ranger")
}

/// The example's spec as it is.
fn spec_v1() -> Result<String, String> {
    let path = example_dir().join("offgen.yaml");
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// A rename, an added nullable field, a field with a default, an added enum value and a new
/// entity.
fn spec_v2(v1: &str) -> String {
    let spec = v1
        .replace(
            "      notes: text?\n",
            "      remarks: { type: text, nullable: true, renamed_from: notes }\n      weather: text?\n      verified: { type: bool, default: false }\n",
        )
        .replace(
            "values: [wildlife, tracks, poaching, fire, damage, other] }",
            "values: [wildlife, tracks, poaching, fire, damage, other, snare] }",
        );
    format!(
        "{spec}\n  Camera:\n    doc: A camera trap.\n    fields:\n      name: text\n      sector: text?\n"
    )
}

/// A dropped field, a removed enum value (with a default for the field) and a field added
/// to the new entity.
fn spec_v3(v2: &str) -> String {
    v2.replace(
        "remarks: { type: text, nullable: true, renamed_from: notes }",
        "remarks: text?",
    )
    .replace(
        "      photoPath: { type: text, nullable: true, doc: Path of the photo on the device. }\n",
        "",
    )
    .replace(
        "values: [wildlife, tracks, poaching, fire, damage, other, snare] }",
        "values: [wildlife, tracks, poaching, fire, damage, snare], default: wildlife }",
    )
    .replace(
        "      sector: text?\n",
        "      sector: text?\n      battery: int?\n",
    )
    .replacen(
        "app: ranger\n",
        "app: ranger\nmigrate:\n  drop: [Observation.photoPath]\n  retype: [Observation.kind]\n",
        1,
    )
}

/// Every version a device can run, oldest first (built once per process: a build's app is
/// leaked to serve it).
pub fn versions() -> Result<Vec<SchemaVersion>, String> {
    static VERSIONS: OnceLock<Result<Vec<SchemaVersion>, String>> = OnceLock::new();
    VERSIONS.get_or_init(build_versions).clone()
}

fn build_versions() -> Result<Vec<SchemaVersion>, String> {
    let v1 = spec_v1()?;
    let v2 = spec_v2(&v1);
    let v3 = spec_v3(&v2);
    // Each edit must have found its text: a changed example must not quietly make a
    // version that changes less.
    let edited = v2.contains("renamed_from: notes")
        && v2.contains("other, snare]")
        && !v3.contains("photoPath: {")
        && v3.contains("default: wildlife")
        && v3.contains("battery: int?");
    if !edited {
        return Err("the example's spec changed: the v2/v3 edits no longer apply".to_owned());
    }
    let one = build_on(None, &v1);
    let two = build_on(Some(&one), &v2);
    let three = build_on(Some(&two), &v3);
    [one, two, three]
        .iter()
        .map(|files| {
            let version = Version::of(files);
            let openapi = files
                .get("openapi.json")
                .ok_or("a build without openapi.json")?;
            let step = version.app.step;
            Ok(SchemaVersion {
                name: format!("v{step}"),
                step,
                client: version.client,
                app: version.app,
                openapi: String::from(openapi).leak(),
                // Rangers' badge numbers are unique, and routes' sector and name together:
                // the apps write unique values there (two phones taking one value is a clash
                // the app must settle, which these apps do not do).
                entities: shapes(
                    version.app,
                    &[("rangers", "badgeNumber"), ("patrol_routes", "name")],
                ),
            })
        })
        .collect()
}
