//! The app as the runtime sees it ([`offgen_runtime::model::AppDef`]), described once from the
//! IR: [`super::rust`] prints it as the generated crate's statics, and [`AppPlan::leak`] makes
//! the same value in memory, so tests, tools and simulations can serve any spec (at any of its
//! steps) without compiling a crate. A test holds the two equal for the example.

use offgen_runtime::model::{
    AppDef, Dialects, EntityDef, EntityShape, EntitySql, FieldDef, FieldShape, Kind,
    LwwClock as RuntimeClock, Migration, Policy, PushSql, Shape,
};

use crate::backend::Dialect;
use crate::backend::server::migrate::ServerStep;
use crate::backend::server::sql::{entity_statements, pull_statement, push_statements};
use crate::diagnostics::Diagnostic;
use crate::history::{ClientShape, PastKind};
use crate::model::{ConflictPolicy, DefaultValue, Entity, FieldType, LwwClock, Schema};
use crate::output::FileSet;

/// [`AppDef`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct AppPlan {
    /// The app's name.
    pub name: String,
    /// Entities in spec order.
    pub entities: Vec<EntityPlan>,
    /// Server steps per dialect.
    pub migrations: Dialects<Vec<MigrationPlan>>,
    /// The pull statement per dialect.
    pub pull: Dialects<String>,
    /// The push statements over every entity per dialect.
    pub push: Dialects<PushPlan>,
    /// The newest step.
    pub step: u32,
    /// Earlier steps still served.
    pub shapes: Vec<ShapePlan>,
}

/// [`PushSql`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct PushPlan {
    /// See [`PushSql::read`].
    pub read: String,
    /// See [`PushSql::write`].
    pub write: String,
}

impl PushPlan {
    fn of(schema: &Schema, dialect: Dialect) -> PushPlan {
        let (read, write) = push_statements(schema, dialect);
        PushPlan { read, write }
    }
}

/// [`Migration`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct MigrationPlan {
    /// Its number.
    pub number: u32,
    /// `NNNN_<slug>`.
    pub name: String,
    /// Its path in the build output (the generated crate includes the file).
    pub path: String,
    /// The script.
    pub sql: String,
}

/// [`EntityDef`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityPlan {
    /// Table name.
    pub table: String,
    /// The Rust type's name.
    pub type_name: String,
    /// The doc line of the generated static.
    pub doc: String,
    /// The name of the generated static (`OBSERVATIONS`).
    pub static_name: String,
    /// Declared fields.
    pub fields: Vec<FieldPlan>,
    /// Conflict policy.
    pub policy: Policy,
    /// Index of the owner field.
    pub owner: Option<usize>,
    /// SQL per dialect.
    pub sql: Dialects<SqlPlan>,
}

/// [`FieldDef`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldPlan {
    /// Wire key.
    pub key: String,
    /// Column.
    pub column: String,
    /// Type.
    pub kind: KindPlan,
    /// Whether null is allowed.
    pub nullable: bool,
    /// The default as JSON text.
    pub default: Option<String>,
}

/// [`Kind`], owned.
#[derive(Clone, Debug, PartialEq)]
pub enum KindPlan {
    /// [`Kind::Text`].
    Text,
    /// [`Kind::Int`].
    Int,
    /// [`Kind::Real`].
    Real,
    /// [`Kind::Bool`].
    Bool,
    /// [`Kind::DateTime`].
    DateTime,
    /// [`Kind::Date`].
    Date,
    /// [`Kind::Uuid`].
    Uuid,
    /// [`Kind::Json`].
    Json,
    /// [`Kind::Blob`].
    Blob,
    /// [`Kind::Attachment`].
    Attachment,
    /// [`Kind::Enum`].
    Enum(Vec<String>),
    /// [`Kind::Reference`]: the table.
    Reference(String),
}

/// [`EntitySql`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct SqlPlan {
    /// See [`EntitySql::load`].
    pub load: String,
    /// See [`EntitySql::insert`].
    pub insert: String,
    /// See [`EntitySql::update`].
    pub update: String,
    /// See [`EntitySql::list`].
    pub list: String,
}

