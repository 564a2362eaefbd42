//! The server's SQL, per dialect: DDL and the statements the runtime engine runs for each
//! entity. Every statement takes its rows as one JSON parameter and converts wire values in
//! SQL, so the runtime only ever binds values.

use askama::Template;
// Templates spell the bookkeeping columns from their one declaration: `{{ bk::VERSION.sql }}`.
use offgen_runtime::bookkeeping as bk;

use crate::backend::Dialect;
use crate::backend::literals::{quote, sql_string};
use crate::backend::server::columns::{
    field_definition, from_wire, json_text_object, recordset_column, short_name, sql_type, to_wire,
};
use crate::backend::sqlite;
use crate::model::{Entity, FieldType, Index, Schema};
use offgen_runtime::bookkeeping::{DELETED_AT, SERVER_CLOCK, SERVER_SEQ, UPDATED_AT, VERSION};

/// The fragments the statement templates put together for one entity.
pub struct EntityView {
    table: String,
    select: String,
    columns: String,
    values: String,
    recordset: String,
    assignments: String,
    owner_filter: String,
    /// The whole wire record of `t` as JSON text, for pulls.
    record: String,
}

fn pairs_object(pairs: &[(String, String)], dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => json_text_object(pairs),
        // The device's builder: chunks chained with json_set, which (unlike json_patch) keeps nulls.
        Dialect::Sqlite => sqlite::json::object(pairs),
    }
}

impl EntityView {
    /// `owner_params`: the placeholders of the user id as text and as uuid-or-null.
    fn new(entity: &Entity, dialect: Dialect, owner_params: (&str, &str)) -> EntityView {
        let pg = dialect == Dialect::Postgres;
        let pairs: Vec<(String, String)> = entity
            .fields
            .iter()
            .map(|f| (f.name.json().to_owned(), to_wire(f, "t", dialect)))
            .collect();
        let data = pairs_object(&pairs, dialect);
        let select = if pg {
            format!(
                "t.\"id\"::text AS \"id\", t.\"version\", t.\"updated_at\", t.\"deleted_at\", {data} AS \"data\", t.\"_offgen_clock\"::text AS \"clock\""
            )
        } else {
            format!(
                "t.\"id\" AS \"id\", t.\"version\", t.\"updated_at\", t.\"deleted_at\", {data} AS \"data\", t.\"_offgen_clock\" AS \"clock\""
            )
        };
        let record = if pg {
            json_text_object(&[
                (
                    "entity".to_owned(),
                    sql_string(
                        &serde_json::to_string(entity.table.sql())
                            .expect("a string always serializes"),
                    ),
                ),
                ("id".to_owned(), "'\"' || t.\"id\"::text || '\"'".to_owned()),
                ("version".to_owned(), "t.\"version\"::text".to_owned()),
                (
                    "deleted".to_owned(),
                    "(t.\"deleted_at\" IS NOT NULL)::text".to_owned(),
                ),
                ("updatedAt".to_owned(), "t.\"updated_at\"::text".to_owned()),
                (
                    "deletedAt".to_owned(),
                    "coalesce(t.\"deleted_at\"::text, 'null')".to_owned(),
                ),
                ("data".to_owned(), format!("({data})")),
            ])
        } else {
            let entity_name = sql_string(entity.table.sql());
            format!(
                "json_object('entity', {entity_name}, 'id', t.\"id\", 'version', t.\"version\", 'deleted', json(CASE WHEN t.\"deleted_at\" IS NULL THEN 'false' ELSE 'true' END), \
                 'updatedAt', t.\"updated_at\", 'deletedAt', t.\"deleted_at\", 'data', {data})"
            )
        };
        let mut columns = vec![quote("id")];
        let mut values = vec![from_wire("id", &FieldType::Uuid, dialect)];
        let mut recordset = vec![recordset_column("id", &FieldType::Uuid)];
        let mut assignments = Vec::new();
        for field in &entity.fields {
            columns.push(quote(field.name.sql()));
            values.push(from_wire(field.name.json(), &field.ty, dialect));
            recordset.push(recordset_column(field.name.json(), &field.ty));
            assignments.push(format!(
                "{} = {}",
                quote(field.name.sql()),
                from_wire(field.name.json(), &field.ty, dialect)
            ));
        }
        // The bookkeeping: versions and times, and the fields' lww stamps (JSON).
        for (column, key, ty) in [
            (VERSION.sql, VERSION.key, FieldType::Int),
            (UPDATED_AT.sql, UPDATED_AT.key, FieldType::Int),
            (DELETED_AT.sql, DELETED_AT.key, FieldType::Int),
            (SERVER_CLOCK, "_clock", FieldType::Json),
        ] {
            columns.push(quote(column));
            values.push(from_wire(key, &ty, dialect));
            recordset.push(recordset_column(key, &ty));
            assignments.push(format!(
                "{} = {}",
                quote(column),
                from_wire(key, &ty, dialect)
            ));
        }
        let (text_param, uuid_param) = owner_params;
        let owner_filter = match entity.owner_field() {
            Some(owner) => match (&owner.ty, dialect) {
                (FieldType::Uuid | FieldType::Reference { .. }, Dialect::Postgres) => {
                    format!("c.{} = {uuid_param}::uuid", quote(owner.name.sql()))
                }
                (FieldType::Uuid | FieldType::Reference { .. }, Dialect::Sqlite) => {
                    format!("c.{} = {uuid_param}", quote(owner.name.sql()))
                }
                _ => format!("c.{} = {text_param}", quote(owner.name.sql())),
            },
            // SQLite refuses a parameter no statement names; naming it changes nothing.
            None if pg => "true".to_owned(),
            None => format!("{text_param} IS {text_param} AND {uuid_param} IS {uuid_param}"),
        };
        EntityView {
            table: quote(entity.table.sql()),
            select,
            columns: columns.join(", "),
            values: values.join(", "),
            recordset: recordset.join(", "),
            assignments: assignments.join(", "),
            owner_filter,
            record,
        }
    }
}

