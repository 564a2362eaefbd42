//! A device database: opened or created, migrated to the app's schema, and what the app asks
//! of its sync state (a status badge, failed entries, conflicts, clashes, notices).

use std::path::Path;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, OpenFlags, ToSql};

use super::ClientError;
use super::schema::ClientSchema;

/// A device's SQLite database, built by the generated migration steps and synced by running
/// the generated `sync.sql` statements. The app writes its rows through
/// [`Device::connection`] with plain SQL; the generated triggers queue every change.
pub struct Device {
    conn: Connection,
    schema: ClientSchema,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("path", &self.conn.path())
            .field("step", &self.schema.step())
            .finish()
    }
}

/// The status badge's numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Changes queued or in flight.
    pub queue_depth: i64,
    /// Age of the oldest of them (ms), if any.
    pub oldest_pending_age_ms: Option<i64>,
    /// When the next change held back by a retry delay is due (device clock, epoch ms).
    pub next_attempt_at: Option<i64>,
    /// Changes set aside: rejected too often, or too large to send.
    pub failed: i64,
    /// Rows whose change met a newer server version (`version` entities).
    pub conflicts: i64,
    /// Server records waiting because a local row holds one of their unique values.
    pub clashes: i64,
    /// Local changes the server decided against on its own, not yet dismissed.
    pub notices: i64,
    /// When a sync last pushed everything it could and pulled to the end.
    pub last_synced_at: Option<i64>,
}

/// A change set aside as failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedEntry {
    /// Its queue position: what [`Device::retry_failed`] and [`Device::discard_failed`] take.
    pub seq: i64,
    /// The entity's table.
    pub entity: String,
    /// The row.
    pub row_id: String,
    /// `insert`, `update` or `delete`.
    pub op: String,
    /// What was last prepared to send (JSON), if anything.
    pub payload: Option<String>,
    /// How often the server rejected it.
    pub attempts: i64,
    /// Why (`code: message`).
    pub last_error: Option<String>,
    /// When the change was made.
    pub created_at: i64,
}

/// A change that met a newer server version (policy `version`): both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conflict {
    /// The entity's table.
    pub entity: String,
    /// The row.
    pub row_id: String,
    /// The local change's op.
    pub op: String,
    /// The server's version.
    pub server_version: Option<i64>,
    /// The server's record (JSON).
    pub server_record: Option<String>,
    /// The local change (JSON).
    pub local_payload: String,
    /// For the user.
    pub message: String,
    /// When it was found.
    pub created_at: i64,
    /// The server's row is a tombstone: only [`Resolution::TakeServer`] settles it (the
    /// server takes no change to a deleted row). An app that wants to keep the local values
    /// writes them to a new row.
    pub server_deleted: bool,
}

/// A server record waiting because a local row holds one of its unique values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Clash {
    /// The entity's table.
    pub entity: String,
    /// The server row's id.
    pub id: String,
    /// Its version.
    pub version: i64,
    /// Its fields (JSON).
    pub data: String,
    /// The local row holding the value.
    pub local_row_id: String,
    /// For the user.
    pub message: String,
    /// When it was found.
    pub created_at: i64,
}

/// A local change the server replaced (lww: with newer values; server_wins: with its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// What [`Device::dismiss_notice`] takes.
    pub id: i64,
    /// The entity's table.
    pub entity: String,
    /// The row.
    pub row_id: String,
    /// The local change's op.
    pub op: String,
    /// What this device wrote (JSON).
    pub local_payload: String,
    /// The server's record the row now shows (JSON), if the server sent it.
    pub server_record: Option<String>,
    /// The wire keys whose local values lost (empty: the whole change lost).
    pub overridden: Vec<String>,
    /// For the user.
    pub message: String,
    /// When it happened.
    pub created_at: i64,
}

/// How the app settles a conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Send the local change again, on top of the server's version.
    KeepLocal,
    /// Drop the local changes to the row and take the server's record.
    TakeServer,
}

