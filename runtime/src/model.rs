//! What generated code tells the runtime about an app: its entities, their fields and the SQL
//! offgen generated for them. All `'static` data, written by `offgen build` into the server
//! crate, so nothing is discovered or built at run time.

/// An app: its entities and its server migrations.
#[derive(Debug)]
pub struct AppDef {
    /// The app's name.
    pub name: &'static str,
    /// Entities in spec order.
    pub entities: &'static [&'static EntityDef],
    /// Server migration steps, per dialect, in order.
    pub migrations: Dialects<&'static [Migration]>,
    /// The pull query over every entity, per dialect.
    pub pull: Dialects<&'static str>,
    /// The statements a push runs over every entity at once, per dialect.
    pub push: Dialects<PushSql>,
    /// The app's schema step: the newest migration step (device and server share numbers).
    pub step: u32,
    /// How apps at earlier steps still served name things, oldest first: a request from one
    /// is converted from and to its own shape. A client older than the first (or, with none,
    /// than `step`) is told to upgrade.
    pub shapes: &'static [Shape],
}

impl AppDef {
    /// The entity with this table name (its name on the wire).
    pub fn entity(&self, table: &str) -> Option<&'static EntityDef> {
        self.entities.iter().copied().find(|e| e.table == table)
    }

    /// Whether any entity has attachment fields (the server then keeps files).
    pub fn has_attachments(&self) -> bool {
        self.entities.iter().any(|e| e.has_attachments())
    }

    /// The entities in the order of their table names: the order in which they take the
    /// parameters of [`PushSql`]'s statements.
    pub fn by_table(&self) -> Vec<&'static EntityDef> {
        let mut entities = self.entities.to_vec();
        entities.sort_by(|a, b| a.table.cmp(b.table));
        entities
    }

    /// The oldest schema step whose apps this server serves.
    pub fn oldest_step(&self) -> u32 {
        self.shapes.first().map_or(self.step, |s| s.step)
    }

    /// The shape of apps at `step`, if it is an earlier step still served.
    pub fn shape(&self, step: u32) -> Option<&'static Shape> {
        self.shapes.iter().find(|s| s.step == step)
    }
}

/// The wire as apps at an earlier schema step see it, and what each of its names is now.
#[derive(Debug)]
pub struct Shape {
    /// The step.
    pub step: u32,
    /// The entities those apps have (entities added since are not among them).
    pub entities: &'static [EntityShape],
}

impl Shape {
    /// The entity those apps call `table`.
    pub fn entity(&self, table: &str) -> Option<&'static EntityShape> {
        self.entities.iter().find(|e| e.table == table)
    }

    /// The entity that is now `table`, as those apps know it, if they do.
    pub fn entity_now(&self, table: &str) -> Option<&'static EntityShape> {
        self.entities.iter().find(|e| e.now == Some(table))
    }
}

/// An entity as apps at an earlier step see it.
#[derive(Debug)]
pub struct EntityShape {
    /// Its table then (the wire's `entity` for those apps).
    pub table: &'static str,
    /// Its table now; `None` when it has been dropped since.
    pub now: Option<&'static str>,
    /// Its fields then.
    pub fields: &'static [FieldShape],
}

impl EntityShape {
    /// The field those apps call `key`.
    pub fn field(&self, key: &str) -> Option<&'static FieldShape> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The field that is now `key`, as those apps know it, if they do.
    pub fn field_now(&self, key: &str) -> Option<&'static FieldShape> {
        self.fields.iter().find(|f| f.now == Some(key))
    }
}

/// A field as apps at an earlier step see it.
#[derive(Debug)]
pub struct FieldShape {
    /// Its wire key then.
    pub key: &'static str,
    /// Its wire key now; `None` when it has been dropped since.
    pub now: Option<&'static str>,
    /// Its type then (a value of another type, or an enum value added since, is one those
    /// apps cannot hold).
    pub kind: Kind,
    /// Whether a record may leave it out then (nullable, or with a default). A value those
    /// apps cannot hold is left out of such a field (their device keeps its value); a record
    /// whose required field holds one is not sent to them at all.
    pub optional: bool,
}

/// The SQL dialects a server runs on: one enum for the generator, which writes SQL for each,
/// and the runtime, which picks the statements of the database it opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// SQLite.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

impl Dialect {
    /// Both, in the order generated files list them.
    pub const ALL: [Dialect; 2] = [Dialect::Sqlite, Dialect::Postgres];

    /// The database's own name, for people (`SQLite`, `PostgreSQL`).
    pub fn label(self) -> &'static str {
        match self {
            Dialect::Sqlite => "SQLite",
            Dialect::Postgres => "PostgreSQL",
        }
    }
}

/// One value per SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dialects<T> {
    /// For SQLite.
    pub sqlite: T,
    /// For PostgreSQL.
    pub postgres: T,
}

impl<T> Dialects<T> {
    /// The value for `dialect`.
    pub fn get(&self, dialect: Dialect) -> &T {
        match dialect {
            Dialect::Sqlite => &self.sqlite,
            Dialect::Postgres => &self.postgres,
        }
    }

    /// One value per dialect, made by `make`.
    pub fn from_fn(mut make: impl FnMut(Dialect) -> T) -> Dialects<T> {
        Dialects {
            sqlite: make(Dialect::Sqlite),
            postgres: make(Dialect::Postgres),
        }
    }
}

/// A server migration step.
#[derive(Debug)]
pub struct Migration {
    /// Its number, shared with the device step of the same build.
    pub number: u32,
    /// `NNNN_<slug>`.
    pub name: &'static str,
    /// The statements, as one script.
    pub sql: &'static str,
}

