//! What the decision tests share: a small entity and its rows, without a database.

use serde_json::Value;

use super::Caller;
use super::decide::{Clock, Stored};
use super::prepare::Item;
use crate::model::{Dialects, EntityDef, EntitySql, FieldDef, Kind, Policy};
use crate::protocol::{Mutation, Op};

const SQL: EntitySql = EntitySql {
    load: "",
    insert: "",
    update: "",
    list: "",
};

const FIELDS: &[FieldDef] = &[
    FieldDef {
        key: "owner",
        column: "owner",
        kind: Kind::Text,
        nullable: false,
        default: None,
    },
    FieldDef {
        key: "note",
        column: "note",
        kind: Kind::Text,
        nullable: true,
        default: None,
    },
    FieldDef {
        key: "modifiedAt",
        column: "modified_at",
        kind: Kind::DateTime,
        nullable: false,
        default: None,
    },
    FieldDef {
        key: "count",
        column: "count",
        kind: Kind::Int,
        nullable: true,
        default: None,
    },
];

/// `notes`: owner, note, modifiedAt, count.
pub(super) fn entity(policy: Policy, owner: Option<usize>) -> &'static EntityDef {
    Box::leak(Box::new(EntityDef {
        table: "notes",
        type_name: "Note",
        fields: FIELDS,
        policy,
        owner,
        sql: Dialects {
            sqlite: SQL,
            postgres: SQL,
        },
    }))
}

pub(super) const ME: Caller = Caller {
    user: "me",
    client_id: "c",
};

pub(super) fn item(entity: &'static EntityDef, op: Op, base: Option<i64>, data: Value) -> Item {
    Item {
        index: 0,
        mutation: Mutation {
            mutation_id: "m".into(),
            entity: "notes".into(),
            id: "r".into(),
            op,
            base_version: base,
            data: data.as_object().unwrap().clone(),
            stamp: None,
            field_stamps: None,
        },
        entity,
        data: data.as_object().unwrap().clone(),
        converted: None,
    }
}

/// `item`, stamped: the mutation's stamp, and per-field stamps.
pub(super) fn stamped(mut item: Item, stamp: i64, fields: &[(&str, i64)]) -> Item {
    item.mutation.stamp = Some(stamp);
    if !fields.is_empty() {
        item.mutation.field_stamps =
            Some(fields.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect());
    }
    item
}

/// A live row written at 5, without stamps.
pub(super) fn row(version: i64, data: Value) -> Stored {
    Stored {
        version,
        updated_at: 5,
        deleted_at: None,
        data: data.as_object().unwrap().clone(),
        clock: Clock::new(),
    }
}

/// A live lww row, each field at its stamp.
pub(super) fn clocked(version: i64, data: Value, stamps: &[(&str, i64)]) -> Stored {
    let mut row = row(version, data);
    row.clock = stamps.iter().map(|(k, s)| ((*k).to_owned(), *s)).collect();
    row
}