/// [`Shape`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct ShapePlan {
    /// The step.
    pub step: u32,
    /// Its entities.
    pub entities: Vec<EntityShapePlan>,
}

/// [`EntityShape`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct EntityShapePlan {
    /// Table then.
    pub table: String,
    /// Table now.
    pub now: Option<String>,
    /// Fields then.
    pub fields: Vec<FieldShapePlan>,
}

/// [`FieldShape`], owned.
#[derive(Clone, Debug, PartialEq)]
pub struct FieldShapePlan {
    /// Wire key then.
    pub key: String,
    /// Wire key now.
    pub now: Option<String>,
    /// Type then.
    pub kind: KindPlan,
    /// Whether a record may leave it out then.
    pub optional: bool,
}

/// The app a server built from this build output would serve: its schema, server steps and
/// shapes of earlier steps, all read from the files (`client/schema.json` and
/// `server/migrations/`), as `offgen build` wrote them.
pub fn plan_of_build(files: &FileSet) -> Result<AppPlan, Diagnostic> {
    plan_of_previous(crate::previous::from_files(
        files,
        std::path::Path::new("."),
    )?)
}

/// [`plan_of_build`] of an output directory on disk.
pub fn plan_of_dir(out_dir: &std::path::Path) -> Result<AppPlan, Diagnostic> {
    plan_of_previous(crate::previous::read(out_dir)?)
}

fn plan_of_previous(previous: crate::backend::Previous) -> Result<AppPlan, Diagnostic> {
    let schema = previous
        .snapshot
        .ok_or_else(|| Diagnostic::error("the build output has no client/schema.json"))?;
    let oldest = schema.oldest_client_step.unwrap_or(1);
    let shapes = crate::history::client_shapes(&previous.history, &schema, oldest);
    Ok(plan(
        &schema,
        &previous.server_sqlite,
        &previous.server_postgres,
        &shapes,
    ))
}

/// The app of `schema` with its server steps and the shapes of the earlier steps it serves.
pub fn plan(
    schema: &Schema,
    sqlite: &[ServerStep],
    postgres: &[ServerStep],
    shapes: &[ClientShape],
) -> AppPlan {
    let migrations = |steps: &[ServerStep], dialect: Dialect| {
        steps
            .iter()
            .map(|step| MigrationPlan {
                number: step.number,
                name: step.name(),
                path: step.path(dialect),
                sql: step.script.clone(),
            })
            .collect()
    };
    AppPlan {
        name: schema.app.spec.clone(),
        entities: schema
            .entities
            .iter()
            .map(|e| entity_plan(schema, e))
            .collect(),
        migrations: Dialects {
            sqlite: migrations(sqlite, Dialect::Sqlite),
            postgres: migrations(postgres, Dialect::Postgres),
        },
        pull: Dialects {
            sqlite: pull_statement(schema, Dialect::Sqlite),
            postgres: pull_statement(schema, Dialect::Postgres),
        },
        push: Dialects {
            sqlite: PushPlan::of(schema, Dialect::Sqlite),
            postgres: PushPlan::of(schema, Dialect::Postgres),
        },
        step: sqlite.last().map_or(1, |s| s.number),
        shapes: shapes
            .iter()
            .map(|shape| ShapePlan {
                step: shape.step,
                entities: shape
                    .entities
                    .iter()
                    .map(|e| EntityShapePlan {
                        table: e.table.clone(),
                        now: e.now.clone(),
                        fields: e
                            .fields
                            .iter()
                            .map(|f| FieldShapePlan {
                                key: f.key.clone(),
                                now: f.now.clone(),
                                kind: past_kind(&f.kind),
                                optional: f.optional,
                            })
                            .collect(),
                    })
                    .collect(),
            })
            .collect(),
    }
}

