//! What the derives of `offgen-macros` build on: a typed reference ([`Ref`]), the values of an
//! enum ([`SyncEnum`]), a whole app ([`SyncApp`]), and the compile-time checks that hold a
//! derived struct to the build output its app serves ([`same_entity`]).

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use crate::model::{AppDef, Dialects, EntityDef, EntitySql, FieldDef, Kind, LwwClock, Policy};

/// A reference to a row of the entity `T`: the row's id (a lowercase UUID), typed by what it
/// points to. A field of this type is a reference field.
pub struct Ref<T: ?Sized> {
    id: String,
    to: PhantomData<fn() -> T>,
}

impl<T: ?Sized> Ref<T> {
    /// A reference to the row with this id.
    pub fn new(id: impl Into<String>) -> Ref<T> {
        Ref {
            id: id.into(),
            to: PhantomData,
        }
    }

    /// The referenced row's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl<T: ?Sized> Clone for Ref<T> {
    fn clone(&self) -> Self {
        Ref::new(self.id.clone())
    }
}

impl<T: ?Sized> fmt::Debug for Ref<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Ref").field(&self.id).finish()
    }
}

impl<T: ?Sized> PartialEq for Ref<T> {
    fn eq(&self, other: &Self) -> bool {
        self.id == other.id
    }
}

impl<T: ?Sized> Eq for Ref<T> {}

impl<T: ?Sized> Hash for Ref<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.id.hash(state);
    }
}

impl<T: ?Sized> serde::Serialize for Ref<T> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.id)
    }
}

impl<'de, T: ?Sized> serde::Deserialize<'de> for Ref<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Ref::new)
    }
}

/// A fieldless enum whose variants are the values of enum fields (`#[derive(SyncEnum)]`).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a field type offgen can sync",
    label = "neither a type offgen maps nor an enum deriving `SyncEnum`",
    note = "a fieldless enum derives `SyncEnum`; a reference to an entity is written `Ref<Entity>`"
)]
pub trait SyncEnum {
    /// The values, in order, as stored and sent.
    const VALUES: &'static [&'static str];
}

/// An app made of derived structs (`#[derive(SyncApp)]`): serve it with
/// `offgen_runtime::server::serve::main(App::APP, App::OPENAPI)`.
pub trait SyncApp {
    /// The app, as the runtime sees it.
    const APP: &'static AppDef;
    /// The OpenAPI document of its build output, served at `/openapi.json`.
    const OPENAPI: &'static str;
}

/// What a derive whose item has errors stands for (its errors are reported where they are;
/// this keeps them from being reported again wherever the type is used).
#[doc(hidden)]
pub static UNBUILT: EntityDef = EntityDef {
    table: "",
    type_name: "",
    fields: &[],
    policy: Policy::Version,
    owner: None,
    sql: Dialects {
        sqlite: UNBUILT_SQL,
        postgres: UNBUILT_SQL,
    },
};

const UNBUILT_SQL: EntitySql = EntitySql {
    load: "",
    insert: "",
    update: "",
    list: "",
};

/// Whether two strings are equal, at compile time.
pub const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `values` holds `value`, at compile time (an enum field's default).
pub const fn has_value(values: &[&str], value: &str) -> bool {
    let mut i = 0;
    while i < values.len() {
        if same_str(values[i], value) {
            return true;
        }
        i += 1;
    }
    false
}

const fn same_values(a: &[&str], b: &[&str]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if !same_str(a[i], b[i]) {
            return false;
        }
        i += 1;
    }
    true
}

const fn same_option(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => same_str(a, b),
        (None, None) => true,
        _ => false,
    }
}

const fn same_kind(a: Kind, b: Kind) -> bool {
    match (a, b) {
        (Kind::Enum(a), Kind::Enum(b)) => same_values(a, b),
        (Kind::Reference(a), Kind::Reference(b)) => same_str(a, b),
        (Kind::Text, Kind::Text)
        | (Kind::Int, Kind::Int)
        | (Kind::Real, Kind::Real)
        | (Kind::Bool, Kind::Bool)
        | (Kind::DateTime, Kind::DateTime)
        | (Kind::Date, Kind::Date)
        | (Kind::Uuid, Kind::Uuid)
        | (Kind::Json, Kind::Json)
        | (Kind::Blob, Kind::Blob)
        | (Kind::Attachment, Kind::Attachment) => true,
        _ => false,
    }
}