macro_rules! statement {
    ($name:ident, $path:literal) => {
        #[derive(Template)]
        #[template(path = $path, escape = "none")]
        struct $name<'a> {
            e: &'a EntityView,
            pg: bool,
        }
    };
}

statement!(Load, "sql/server/load.sql");
statement!(Insert, "sql/server/insert.sql");
statement!(Update, "sql/server/update.sql");
statement!(List, "sql/server/list.sql");

#[derive(Template)]
#[template(path = "sql/server/pull.sql", escape = "none")]
struct Pull<'a> {
    entities: &'a [EntityView],
    pg: bool,
}

/// An entity in the read over every entity: its name as a SQL string, its fragments, and the
/// parameters of its ids.
struct ReadPart {
    name: String,
    view: EntityView,
    rows: String,
    refs: String,
}

#[derive(Template)]
#[template(path = "sql/server/push_read.sql", escape = "none")]
struct PushRead<'a> {
    entities: &'a [ReadPart],
    pg: bool,
}

/// An entity in the write over every entity: its fragments and the parameters of its records.
struct WritePart {
    view: EntityView,
    inserts: String,
    updates: String,
}

#[derive(Template)]
#[template(path = "sql/server/push_write.sql", escape = "none")]
struct PushWrite<'a> {
    entities: &'a [WritePart],
    audit: String,
    results: String,
}

#[derive(Template)]
#[template(path = "sql/server/create_table.sql", escape = "none")]
struct CreateTable {
    table: String,
    columns: Vec<String>,
}

fn render(t: &impl Template) -> String {
    t.render()
        .expect("server SQL templates only read prepared strings")
        .trim()
        .to_owned()
}

/// The statements of one entity in one dialect.
pub struct EntityStatements {
    /// See `offgen_runtime::model::EntitySql::load`.
    pub load: String,
    /// See `EntitySql::insert`.
    pub insert: String,
    /// See `EntitySql::update`.
    pub update: String,
    /// See `EntitySql::list`.
    pub list: String,
}

/// The runtime statements of `entity`.
pub fn entity_statements(entity: &Entity, dialect: Dialect) -> EntityStatements {
    let pg = dialect == Dialect::Postgres;
    let list_params = if pg { ("$3", "$4") } else { ("?3", "?4") };
    let e = EntityView::new(entity, dialect, list_params);
    EntityStatements {
        load: render(&Load { e: &e, pg }),
        insert: render(&Insert { e: &e, pg }),
        update: render(&Update { e: &e, pg }),
        list: render(&List { e: &e, pg }),
    }
}

/// The pull statement over every entity.
pub fn pull_statement(schema: &Schema, dialect: Dialect) -> String {
    let pg = dialect == Dialect::Postgres;
    let owner_params = if pg { ("$4", "$5") } else { ("?3", "?4") };
    let views: Vec<EntityView> = schema
        .entities
        .iter()
        .map(|e| {
            let mut view = EntityView::new(e, dialect, owner_params);
            // The outer query names both owner parameters already.
            if e.owner.is_none() {
                view.owner_filter = "true".to_owned();
            }
            view
        })
        .collect();
    render(&Pull {
        entities: &views,
        pg,
    })
}