/// A field type as the history keeps it.
fn past_kind(kind: &PastKind) -> KindPlan {
    match kind {
        PastKind::Text => KindPlan::Text,
        PastKind::Int => KindPlan::Int,
        PastKind::Real => KindPlan::Real,
        PastKind::Bool => KindPlan::Bool,
        PastKind::DateTime => KindPlan::DateTime,
        PastKind::Date => KindPlan::Date,
        PastKind::Uuid => KindPlan::Uuid,
        PastKind::Json => KindPlan::Json,
        PastKind::Blob => KindPlan::Blob,
        PastKind::Attachment => KindPlan::Attachment,
        PastKind::Enum { values } => KindPlan::Enum(values.clone()),
        PastKind::Reference { to } => KindPlan::Reference(to.clone()),
    }
}

/// The runtime's description of one entity of `schema`.
pub fn entity_plan(schema: &Schema, entity: &Entity) -> EntityPlan {
    let sql = |dialect| {
        let s = entity_statements(entity, dialect);
        SqlPlan {
            load: s.load,
            insert: s.insert,
            update: s.update,
            list: s.list,
        }
    };
    EntityPlan {
        table: entity.table.sql().to_owned(),
        type_name: entity.name.pascal.clone(),
        doc: format!(
            " `{}`: {}",
            entity.name.spec,
            entity.doc.as_deref().unwrap_or("an entity of the app.")
        ),
        static_name: static_name(entity),
        fields: entity
            .fields
            .iter()
            .map(|f| FieldPlan {
                key: f.name.json().to_owned(),
                column: f.name.sql().to_owned(),
                kind: match &f.ty {
                    FieldType::Text => KindPlan::Text,
                    FieldType::Int => KindPlan::Int,
                    FieldType::Real => KindPlan::Real,
                    FieldType::Bool => KindPlan::Bool,
                    FieldType::DateTime => KindPlan::DateTime,
                    FieldType::Date => KindPlan::Date,
                    FieldType::Uuid => KindPlan::Uuid,
                    FieldType::Json => KindPlan::Json,
                    FieldType::Blob => KindPlan::Blob,
                    FieldType::Attachment => KindPlan::Attachment,
                    FieldType::Enum { values, .. } => {
                        KindPlan::Enum(values.iter().map(|v| v.spec.clone()).collect())
                    }
                    FieldType::Reference { entity: target } => {
                        KindPlan::Reference(schema.target(target).table.sql().to_owned())
                    }
                },
                nullable: f.nullable,
                default: f.default.as_ref().map(default_json),
            })
            .collect(),
        policy: match &entity.conflict {
            ConflictPolicy::Version => Policy::Version,
            ConflictPolicy::Lww { clock } => Policy::Lww(match clock {
                LwwClock::Device => RuntimeClock::Device,
                LwwClock::Received => RuntimeClock::Received,
            }),
            ConflictPolicy::ServerWins => Policy::ServerWins,
            ConflictPolicy::AppendOnly => Policy::AppendOnly,
        },
        owner: entity.owner.as_ref().map(|o| o.index()),
        sql: Dialects {
            sqlite: sql(Dialect::Sqlite),
            postgres: sql(Dialect::Postgres),
        },
    }
}

/// The name of an entity's generated static (`OBSERVATIONS`).
pub fn static_name(entity: &Entity) -> String {
    entity.table.rust_static()
}

/// A default as JSON text of its wire value.
fn default_json(value: &DefaultValue) -> String {
    let json = match value {
        DefaultValue::Text(s)
        | DefaultValue::Date(s)
        | DefaultValue::Uuid(s)
        | DefaultValue::Enum(s) => serde_json::json!(s),
        DefaultValue::Int(i) | DefaultValue::DateTime(i) => serde_json::json!(i),
        DefaultValue::Real(f) => serde_json::json!(f),
        DefaultValue::Bool(b) => serde_json::json!(b),
        DefaultValue::Json(text) => serde_json::from_str(text).unwrap_or(serde_json::Value::Null),
    };
    json.to_string()
}

fn leak(text: &str) -> &'static str {
    Box::leak(text.to_owned().into_boxed_str())
}