impl Device {
    /// Opens (creating it if missing) the database at `path` and applies the schema's steps
    /// it has not run yet.
    pub fn open(path: impl AsRef<Path>, schema: &ClientSchema) -> Result<Device, ClientError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        // WAL lets the app read while a sync writes; a sync and the app's own writes wait
        // for each other briefly instead of failing with SQLITE_BUSY.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        Device::with_connection(conn, schema)
    }

    /// An in-memory device (tests, simulations).
    pub fn open_in_memory(schema: &ClientSchema) -> Result<Device, ClientError> {
        Device::with_connection(Connection::open_in_memory()?, schema)
    }

    /// Takes over an open connection, and migrates it.
    pub fn with_connection(conn: Connection, schema: &ClientSchema) -> Result<Device, ClientError> {
        // The queue triggers make SQLite keep a statement journal; in a temporary file it costs
        // several times the write itself (docs/BENCHMARKS.md).
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        // Foreign keys off on every connection, not only on the one that migrates: a device
        // holds a partial copy that fills in page by page, so a pulled row may refer to a row
        // of a later page (or outside the user's scope); the server enforces references.
        // SQLite's default is off, but rusqlite's bundled build (like other builds) turns them
        // on by default, and then a reopened device failed every pull on such a page.
        conn.pragma_update(None, "foreign_keys", "OFF")?;
        // Every sync.sql statement stays prepared (rusqlite keeps 16 by default; a sync runs
        // about 30, and a pull page a dozen).
        conn.set_prepared_statement_cache_capacity(64);
        super::reals::register(&conn)?;
        let mut device = Device {
            conn,
            schema: schema.clone(),
        };
        device.migrate()?;
        Ok(device)
    }

    /// Applies the steps of the schema this database has not run yet, each in one transaction
    /// (a failed step changes nothing: the database stays on its previous step). A database
    /// made by a newer schema is refused untouched.
    fn migrate(&mut self) -> Result<(), ClientError> {
        let current = self.step()?;
        let newest = self.schema.step();
        if current > newest {
            return Err(ClientError::NewerDatabase {
                database: current,
                schema: newest,
            });
        }
        if current == newest {
            return Ok(());
        }
        self.conn.pragma_update(None, "foreign_keys", "OFF")?;
        for step in self.schema.steps() {
            if step.number <= current {
                continue;
            }
            let tx = self.conn.transaction()?;
            for statement in &step.statements {
                tx.execute_batch(statement)
                    .map_err(|error| ClientError::Migration {
                        step: step.number,
                        error,
                    })?;
            }
            tx.commit()?;
        }
        Ok(())
    }

    /// The schema step the database is at (`PRAGMA user_version`).
    pub fn step(&self) -> Result<u32, ClientError> {
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok(u32::try_from(version).unwrap_or(0))
    }

    /// The schema the device runs.
    pub fn schema(&self) -> &ClientSchema {
        &self.schema
    }

    /// The database, for the app's own reads and writes.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The database, mutably (transactions).
    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Closes the device, giving back its connection.
    pub fn into_connection(self) -> Connection {
        self.conn
    }

    /// Runs a named statement of `sync.sql`; returns how many rows it changed.
    pub(crate) fn execute(
        &self,
        name: &str,
        params: &[(&str, &dyn ToSql)],
    ) -> Result<usize, ClientError> {
        let sql = self.sql(name)?;
        Ok(self.conn.prepare_cached(sql)?.execute(params)?)
    }

    /// Runs a named statement; returns its rows.
    pub(crate) fn query<T>(
        &self,
        name: &str,
        params: &[(&str, &dyn ToSql)],
        row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Vec<T>, ClientError> {
        let sql = self.sql(name)?;
        let mut statement = self.conn.prepare_cached(sql)?;
        let rows = statement.query_map(params, row)?;
        Ok(rows.collect::<Result<Vec<T>, _>>()?)
    }

    fn sql(&self, name: &str) -> Result<&str, ClientError> {
        self.schema
            .sql(name)
            .ok_or_else(|| ClientError::MissingStatement(name.to_owned()))
    }

    /// The device's clock (epoch ms): the system clock, or the fixed one set by
    /// [`Device::set_fixed_clock`].
    pub fn now(&self) -> Result<i64, ClientError> {
        self.query("device_now", &[], |r| r.get(0))?
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::MissingStatement("device_now".to_owned()))
    }

    /// Pins the device's clock to `ms` (or back to the system clock with `None`), for the
    /// triggers and the sync alike: simulations and tests run on a clock of their own.
    pub fn set_fixed_clock(&self, ms: Option<i64>) -> Result<(), ClientError> {
        match ms {
            Some(ms) => self.conn.execute(
                "INSERT INTO \"_offgen_meta\" (\"key\", \"value\") VALUES ('fixed_clock_ms', ?1) \
                 ON CONFLICT (\"key\") DO UPDATE SET \"value\" = excluded.\"value\"",
                [ms.to_string()],
            )?,
            None => self.conn.execute(
                "DELETE FROM \"_offgen_meta\" WHERE \"key\" = 'fixed_clock_ms'",
                [],
            )?,
        };
        Ok(())
    }

    /// This device's id, sent with every push.
    pub fn client_id(&self) -> Result<String, ClientError> {
        self.query("get_client_id", &[], |r| r.get(0))?
            .into_iter()
            .next()
            .ok_or_else(|| ClientError::MissingStatement("get_client_id".to_owned()))
    }

    /// The numbers for a status badge.
    pub fn stats(&self) -> Result<Stats, ClientError> {
        let now = self.now()?;
        let stats = self.query("sync_stats", &[(":now", &now)], |r| {
            Ok(Stats {
                queue_depth: r.get("queue_depth")?,
                oldest_pending_age_ms: r.get("oldest_pending_age_ms")?,
                next_attempt_at: r.get("next_attempt_at")?,
                failed: r.get("failed")?,
                conflicts: r.get("conflicts")?,
                clashes: r.get("clashes")?,
                notices: r.get("notices")?,
                last_synced_at: r.get("last_synced_at")?,
            })
        })?;
        Ok(stats.into_iter().next().unwrap_or_default())
    }

    /// Makes changes waiting out a retry delay (after the server rejected them) due at once,
    /// for a "Sync now" button: call it, then sync. Their attempts still count. Returns how
    /// many were waiting.
    pub fn retry_waiting(&self) -> Result<usize, ClientError> {
        self.execute("retry_waiting", &[])
    }

    /// Changes set aside as failed, oldest first.
    pub fn list_failed(&self) -> Result<Vec<FailedEntry>, ClientError> {
        self.query("list_failed", &[], |r| {
            Ok(FailedEntry {
                seq: r.get("seq")?,
                entity: r.get("entity")?,
                row_id: r.get("row_id")?,
                op: r.get("op")?,
                payload: r.get("payload")?,
                attempts: r.get("attempts")?,
                last_error: r.get("last_error")?,
                created_at: r.get("created_at")?,
            })
        })
    }

    /// Queues a failed change again, with fresh attempts. Returns whether there was one.
    pub fn retry_failed(&self, seq: i64) -> Result<bool, ClientError> {
        Ok(self.execute("retry_failed", &[(":seq", &seq)])? > 0)
    }

    /// Drops a failed change: it is not sent; the row keeps its local values.
    pub fn discard_failed(&self, seq: i64) -> Result<bool, ClientError> {
        Ok(self.execute("discard_failed", &[(":seq", &seq)])? > 0)
    }

    /// Conflicts waiting for the app, oldest first.
    pub fn list_conflicts(&self) -> Result<Vec<Conflict>, ClientError> {
        self.query("list_conflicts", &[], |r| {
            Ok(Conflict {
                entity: r.get("entity")?,
                row_id: r.get("row_id")?,
                op: r.get("op")?,
                server_version: r.get("server_version")?,
                server_record: r.get("server_record")?,
                local_payload: r.get("local_payload")?,
                message: r.get("message")?,
                created_at: r.get("created_at")?,
                server_deleted: r.get::<_, i64>("server_deleted")? != 0,
            })
        })
    }

    /// Settles a conflict. Returns whether it was settled: false when there is none, and for
    /// [`Resolution::KeepLocal`] of a row the server deleted (see [`Conflict::server_deleted`]).
    pub fn resolve_conflict(
        &self,
        entity: &str,
        row_id: &str,
        resolution: Resolution,
    ) -> Result<bool, ClientError> {
        let resolution = match resolution {
            Resolution::KeepLocal => "keep_local",
            Resolution::TakeServer => "take_server",
        };
        Ok(self.execute(
            "resolve_conflict",
            &[
                (":entity", &entity),
                (":row_id", &row_id),
                (":resolution", &resolution),
            ],
        )? > 0)
    }

    /// Server records waiting for a unique clash, oldest first.
    pub fn list_clashes(&self) -> Result<Vec<Clash>, ClientError> {
        self.query("list_clashes", &[], |r| {
            Ok(Clash {
                entity: r.get("entity")?,
                id: r.get("id")?,
                version: r.get("version")?,
                data: r.get("data")?,
                local_row_id: r.get("local_row_id")?,
                message: r.get("message")?,
                created_at: r.get("created_at")?,
            })
        })
    }

    /// Notices of local changes the server replaced, oldest first.
    pub fn list_notices(&self) -> Result<Vec<Notice>, ClientError> {
        self.query("list_notices", &[], |r| {
            let overridden: Option<String> = r.get("overridden")?;
            Ok(Notice {
                id: r.get("id")?,
                entity: r.get("entity")?,
                row_id: r.get("row_id")?,
                op: r.get("op")?,
                local_payload: r.get("local_payload")?,
                server_record: r.get("server_record")?,
                overridden: overridden
                    .and_then(|o| serde_json::from_str(&o).ok())
                    .unwrap_or_default(),
                message: r.get("message")?,
                created_at: r.get("created_at")?,
            })
        })
    }

    /// Dismisses one notice. Returns whether there was one.
    pub fn dismiss_notice(&self, id: i64) -> Result<bool, ClientError> {
        Ok(self.execute("dismiss_notice", &[(":id", &id)])? > 0)
    }

    /// Dismisses every notice; returns how many.
    pub fn dismiss_all_notices(&self) -> Result<usize, ClientError> {
        self.execute("dismiss_all_notices", &[])
    }
}

/// A SQL value as JSON (text as a string, blobs as hex), for tests and tools that look at rows.
pub fn sql_to_json(value: SqlValue) -> serde_json::Value {
    match value {
        SqlValue::Null => serde_json::Value::Null,
        SqlValue::Integer(i) => i.into(),
        SqlValue::Real(f) => {
            serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into)
        }
        SqlValue::Text(t) => t.into(),
        SqlValue::Blob(b) => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
            .into(),
    }
}
