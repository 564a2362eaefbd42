//! The schema versions a simulated device can run. Each is the `client/` output of one build
//! (its migration steps and `sync.sql`) with the entities as that build describes them, which
//! is all the workload needs to write rows and the checks need to read them back.
//!
//! The ranger example has one version today. A fleet upgrade (issue 13) adds one entry to
//! [`versions`] per later build; the run then starts some devices on older versions and
//! upgrades them midway (`Event::Upgrade`), with their writes still queued.

use std::path::{Path, PathBuf};

use offgen_runtime::client::ClientSchema;
use offgen_runtime::model::{AppDef, Kind, Policy};

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

/// One build's device side.
#[derive(Clone, Debug)]
pub struct SchemaVersion {
    /// For traces: `v1`, `v2`, ...
    pub name: String,
    /// Migration steps and sync statements.
    pub client: ClientSchema,
    /// The entities, in spec order.
    pub entities: Vec<EntityShape>,
}

impl SchemaVersion {
    /// The entity with this table name.
    pub fn entity(&self, table: &str) -> Option<&EntityShape> {
        self.entities.iter().find(|e| e.table == table)
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

/// The example this simulation runs: `examples/ranger`.
pub fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/ranger")
}

/// Every version a device can run, oldest first. The newest is the one the server runs.
pub fn versions() -> Result<Vec<SchemaVersion>, String> {
    let dir = example_dir().join("client");
    let client = ClientSchema::from_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    Ok(vec![SchemaVersion {
        name: format!("v{}", client.step()),
        client,
        // Rangers' badge numbers are unique, and routes' sector and name together: the apps
        // write unique values there (two phones taking one value is a clash the app must
        // settle, which these apps do not do).
        entities: shapes(
            &ranger_server::APP,
            &[("rangers", "badgeNumber"), ("patrol_routes", "name")],
        ),
    }])
}