/// The statements a push runs over every entity at once (see
/// `offgen_runtime::model::PushSql`, which says what their parameters are): what it reads,
/// and on PostgreSQL what it writes (SQLite has no data-modifying CTEs: the engine runs the
/// entities' `insert` and `update` there). Entities take their parameters in table order.
pub fn push_statements(schema: &Schema, dialect: Dialect) -> (String, String) {
    let pg = dialect == Dialect::Postgres;
    let param = |n: usize| if pg { format!("${n}") } else { format!("?{n}") };
    let mut entities: Vec<&Entity> = schema.entities.iter().collect();
    entities.sort_by(|a, b| a.table.sql().cmp(b.table.sql()));
    let count = entities.len();
    // Only the caller's rows exist for a reference to an owner-scoped entity.
    let owner_params = if pg { ("$2", "$3") } else { ("?2", "?3") };
    let read: Vec<ReadPart> = entities
        .iter()
        .enumerate()
        .map(|(i, e)| ReadPart {
            name: sql_string(e.table.sql()),
            view: EntityView::new(e, dialect, owner_params),
            rows: param(4 + i),
            refs: param(4 + count + i),
        })
        .collect();
    let read = render(&PushRead {
        entities: &read,
        pg,
    });
    if !pg {
        return (read, String::new());
    }
    let write: Vec<WritePart> = entities
        .iter()
        .enumerate()
        .map(|(i, e)| WritePart {
            view: EntityView::new(e, dialect, owner_params),
            inserts: param(2 + 2 * i),
            updates: param(3 + 2 * i),
        })
        .collect();
    let write = render(&PushWrite {
        entities: &write,
        audit: param(2 + 2 * count),
        results: param(3 + 2 * count),
    });
    (read, write)
}

/// Name of the index pulls read an entity's changes by.
pub fn changes_index_name(entity: &Entity) -> String {
    short_name(&format!("_offgen_{}_changes", entity.table.sql()))
}

/// `CREATE TABLE` of an entity, then its indexes.
pub fn create_entity(schema: &Schema, entity: &Entity, dialect: Dialect) -> Vec<String> {
    let pg = dialect == Dialect::Postgres;
    let mut columns = vec![format!(
        "\"id\" {} NOT NULL PRIMARY KEY",
        sql_type(&FieldType::Uuid, dialect)
    )];
    columns.extend(
        entity
            .fields
            .iter()
            .map(|f| field_definition(schema, entity, f, dialect)),
    );
    let int = sql_type(&FieldType::Int, dialect);
    columns.push(format!("{} {int} NOT NULL", quote(VERSION.sql)));
    columns.push(format!("{} {int} NOT NULL", quote(UPDATED_AT.sql)));
    columns.push(format!("{} {int} NULL", quote(DELETED_AT.sql)));
    columns.push(format!("{} {int} NOT NULL", quote(SERVER_SEQ)));
    // lww entities: each field's stamp, `{"wireKey": epoch ms}` (NULL for other entities).
    columns.push(format!(
        "{} {} NULL",
        quote(SERVER_CLOCK),
        sql_type(&FieldType::Json, dialect)
    ));
    if pg {
        columns.push("\"_offgen_xid\" xid8 NOT NULL".to_owned());
    }
    let mut out = vec![render(&CreateTable {
        table: quote(entity.table.sql()),
        columns,
    })];
    out.push(changes_index(entity, dialect));
    out.extend(entity.indexes.iter().map(|i| create_index(entity, i)));
    out
}

/// The index pulls read changes by: the owner first where rows are owner-scoped.
pub fn changes_index(entity: &Entity, dialect: Dialect) -> String {
    let mut columns = Vec::new();
    if let Some(owner) = entity.owner_field() {
        columns.push(quote(owner.name.sql()));
    }
    if dialect == Dialect::Postgres {
        columns.push(quote("_offgen_xid"));
    }
    columns.push(quote("_offgen_seq"));
    format!(
        "CREATE INDEX {} ON {} ({});",
        quote(&changes_index_name(entity)),
        quote(entity.table.sql()),
        columns.join(", ")
    )
}

/// `CREATE [UNIQUE] INDEX` of a spec index (same name on device and server).
pub fn create_index(entity: &Entity, index: &Index) -> String {
    let columns: Vec<String> = entity
        .index_fields(index)
        .map(|f| quote(f.name.sql()))
        .collect();
    format!(
        "CREATE {}INDEX {} ON {} ({});",
        if index.unique { "UNIQUE " } else { "" },
        quote(&index.name),
        quote(entity.table.sql()),
        columns.join(", ")
    )
}

/// The support tables (idempotency, audit, change order), as the runtime defines them.
pub fn support(dialect: Dialect) -> String {
    offgen_runtime::support_tables::ddl(dialect)
        .trim()
        .to_owned()
}

/// The table of uploaded attachment files, for a schema with attachment fields.
pub fn attachments_support(dialect: Dialect) -> String {
    offgen_runtime::support_tables::attachments_ddl(dialect)
        .trim()
        .to_owned()
}
