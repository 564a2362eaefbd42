//! The database behind a server: SQLite (embedded, the default) or PostgreSQL.
//!
//! Every statement the engine runs is `'static` SQL from generated code or from this crate;
//! values are always bound, never spliced into SQL. The two dialects differ only in which
//! statement text is chosen, so the engine above is written once.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous,
};
use sqlx::{PgPool, Postgres, Row as _, Sqlite, SqlitePool, Transaction};

use crate::model::{AppDef, Dialects};

/// Which SQL dialect a database speaks (the generator's enum too).
pub use crate::model::Dialect;

/// A connection pool to the app's database.
#[derive(Clone, Debug)]
pub enum Database {
    /// An embedded SQLite file.
    Sqlite(SqlitePool),
    /// A PostgreSQL server.
    Postgres(PgPool),
}

/// How many connections a [`Database`] keeps and how long a request waits for one.
#[derive(Clone, Copy, Debug)]
pub struct PoolOptions {
    /// The most connections open at once.
    pub max_connections: u32,
    /// How long a request waits for a free connection (or for the database to accept a new
    /// one) before it is answered 503.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> PoolOptions {
        PoolOptions {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
    }
}

impl Database {
    /// Connects to `url` with the default [`PoolOptions`]: `sqlite:path` (created if missing)
    /// or `postgres://...`. PostgreSQL connections run with `enable_seqscan = off` (see the
    /// comment inside); run your own analytical queries on a pool of your own.
    pub async fn connect(url: &str) -> Result<Database, sqlx::Error> {
        Database::connect_with(url, PoolOptions::default()).await
    }

    /// [`Database::connect`] with chosen pool options.
    pub async fn connect_with(url: &str, pool: PoolOptions) -> Result<Database, sqlx::Error> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Every statement the engine runs is an index lookup or an index-ordered scan.
            // PostgreSQL caches a generic plan per prepared statement; made while a new
            // table is still small, that plan can be a sequential scan that it keeps using as
            // the table grows (until autovacuum happens to analyze it), making pushes slower
            // with every row. Measured: 3x slower pushes after 60,000 rows on a fresh database
            // (docs/BENCHMARKS.md). Telling the planner to avoid sequential scans on these
            // connections keeps every plan on its index.
            let options = PgConnectOptions::from_str(url)?
                .options([("enable_seqscan", "off"), ("enable_bitmapscan", "off")]);
            // Connections are checked before use (sqlx's default), so after a database restart
            // the dead ones are replaced instead of failing the requests that draw them.
            let pool = PgPoolOptions::new()
                .max_connections(pool.max_connections)
                .acquire_timeout(pool.acquire_timeout)
                .connect_with(options)
                .await?;
            Ok(Database::Postgres(pool))
        } else {
            let options = SqliteConnectOptions::from_str(url)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10))
                .pragma("temp_store", "memory");
            // One writer at a time is SQLite's model; readers run beside it under WAL.
            let pool = SqlitePoolOptions::new()
                .max_connections(pool.max_connections.min(8))
                .acquire_timeout(pool.acquire_timeout)
                // The engine's SQLite statements convert reals with these (sqlite_reals.rs).
                .after_connect(|connection, _| Box::pin(super::sqlite_reals::register(connection)))
                .connect_with(options)
                .await?;
            Ok(Database::Sqlite(pool))
        }
    }

    /// Which dialect this database speaks.
    pub fn dialect(&self) -> Dialect {
        match self {
            Database::Sqlite(_) => Dialect::Sqlite,
            Database::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Idle connections and all connections held by the pool.
    pub(crate) fn pool_state(&self) -> (usize, u32) {
        match self {
            Database::Sqlite(p) => (p.num_idle(), p.size()),
            Database::Postgres(p) => (p.num_idle(), p.size()),
        }
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        match self {
            Database::Sqlite(p) => p.close().await,
            Database::Postgres(p) => p.close().await,
        }
    }

    /// Runs a trivial statement on a pooled connection: the database answers, and a
    /// connection can be had.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        match self {
            Database::Sqlite(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
            Database::Postgres(p) => sqlx::query("SELECT 1").execute(p).await.map(|_| ()),
        }
    }

    /// A transaction that will write. On SQLite it takes the write lock at once
    /// (`BEGIN IMMEDIATE`), so it never fails halfway when a reader tries to upgrade.
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Database::Sqlite(p) => Tx::Sqlite(p.begin_with("BEGIN IMMEDIATE").await?),
            Database::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// A transaction that only reads.
    pub(crate) async fn begin_read(&self) -> Result<Tx, sqlx::Error> {
        Ok(match self {
            Database::Sqlite(p) => Tx::Sqlite(p.begin().await?),
            Database::Postgres(p) => Tx::Postgres(p.begin().await?),
        })
    }

    /// Applies the app's server migrations this database has not run yet, each in its own
    /// transaction. On PostgreSQL an advisory lock keeps two servers starting at once from
    /// running the same step twice. A database whose history is not a start of this build's
    /// (a step this build does not know, from a newer build; or a step of another name) is
    /// refused untouched: serving it could write rows the schema does not expect.
    pub async fn migrate(&self, app: &AppDef) -> Result<(), MigrateError> {
        let steps = self.pick(app.migrations);
        let mut tx = self.begin_write().await?;
        // Under the lock too: PostgreSQL's CREATE TABLE IF NOT EXISTS is not safe against a
        // concurrent one (the loser fails on the catalog's unique index).
        tx.lock_migrations().await?;
        tx.exec(
            Dialects {
                sqlite: "CREATE TABLE IF NOT EXISTS \"_offgen_migrations\" (\"number\" INTEGER NOT NULL PRIMARY KEY, \"name\" TEXT NOT NULL, \"applied_at\" INTEGER NOT NULL)",
                postgres: "CREATE TABLE IF NOT EXISTS \"_offgen_migrations\" (\"number\" bigint NOT NULL PRIMARY KEY, \"name\" text NOT NULL, \"applied_at\" bigint NOT NULL)",
            },
            &[],
        )
        .await?;
        tx.commit().await?;
        for step in steps {
            let mut tx = self.begin_write().await?;
            tx.lock_migrations().await?;
            let applied = tx
                .rows(
                    Dialects {
                        sqlite: "SELECT \"number\", \"name\" FROM \"_offgen_migrations\" ORDER BY \"number\"",
                        postgres: "SELECT \"number\", \"name\" FROM \"_offgen_migrations\" ORDER BY \"number\"",
                    },
                    &[],
                )
                .await?;
            let mut done = false;
            for row in &applied {
                let (number, name) = (row.int("number")?, row.text("name")?);
                match steps.iter().find(|s| i64::from(s.number) == number) {
                    Some(known) if known.name == name => done |= known.number == step.number,
                    Some(known) => {
                        return Err(MigrateError::History(format!(
                            "the database ran step {number} as `{name}`, but this build's step {number} is `{}`: \
                             it was migrated by a build of another spec history",
                            known.name
                        )));
                    }
                    None => {
                        return Err(MigrateError::History(format!(
                            "the database ran step {number} (`{name}`), which this build does not have \
                             (it knows steps 1 to {}): it was migrated by a newer build; run that build",
                            steps.len()
                        )));
                    }
                }
            }
            if !done {
                tx.script(step.sql).await?;
                tx.exec(
                    Dialects {
                        sqlite: "INSERT INTO \"_offgen_migrations\" (\"number\", \"name\", \"applied_at\") VALUES (?1, ?2, ?3)",
                        postgres: "INSERT INTO \"_offgen_migrations\" (\"number\", \"name\", \"applied_at\") VALUES ($1, $2, $3)",
                    },
                    &[Arg::Int(i64::from(step.number)), Arg::Text(step.name.to_owned()), Arg::Int(super::now_ms())],
                )
                .await?;
            }
            tx.commit().await?;
        }
        Ok(())
    }

    /// The value for this database's dialect.
    pub fn pick<T>(&self, options: Dialects<T>) -> T {
        match self {
            Database::Sqlite(_) => options.sqlite,
            Database::Postgres(_) => options.postgres,
        }
    }
}