/// An entity.
#[derive(Debug)]
pub struct EntityDef {
    /// Table name: the URL segment and the `entity` on the wire.
    pub table: &'static str,
    /// The Rust type's name (`Observation`).
    pub type_name: &'static str,
    /// Declared fields, in spec order.
    pub fields: &'static [FieldDef],
    /// Conflict policy.
    pub policy: Policy,
    /// Index in `fields` of the owner field, if rows are owner-scoped.
    pub owner: Option<usize>,
    /// The statements offgen generated for this entity, per dialect.
    pub sql: Dialects<EntitySql>,
}

impl EntityDef {
    /// The field with this wire key.
    pub fn field(&self, key: &str) -> Option<&'static FieldDef> {
        self.fields.iter().find(|f| f.key == key)
    }

    /// The owner field, if any.
    pub fn owner_field(&self) -> Option<&'static FieldDef> {
        self.owner.map(|i| &self.fields[i])
    }

    /// Whether the entity has attachment fields.
    pub fn has_attachments(&self) -> bool {
        self.fields.iter().any(|f| f.kind == Kind::Attachment)
    }
}

/// A declared field.
#[derive(Debug)]
pub struct FieldDef {
    /// Wire (JSON) key.
    pub key: &'static str,
    /// SQL column.
    pub column: &'static str,
    /// Type.
    pub kind: Kind,
    /// Whether null is allowed.
    pub nullable: bool,
    /// The default, as JSON text of its wire value.
    pub default: Option<&'static str>,
}

/// A field's type, as the server checks values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    /// String.
    Text,
    /// 64-bit integer.
    Int,
    /// Finite number.
    Real,
    /// Boolean.
    Bool,
    /// Epoch milliseconds.
    DateTime,
    /// `YYYY-MM-DD`.
    Date,
    /// Lowercase hyphenated UUID.
    Uuid,
    /// Any JSON value.
    Json,
    /// Lowercase hex.
    Blob,
    /// A reference to a file kept apart: `{"sha256", "size", "mediaType"}`
    /// ([`crate::attachments`]).
    Attachment,
    /// One of these strings.
    Enum(&'static [&'static str]),
    /// The id of a row of this table.
    Reference(&'static str),
}

/// What happens to a write based on a version the row has moved past.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// A conflict: nothing applied.
    Version,
    /// Last writer wins, field by field: each field's newest write is kept, "newest" by the
    /// clock given.
    Lww(LwwClock),
    /// The row wins.
    ServerWins,
    /// Only inserts.
    AppendOnly,
}

/// What orders the writes of an `lww` entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LwwClock {
    /// When each field was written on its device (the stamps devices send, on the server's
    /// clock): the same set of writes gives the same row whatever order they arrive in.
    Device,
    /// When the server received the write: the last write to reach the server wins, field by
    /// field, whatever its device's clock said (for teams who trust no device clock).
    Received,
}

impl Policy {
    /// Whether writes are decided field by field (`lww`, either clock).
    pub fn is_lww(self) -> bool {
        matches!(self, Policy::Lww(_))
    }
}

/// The statements a push runs over every entity at once, in one dialect: a push is a few
/// statements whatever its entities (on PostgreSQL each statement is a network round trip).
/// Entities take their parameters in the order of their table names ([`AppDef::by_table`]);
/// each list is a JSON array, or NULL for none.
#[derive(Debug, Clone, Copy)]
pub struct PushSql {
    /// Run once the batch's mutation ids are locked. Params: the mutation ids; the caller as
    /// text; the caller as uuid or NULL; per entity, the ids of its rows the batch touches;
    /// per entity, the ids of its rows the batch references. Returns one row per find, its
    /// `part` saying what it is: `stored` (`id` the mutation id, `user_id`, `result`), `row`
    /// (`entity`, and the columns of [`EntitySql::load`]: a touched row, locked where the
    /// database can, in table then id order) or `ref` (`entity`, `id`: a referenced row that
    /// exists and, for an owner-scoped entity, is the caller's: another user's row does not
    /// exist for a reference).
    pub read: &'static str,
    /// PostgreSQL: writes a decided batch in one statement. Params: how many rows it writes;
    /// per entity, the records of its new rows and of its changed rows (as
    /// [`EntitySql::insert`] takes them, `_seq` numbering the rows from 1 in the order their
    /// changes are to be pulled); the audit entries; the results to keep. SQLite (no
    /// data-modifying CTEs): empty; the engine runs each entity's `insert` and `update`.
    pub write: &'static str,
}

/// Statements for one entity in one dialect. Each takes its rows as one JSON parameter and
/// does every type conversion in SQL, so the runtime binds values, never builds SQL.
#[derive(Debug, Clone, Copy)]
pub struct EntitySql {
    /// Param 1: JSON array of ids. Returns `id, version, updated_at, deleted_at, data` (data:
    /// JSON text of the wire values), locking the rows where the database can.
    pub load: &'static str,
    /// Param 1: JSON array of flat records (`id`, `version`, `updatedAt`, `deletedAt`,
    /// `_seq`, and every field by wire key).
    pub insert: &'static str,
    /// Param 1: as `insert`; rewrites every column of the rows with these ids.
    pub update: &'static str,
    /// Params: after id (`''` for the first page), limit, owner (text), owner (uuid or NULL).
    /// Returns live rows by id, as `load` does.
    pub list: &'static str,
}
