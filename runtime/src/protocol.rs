//! The sync wire protocol (HTTP + JSON, camelCase keys).
//!
//! `POST /sync/push` takes a [`PushRequest`] and answers a [`PushResponse`] with one
//! [`PushResult`] per mutation, in order. `GET /sync/pull?cursor=C&limit=N` answers a
//! [`PullResponse`]. Record data travels as JSON objects keyed by the fields' wire names
//! (the Dart getter names, as Drift's `toJson()` writes them).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The request header in which a client names its schema step (its device database's
/// migration step) on every push and pull, so that a server serves each app version in its
/// own shape (docs/protocol.md, *Schema steps*). Without it, a request is taken as the
/// server's own step.
pub const SCHEMA_STEP_HEADER: &str = "offgen-schema-step";

/// Problem `type` of a push from a client whose schema step is newer than the server's: its
/// changes wait on the device, uncounted, until the server is upgraded.
pub const SCHEMA_AHEAD_PROBLEM: &str = "https://offgen.dev/problems/schema-ahead";

/// Problem `type` of a request from a client older than the oldest step the server still
/// serves: the app must be updated before it can sync again.
pub const UPGRADE_REQUIRED_PROBLEM: &str = "https://offgen.dev/problems/upgrade-required";

/// A batch of mutations from one device.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PushRequest {
    /// The device's stable id.
    pub client_id: String,
    /// Mutations in the order the device made them.
    pub mutations: Vec<Mutation>,
}

/// What a mutation does to its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Op {
    /// Create the row.
    Insert,
    /// Change some fields of the row.
    Update,
    /// Tombstone the row.
    Delete,
}

/// One change to one row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Mutation {
    /// Unique per mutation; a retry carries the same id, which makes pushes idempotent.
    pub mutation_id: String,
    /// The entity's table name.
    pub entity: String,
    /// The row's id.
    pub id: String,
    /// Insert, update or delete.
    pub op: Op,
    /// The server version the device last saw for this row (absent for inserts).
    #[serde(default, deserialize_with = "whole::option")]
    pub base_version: Option<i64>,
    /// The fields written (all of them for an insert, the changed ones for an update).
    #[serde(default)]
    pub data: Map<String, Value>,
    /// When the entry was last written, epoch ms on the device's clock corrected by the
    /// server's (`serverTime`). Used by `lww` entities, ignored by the others.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::option"
    )]
    pub stamp: Option<i64>,
    /// For an update: each changed field's own last write (wire key -> epoch ms), where it
    /// differs from `stamp`. Used by `lww` entities, ignored by the others.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "whole::option_map"
    )]
    pub field_stamps: Option<BTreeMap<String, i64>>,
}

/// Integers of the push envelope as JSON Schema's `integer` has them: `3` and also `3.0`
/// (some JSON writers print whole doubles so), but never a fraction or a double past 2^53
/// (see [`crate::values::whole_number`]).
mod whole {
    use std::collections::BTreeMap;

    use serde::de::Error;
    use serde::{Deserialize, Deserializer};

    #[derive(Deserialize)]
    #[serde(transparent)]
    struct Whole(#[serde(deserialize_with = "integer")] i64);

    fn integer<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
        let n = serde_json::Number::deserialize(deserializer)?;
        crate::values::whole_number(&n)
            .ok_or_else(|| D::Error::custom(format!("invalid value: {n}, expected an integer")))
    }

    pub(super) fn option<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        Ok(Option::<Whole>::deserialize(d)?.map(|w| w.0))
    }

    pub(super) fn option_map<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<BTreeMap<String, i64>>, D::Error> {
        let map = Option::<BTreeMap<String, Whole>>::deserialize(d)?;
        Ok(map.map(|m| m.into_iter().map(|(k, w)| (k, w.0)).collect()))
    }
}

/// The outcome of one mutation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    /// Applied; `version` is the row's new version.
    Accepted,
    /// Not applied because the row moved on; `record` is the server's row.
    Conflict,
    /// Not applied and never will be (bad data, unknown entity, forbidden); see `error`.
    Rejected,
}

/// The answer to one mutation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResult {
    /// Echoes the mutation's id.
    pub mutation_id: String,
    /// Echoes the row's id.
    pub id: String,
    /// What happened.
    pub status: PushStatus,
    /// The row's version after this result (absent when rejected before any row was read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The server's current record: on conflict; and on an `lww` update that was accepted
    /// but merged (a field lost, or it was based on an older version), the merged row, which
    /// the device adopts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<Record>,
    /// On a merged `lww` update: the wire keys whose values lost to newer ones (kept in the
    /// audit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overridden: Option<Vec<String>>,
    /// Why, when rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ItemError>,
}

/// Why a mutation was rejected: a stable machine-readable code and a sentence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemError {
    /// Stable code: `invalid-id`, `unknown-entity`, `invalid-data`, `not-found`, `append-only`
    /// or `invalid-request` (docs/protocol.md).
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// Results in the order of the request's mutations.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PushResponse {
    /// One per mutation.
    pub results: Vec<PushResult>,
    /// The server's clock, epoch ms, when it answered: devices correct their stamps with it.
    #[serde(default)]
    pub server_time: i64,
}

/// A row as the server holds it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// The entity's table name.
    pub entity: String,
    /// The row's id.
    pub id: String,
    /// The server version.
    pub version: i64,
    /// Whether the row is a tombstone.
    pub deleted: bool,
    /// Epoch ms of the row's last change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<i64>,
    /// Epoch ms of the delete, for a tombstone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<i64>,
    /// Every field, by wire key.
    pub data: Map<String, Value>,
}

/// A page of changes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PullResponse {
    /// Changed rows, oldest change first.
    pub records: Vec<Record>,
    /// Pass back as `cursor` to get the changes after this page.
    pub cursor: String,
    /// Whether another page is ready now.
    pub has_more: bool,
    /// The server's clock, epoch ms, when it answered.
    #[serde(default)]
    pub server_time: i64,
}