/// Why [`Database::migrate`] did not bring the database up to date.
#[derive(Debug)]
pub enum MigrateError {
    /// The database failed.
    Database(sqlx::Error),
    /// The database's migration history does not belong to this build.
    History(String),
}

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrateError::Database(e) => write!(f, "{e}"),
            MigrateError::History(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for MigrateError {}

impl From<sqlx::Error> for MigrateError {
    fn from(e: sqlx::Error) -> MigrateError {
        MigrateError::Database(e)
    }
}

/// A bound value.
#[derive(Clone, Debug)]
pub(crate) enum Arg {
    /// Text.
    Text(String),
    /// Text or NULL.
    OptText(Option<String>),
    /// A 64-bit integer.
    Int(i64),
}

/// An open transaction.
pub(crate) enum Tx {
    Sqlite(Transaction<'static, Sqlite>),
    Postgres(Transaction<'static, Postgres>),
}

/// A result row.
pub(crate) enum Row {
    Sqlite(SqliteRow),
    Postgres(PgRow),
}

impl Row {
    pub fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.try_get(column),
            Row::Postgres(r) => r.try_get(column),
        }
    }

    pub fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.try_get(column),
            Row::Postgres(r) => r.try_get(column),
        }
    }

    pub fn int(&self, column: &str) -> Result<i64, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.try_get(column),
            Row::Postgres(r) => r.try_get(column),
        }
    }

    pub fn opt_int(&self, column: &str) -> Result<Option<i64>, sqlx::Error> {
        match self {
            Row::Sqlite(r) => r.try_get(column),
            Row::Postgres(r) => r.try_get(column),
        }
    }
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(t) => query.bind(t.clone()),
                Arg::OptText(t) => query.bind(t.clone()),
                Arg::Int(i) => query.bind(*i),
            };
        }
        query
    }};
}