fn leak_slice<T>(items: Vec<T>) -> &'static [T] {
    Box::leak(items.into_boxed_slice())
}

impl KindPlan {
    /// The runtime's value (leaking its strings).
    pub fn leak(&self) -> Kind {
        match self {
            KindPlan::Text => Kind::Text,
            KindPlan::Int => Kind::Int,
            KindPlan::Real => Kind::Real,
            KindPlan::Bool => Kind::Bool,
            KindPlan::DateTime => Kind::DateTime,
            KindPlan::Date => Kind::Date,
            KindPlan::Uuid => Kind::Uuid,
            KindPlan::Json => Kind::Json,
            KindPlan::Blob => Kind::Blob,
            KindPlan::Attachment => Kind::Attachment,
            KindPlan::Enum(values) => {
                Kind::Enum(leak_slice(values.iter().map(|v| leak(v)).collect()))
            }
            KindPlan::Reference(table) => Kind::Reference(leak(table)),
        }
    }
}

impl AppPlan {
    /// The runtime's [`AppDef`] of this plan, made once and kept for the life of the process
    /// (its strings are leaked, as a generated crate's are static). For tests, tools and
    /// simulations that serve a spec without compiling a crate.
    pub fn leak(&self) -> &'static AppDef {
        let entities: Vec<&'static EntityDef> = self
            .entities
            .iter()
            .map(|e| {
                let sql = |s: &SqlPlan| EntitySql {
                    load: leak(&s.load),
                    insert: leak(&s.insert),
                    update: leak(&s.update),
                    list: leak(&s.list),
                };
                &*Box::leak(Box::new(EntityDef {
                    table: leak(&e.table),
                    type_name: leak(&e.type_name),
                    fields: leak_slice(
                        e.fields
                            .iter()
                            .map(|f| FieldDef {
                                key: leak(&f.key),
                                column: leak(&f.column),
                                kind: f.kind.leak(),
                                nullable: f.nullable,
                                default: f.default.as_deref().map(leak),
                            })
                            .collect(),
                    ),
                    policy: e.policy,
                    owner: e.owner,
                    sql: Dialects {
                        sqlite: sql(&e.sql.sqlite),
                        postgres: sql(&e.sql.postgres),
                    },
                }))
            })
            .collect();
        let migrations = |steps: &[MigrationPlan]| -> &'static [Migration] {
            leak_slice(
                steps
                    .iter()
                    .map(|m| Migration {
                        number: m.number,
                        name: leak(&m.name),
                        sql: leak(&m.sql),
                    })
                    .collect(),
            )
        };
        let shapes = self
            .shapes
            .iter()
            .map(|s| Shape {
                step: s.step,
                entities: leak_slice(
                    s.entities
                        .iter()
                        .map(|e| EntityShape {
                            table: leak(&e.table),
                            now: e.now.as_deref().map(leak),
                            fields: leak_slice(
                                e.fields
                                    .iter()
                                    .map(|f| FieldShape {
                                        key: leak(&f.key),
                                        now: f.now.as_deref().map(leak),
                                        kind: f.kind.leak(),
                                        optional: f.optional,
                                    })
                                    .collect(),
                            ),
                        })
                        .collect(),
                ),
            })
            .collect();
        Box::leak(Box::new(AppDef {
            name: leak(&self.name),
            entities: leak_slice(entities),
            migrations: Dialects {
                sqlite: migrations(&self.migrations.sqlite),
                postgres: migrations(&self.migrations.postgres),
            },
            pull: Dialects {
                sqlite: leak(&self.pull.sqlite),
                postgres: leak(&self.pull.postgres),
            },
            push: Dialects {
                sqlite: PushSql {
                    read: leak(&self.push.sqlite.read),
                    write: leak(&self.push.sqlite.write),
                },
                postgres: PushSql {
                    read: leak(&self.push.postgres.read),
                    write: leak(&self.push.postgres.write),
                },
            },
            step: self.step,
            shapes: leak_slice(shapes),
        }))
    }
}
