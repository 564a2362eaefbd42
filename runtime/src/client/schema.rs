//! What a device needs of a build: its migration steps and its `sync.sql` statements.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use crate::scripts::{self, MigrationStep, ScriptError, SyncStatement};

/// The statements the client runs. A `sync.sql` that lacks one was written by another offgen
/// version than this client's, which is refused up front rather than mid-sync.
pub(crate) const REQUIRED: &[&str] = &[
    "device_now",
    "get_client_id",
    "acquire_sync_lease",
    "release_sync_lease",
    "recover_inflight",
    "prepare_batch",
    "set_aside_oversized",
    "claim_batch",
    "claimed_entries",
    "release_inflight",
    "set_aside_claimed",
    "apply_push_results",
    "clear_push_results",
    "set_clock",
    "get_pull_cursor",
    "apply_pulled_records",
    "take_clashes",
    "clear_clashes",
    "unknown_pulled_records",
    "clear_inbox",
    "set_pull_cursor",
    "set_last_synced",
    "sync_stats",
    "retry_waiting",
    "list_failed",
    "retry_failed",
    "discard_failed",
    "list_conflicts",
    "resolve_conflict",
    "list_clashes",
    "list_notices",
    "dismiss_notice",
    "dismiss_all_notices",
];

/// The statements of the attachment loop, in `sync.sql` of a schema with attachment fields
/// only: all of them, or none.
pub(crate) const ATTACHMENT_STATEMENTS: &[&str] = &[
    "attach_file",
    "acquire_attachment_lease",
    "release_attachment_lease",
    "recover_attachment_uploads",
    "claim_attachment_upload",
    "claimed_attachment",
    "confirm_attachment_upload",
    "retry_attachment_upload",
    "set_aside_attachment",
    "release_attachment_upload",
    "attachment_downloads_due",
    "confirm_attachment_download",
    "retry_attachment_download",
    "find_attachment",
    "evictable_attachments",
    "evict_attachment",
    "forget_evicted",
    "attachment_stats",
    "list_failed_attachments",
    "retry_failed_attachment",
    "discard_attachment",
    "retry_waiting_attachments",
    "set_attachment_policy",
];

/// A device schema: the migration steps that build the database and the named statements of
/// the sync algorithm, as `offgen build` wrote them under `client/`.
#[derive(Clone, Debug)]
pub struct ClientSchema {
    steps: Vec<MigrationStep>,
    statements: HashMap<String, SyncStatement>,
}

impl ClientSchema {
    /// From the files' texts: the migration steps as `(file name, text)` pairs (any order)
    /// and the text of `sync.sql`. With `include_str!` the schema is compiled into the app.
    pub fn from_texts<'a>(
        migrations: impl IntoIterator<Item = (&'a str, &'a str)>,
        sync_sql: &str,
    ) -> Result<ClientSchema, ScriptError> {
        let steps = scripts::parse_migrations(migrations)?;
        if steps.is_empty() {
            return Err(ScriptError {
                file: "client/migrations".to_owned(),
                message: "no migration steps".to_owned(),
            });
        }
        let statements: HashMap<String, SyncStatement> = scripts::parse_sync_sql(sync_sql)?
            .into_iter()
            .map(|s| (s.name.clone(), s))
            .collect();
        let attachments = statements.contains_key(ATTACHMENT_STATEMENTS[0]);
        let missing: Vec<&str> = REQUIRED
            .iter()
            .chain(ATTACHMENT_STATEMENTS.iter().filter(|_| attachments))
            .copied()
            .filter(|name| !statements.contains_key(*name))
            .collect();
        if !missing.is_empty() {
            return Err(ScriptError {
                file: "sync.sql".to_owned(),
                message: format!(
                    "lacks the statements {} that this client runs: build it with the same offgen version",
                    missing.join(", ")
                ),
            });
        }
        Ok(ClientSchema { steps, statements })
    }

    /// From a `client/` folder written by `offgen build` (`migrations/*.sql` and `sync.sql`).
    pub fn from_dir(dir: &Path) -> Result<ClientSchema, ScriptError> {
        let read_error = |path: &Path, e: std::io::Error| ScriptError {
            file: path.display().to_string(),
            message: e.to_string(),
        };
        let sync_path = dir.join("sync.sql");
        let sync = fs::read_to_string(&sync_path).map_err(|e| read_error(&sync_path, e))?;
        let migrations_dir = dir.join("migrations");
        let mut files = Vec::new();
        for entry in fs::read_dir(&migrations_dir).map_err(|e| read_error(&migrations_dir, e))? {
            let path = entry.map_err(|e| read_error(&migrations_dir, e))?.path();
            if path.extension().is_some_and(|x| x == "sql") {
                let text = fs::read_to_string(&path).map_err(|e| read_error(&path, e))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                files.push((name, text));
            }
        }
        ClientSchema::from_texts(files.iter().map(|(n, t)| (n.as_str(), t.as_str())), &sync)
    }

    /// The migration steps, in order.
    pub fn steps(&self) -> &[MigrationStep] {
        &self.steps
    }

    /// The schema step a database built by this schema is at (its `PRAGMA user_version`).
    pub fn step(&self) -> u32 {
        self.steps.last().map_or(0, |s| s.number)
    }

    /// A named statement of `sync.sql`.
    pub fn statement(&self, name: &str) -> Option<&SyncStatement> {
        self.statements.get(name)
    }

    /// Whether the schema has attachment fields (and `sync.sql` the attachment loop).
    pub fn has_attachments(&self) -> bool {
        self.statements.contains_key(ATTACHMENT_STATEMENTS[0])
    }

    /// The SQL of a statement the client runs (`from_texts` checked they all exist).
    pub(crate) fn sql(&self, name: &str) -> Option<&str> {
        debug_assert!(
            REQUIRED.contains(&name) || ATTACHMENT_STATEMENTS.contains(&name),
            "{name} is not in REQUIRED"
        );
        self.statements.get(name).map(|s| s.sql.as_str())
    }
}