impl Tx {
    /// Waits until no other server migrates this database (PostgreSQL: a transaction-scoped
    /// advisory lock; SQLite's write transaction is exclusive already).
    async fn lock_migrations(&mut self) -> Result<(), sqlx::Error> {
        if let Tx::Postgres(t) = self {
            // Any fixed key: it only has to be the same for every offgen server.
            sqlx::query("SELECT pg_advisory_xact_lock(4242424242)")
                .execute(&mut **t)
                .await?;
        }
        Ok(())
    }

    /// Runs a statement that returns rows.
    pub async fn rows(
        &mut self,
        sql: Dialects<&'static str>,
        args: &[Arg],
    ) -> Result<Vec<Row>, sqlx::Error> {
        match self {
            Tx::Sqlite(t) => {
                let rows = bind_all!(sqlx::query(sql.sqlite), args)
                    .fetch_all(&mut **t)
                    .await?;
                Ok(rows.into_iter().map(Row::Sqlite).collect())
            }
            Tx::Postgres(t) => {
                let rows = bind_all!(sqlx::query(sql.postgres), args)
                    .fetch_all(&mut **t)
                    .await?;
                Ok(rows.into_iter().map(Row::Postgres).collect())
            }
        }
    }

    /// Runs a statement; returns the rows it changed.
    pub async fn exec(
        &mut self,
        sql: Dialects<&'static str>,
        args: &[Arg],
    ) -> Result<u64, sqlx::Error> {
        match self {
            Tx::Sqlite(t) => Ok(bind_all!(sqlx::query(sql.sqlite), args)
                .execute(&mut **t)
                .await?
                .rows_affected()),
            Tx::Postgres(t) => Ok(bind_all!(sqlx::query(sql.postgres), args)
                .execute(&mut **t)
                .await?
                .rows_affected()),
        }
    }

    /// Runs a script of several statements without parameters (a migration step).
    pub async fn script(&mut self, sql: &'static str) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(|_| ()),
            Tx::Postgres(t) => sqlx::raw_sql(sql).execute(&mut **t).await.map(|_| ()),
        }
    }

    /// Which dialect.
    pub fn dialect(&self) -> Dialect {
        match self {
            Tx::Sqlite(_) => Dialect::Sqlite,
            Tx::Postgres(_) => Dialect::Postgres,
        }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        match self {
            Tx::Sqlite(t) => t.commit().await,
            Tx::Postgres(t) => t.commit().await,
        }
    }
}

/// A constraint the database enforced (unique, foreign key, not null, check): the data was
/// wrong, not the server. Anything else (connection lost, deadlock) is the server's problem.
pub(crate) fn constraint_violation(error: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(db) = error else {
        return None;
    };
    let code = db.code()?;
    let is_constraint = match code.as_ref() {
        // PostgreSQL: class 23, integrity constraint violation.
        c if c.starts_with("23") => true,
        // SQLite extended codes: UNIQUE 2067, PRIMARY KEY 1555, FOREIGN KEY 787,
        // NOT NULL 1299, CHECK 275.
        "2067" | "1555" | "787" | "1299" | "275" | "19" => true,
        _ => false,
    };
    is_constraint.then(|| db.message().to_owned())
}

/// Whether `error` means the database cannot serve right now (down, restarting, failing over,
/// overloaded, briefly locked) rather than that the request or the server is wrong. Such
/// errors are answered 503 with `Retry-After`: the device keeps its queue and tries again, and
/// nothing it sent is set aside.
pub(crate) fn is_unavailable(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if let Some(pg) = db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>() {
                postgres_unavailable(pg.code())
            } else if let Some(code) = db.code() {
                code.parse::<i32>().is_ok_and(sqlite_unavailable)
            } else {
                false
            }
        }
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs (its manual's Appendix A) that a later retry can get past.
fn postgres_unavailable(code: &str) -> bool {
    // 08: connection exception; 53: insufficient resources (too many connections, out of
    // memory, disk full); 57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect
    // now (starting up or shutting down), 57014 statement cancelled (a timeout or an
    // operator); 40001 serialization failure and 40P01 deadlock; 55P03 lock not available;
    // 25006 read-only transaction (connected to a standby during a failover); 58030 I/O error.
    code.starts_with("08")
        || code.starts_with("53")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "57014" | "40001" | "40P01" | "55P03" | "25006" | "58030"
        )
}

/// SQLite result codes (the primary code is the extended code's low byte) a retry can get
/// past: 5 BUSY (another writer outlasted the busy timeout), 6 LOCKED, 10 IOERR, 13 FULL
/// (disk full), 14 CANTOPEN.
fn sqlite_unavailable(extended: i32) -> bool {
    matches!(extended & 0xff, 5 | 6 | 10 | 13 | 14)
}