const fn same_field(a: &FieldDef, b: &FieldDef) -> bool {
    same_str(a.key, b.key)
        && same_str(a.column, b.column)
        && same_kind(a.kind, b.kind)
        && a.nullable == b.nullable
        && same_option(a.default, b.default)
}

const fn same_policy(a: Policy, b: Policy) -> bool {
    matches!(
        (a, b),
        (Policy::Version, Policy::Version)
            | (Policy::Lww(LwwClock::Device), Policy::Lww(LwwClock::Device))
            | (
                Policy::Lww(LwwClock::Received),
                Policy::Lww(LwwClock::Received)
            )
            | (Policy::ServerWins, Policy::ServerWins)
            | (Policy::AppendOnly, Policy::AppendOnly)
    )
}

const fn same_sql(a: &EntitySql, b: &EntitySql) -> bool {
    same_str(a.load, b.load)
        && same_str(a.insert, b.insert)
        && same_str(a.update, b.update)
        && same_str(a.list, b.list)
}

/// Whether a derived struct's entity is the one its app's build output describes, at compile
/// time: a struct changed since the last `offgen build --rust` would be served with tables
/// and statements that do not fit it. An entity whose derive failed counts as the same (its
/// own errors say what is wrong).
pub const fn same_entity(derived: &EntityDef, built: &EntityDef) -> bool {
    if derived.table.is_empty() {
        return true;
    }
    if !(same_str(derived.table, built.table)
        && same_str(derived.type_name, built.type_name)
        && same_policy(derived.policy, built.policy)
        && derived.fields.len() == built.fields.len()
        && same_sql(&derived.sql.sqlite, &built.sql.sqlite)
        && same_sql(&derived.sql.postgres, &built.sql.postgres))
    {
        return false;
    }
    match (derived.owner, built.owner) {
        (Some(a), Some(b)) if a == b => {}
        (None, None) => {}
        _ => return false,
    }
    let mut i = 0;
    while i < derived.fields.len() {
        if !same_field(&derived.fields[i], &built.fields[i]) {
            return false;
        }
        i += 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    static A: EntityDef = EntityDef {
        table: "notes",
        type_name: "Note",
        fields: &[FieldDef {
            key: "stars",
            column: "stars",
            kind: Kind::Enum(&["one", "two"]),
            nullable: false,
            default: Some("\"one\""),
        }],
        policy: Policy::Lww(LwwClock::Device),
        owner: None,
        sql: Dialects {
            sqlite: UNBUILT_SQL,
            postgres: UNBUILT_SQL,
        },
    };

    static B: EntityDef = EntityDef {
        fields: &[FieldDef {
            key: "stars",
            column: "stars",
            kind: Kind::Enum(&["one", "three"]),
            nullable: false,
            default: Some("\"one\""),
        }],
        ..A
    };

    #[test]
    fn an_entity_is_the_same_as_itself_and_not_as_one_with_other_values() {
        // Evaluated by the compiler, as the derives' checks are.
        const { assert!(same_entity(&A, &A)) };
        const { assert!(!same_entity(&A, &B)) };
        assert!(
            same_entity(&UNBUILT, &A),
            "a failed derive is reported once"
        );
        assert!(has_value(&["draft", "final"], "final"));
        assert!(!has_value(&["draft", "final"], "fina"));
    }

    #[test]
    fn a_reference_is_its_id_on_the_wire() {
        struct Ranger;
        let r: Ref<Ranger> =
            serde_json::from_str("\"00000000-0000-4000-8000-000000000001\"").unwrap();
        assert_eq!(r.id(), "00000000-0000-4000-8000-000000000001");
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            "\"00000000-0000-4000-8000-000000000001\""
        );
    }
}
