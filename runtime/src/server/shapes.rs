//! Serving apps at older schema steps in their own shape (docs/rollout.md).
//!
//! Every push and pull names the client's schema step ([`SCHEMA_STEP_HEADER`]). A client at
//! the server's step is served as is. One at an earlier step still in the window
//! ([`AppDef::shapes`]) has its pushes converted to the current schema (renamed fields and
//! entities; fields and entities dropped since are accepted and ignored, values the schema no
//! longer takes converted as its step converted stored ones; both audited), and its
//! pulls and push results converted back (renamed back; what it cannot hold left out: entities
//! and fields added since, enum values added since, values of a type it does not have). A
//! client older than the window is told to upgrade; one newer than the server is told the
//! server is behind, and its changes wait on the device.

use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::problem::Problem;
use super::push::Converted;
use crate::model::{AppDef, EntityDef, EntityShape, FieldShape, Kind, Shape};
use crate::protocol::{Mutation, PushResult, Record, SCHEMA_STEP_HEADER};
use crate::values;

/// How a request's client stands to this server's schema.
#[derive(Clone, Copy, Debug)]
pub(crate) enum ClientStep {
    /// At the server's step, or (for a pull) newer: served as is. A newer client's device
    /// keeps what the server does not send.
    Current,
    /// At an earlier step still served.
    Older(&'static Shape),
}

/// The client's step from the request's headers, checked against the window.
pub(crate) fn client_step(
    app: &'static AppDef,
    headers: &HeaderMap,
    pushing: bool,
) -> Result<ClientStep, Problem> {
    let Some(value) = headers.get(SCHEMA_STEP_HEADER) else {
        return Ok(ClientStep::Current);
    };
    let step = value
        .to_str()
        .ok()
        .and_then(|v| parse_step(v.trim()))
        .ok_or_else(|| {
            Problem::bad_request(format!(
                "{SCHEMA_STEP_HEADER} must be a schema step number (a migration's number, from 1)"
            ))
        })?;
    if step > app.step {
        return if pushing {
            Err(Problem::schema_ahead(step, app.step))
        } else {
            Ok(ClientStep::Current)
        };
    }
    if step == app.step {
        return Ok(ClientStep::Current);
    }
    match app.shape(step) {
        Some(shape) if step >= app.oldest_step() => Ok(ClientStep::Older(shape)),
        _ => Err(Problem::upgrade_required(step, app.oldest_step(), app.step)),
    }
}

/// A schema step from its decimal digits: 1 or more. A number too large for any real step
/// (more than `u32::MAX`) is an app from far ahead, not a malformed header: it counts as
/// `u32::MAX`, which is newer than any server.
fn parse_step(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = text.trim_start_matches('0');
    if digits.is_empty() {
        return None;
    }
    Some(digits.parse().unwrap_or(u32::MAX))
}

/// An older client's push, in the current shape.
#[derive(Debug, Default)]
pub(crate) struct PushIn {
    /// The mutations to run, with their positions in the request and what their conversion
    /// changed beyond names (`None`: nothing).
    pub mutations: Vec<(usize, Mutation, Option<Converted>)>,
    /// Mutations of entities dropped since (the spec's `migrate.drop` let their data go): to
    /// be accepted, applied to nothing, and kept in the audit.
    pub dropped_entities: Vec<(usize, Mutation)>,
}

/// Converts an older client's mutations to the current schema: renamed entities and fields
/// take their current names; values of fields dropped since are set aside; a value the
/// client's type holds that the field no longer takes (an enum value removed since, a value
/// of the type the field had) becomes what the server's step made of such stored values, the
/// field's default (or null), with the value as sent set aside. What is set aside goes to the
/// audit with the mutation's outcome.
pub(crate) fn push_in(app: &AppDef, shape: &Shape, mutations: Vec<Mutation>) -> PushIn {
    let mut out = PushIn::default();
    for (index, mut mutation) in mutations.into_iter().enumerate() {
        let Some(entity) = shape.entity(&mutation.entity) else {
            // Not an entity of the client's step either: the engine rejects it as unknown.
            out.mutations.push((index, mutation, None));
            continue;
        };
        let Some(now) = entity.now else {
            out.dropped_entities.push((index, mutation));
            continue;
        };
        mutation.entity = now.to_owned();
        let mut converted = Converted::default();
        let data = std::mem::take(&mut mutation.data);
        mutation.data = rename_keys(entity, data, &mut converted.dropped);
        if let Some(current) = app.entity(now) {
            convert_values(
                entity,
                current,
                &mut mutation.data,
                &mut converted.converted,
            );
        }
        if let Some(stamps) = mutation.field_stamps.take() {
            mutation.field_stamps = Some(
                stamps
                    .into_iter()
                    .filter_map(|(key, stamp)| match entity.field(&key) {
                        Some(FieldShape { now: Some(now), .. }) => Some(((*now).to_owned(), stamp)),
                        Some(FieldShape { now: None, .. }) => None,
                        None => Some((key, stamp)),
                    })
                    .collect(),
            );
        }
        let converted = (!converted.is_empty()).then_some(converted);
        out.mutations.push((index, mutation, converted));
    }
    out
}

/// `data` with the client's keys turned into the current ones; values of fields dropped since
/// go to `dropped`. Keys the client's step does not know stay as they are (and are refused
/// as unknown, as from any client).
fn rename_keys(
    entity: &EntityShape,
    data: Map<String, Value>,
    dropped: &mut Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in data {
        match entity.field(&key) {
            Some(FieldShape { now: Some(now), .. }) => {
                out.insert((*now).to_owned(), value);
            }
            Some(FieldShape { now: None, .. }) => {
                dropped.insert(key, value);
            }
            None => {
                out.insert(key, value);
            }
        }
    }
    out
}

/// Values (by current keys) of fields whose type changed since the client's step, that the
/// client's type holds and the current field does not take: each becomes the field's default
/// (or null), as the server's step made of stored values that did not convert, and the value
/// as sent goes to `originals`. Anything else is left for the engine's checks (a value the
/// client's own schema did not allow is refused as from any client).
fn convert_values(
    then: &EntityShape,
    now: &EntityDef,
    data: &mut Map<String, Value>,
    originals: &mut Map<String, Value>,
) {
    for (key, value) in data.iter_mut() {
        let (Some(field), Some(was)) = (now.field(key), then.field_now(key)) else {
            continue;
        };
        if was.kind == field.kind
            || value.is_null()
            || !holds(was.kind, value)
            || values::check_value(field, value).is_ok()
        {
            continue;
        }
        let replacement = match field.default {
            Some(default) => serde_json::from_str(default).unwrap_or(Value::Null),
            None if field.nullable => Value::Null,
            // No value to put there (a step never leaves a retyped field so): refused as sent.
            None => continue,
        };
        originals.insert(key.clone(), std::mem::replace(value, replacement));
    }
}

/// A push result, in the older client's shape.
pub(crate) fn result_out(shape: &Shape, entity_now: &str, mut result: PushResult) -> PushResult {
    let Some(entity) = shape.entity_now(entity_now) else {
        return result;
    };
    if let Some(record) = result.record.take() {
        result.record = Some(record_out(shape, record).unwrap_or_else(|| Record {
            entity: entity.table.to_owned(),
            id: result.id.clone(),
            version: result.version.unwrap_or(0),
            deleted: false,
            updated_at: None,
            deleted_at: None,
            data: Map::new(),
        }));
    }
    if let Some(overridden) = result.overridden.take() {
        result.overridden = Some(
            overridden
                .into_iter()
                .filter_map(|key| entity.field_now(&key).map(|f| f.key.to_owned()))
                .collect(),
        );
    }
    result
}

/// A record in the older client's shape; `None` for a record it cannot hold (of an entity
/// it does not have, or with a value it cannot hold in a field it requires).
pub(crate) fn record_out(shape: &Shape, mut record: Record) -> Option<Record> {
    let entity = shape.entity_now(&record.entity)?;
    record.entity = entity.table.to_owned();
    record.data = data_out(entity, std::mem::take(&mut record.data))?;
    Some(record)
}

/// The fields the client's step has, by its keys, with the values it can hold. A field it
/// cannot hold a value of is left out when it may be (its device keeps the value it has);
/// when it may not, there is no such record for that client.
fn data_out(entity: &EntityShape, data: Map<String, Value>) -> Option<Map<String, Value>> {
    let mut out = Map::new();
    for (key, value) in data {
        let Some(field) = entity.field_now(&key) else {
            continue;
        };
        if holds(field.kind, &value) {
            out.insert(field.key.to_owned(), value);
        } else if !field.optional {
            return None;
        }
    }
    Some(out)
}

/// Whether a field of type `kind` (the client's) can hold a current wire value.
fn holds(kind: Kind, value: &Value) -> bool {
    match (kind, value) {
        (_, Value::Null) => true,
        (Kind::Enum(values), Value::String(s)) => values.contains(&s.as_str()),
        (Kind::Enum(_), _) => false,
        (Kind::Int | Kind::DateTime, Value::Number(n)) => n.is_i64(),
        (Kind::Int | Kind::DateTime, _) => false,
        (Kind::Real, v) => v.is_number(),
        (Kind::Bool, v) => v.is_boolean(),
        (Kind::Text | Kind::Date | Kind::Uuid | Kind::Reference(_) | Kind::Blob, v) => {
            v.is_string()
        }
        (Kind::Json, _) => true,
        (Kind::Attachment, v) => crate::attachments::check(v).is_ok(),
    }
}

/// A pull page (the body the engine made) in the older client's shape: records of entities
/// it lacks are left out, the others converted. The cursor and `hasMore` stay.
pub(crate) fn page_out(shape: &Shape, page: &str) -> Result<String, Problem> {
    let mut page: Value =
        serde_json::from_str(page).map_err(|_| Problem::internal("a pull page is not JSON"))?;
    let records = page
        .get_mut("records")
        .and_then(Value::as_array_mut)
        .ok_or_else(|| Problem::internal("a pull page has no records"))?;
    let converted: Vec<Value> = std::mem::take(records)
        .into_iter()
        .filter_map(|r| serde_json::from_value::<Record>(r).ok())
        .filter_map(|r| record_out(shape, r))
        .map(|r| json!(r))
        .collect();
    *records = converted;
    serde_json::to_string(&page).map_err(|_| Problem::internal("a pull page did not print"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::FieldDef;
    use crate::protocol::Op;

    #[test]
    fn schema_steps_are_positive_decimal_numbers_and_huge_ones_are_from_ahead() {
        assert_eq!(parse_step("7"), Some(7));
        assert_eq!(parse_step("007"), Some(7));
        assert_eq!(parse_step("4294967295"), Some(u32::MAX));
        assert_eq!(parse_step("659157026219858"), Some(u32::MAX));
        assert_eq!(parse_step(&"9".repeat(400)), Some(u32::MAX));
        for bad in ["", "0", "000", "-1", "+3", "1.5", "1e3", "３", "0x10", " 1"] {
            assert_eq!(parse_step(bad), None, "{bad:?}");
        }
    }

    static FIELDS: [FieldShape; 5] = [
        FieldShape {
            key: "notes",
            now: Some("remarks"),
            kind: Kind::Text,
            optional: true,
        },
        FieldShape {
            key: "photoUrl",
            now: None,
            kind: Kind::Text,
            optional: true,
        },
        FieldShape {
            key: "kind",
            now: Some("kind"),
            kind: Kind::Enum(&["wildlife", "fire"]),
            optional: true,
        },
        FieldShape {
            key: "count",
            now: Some("count"),
            kind: Kind::Int,
            optional: true,
        },
        FieldShape {
            key: "status",
            now: Some("status"),
            kind: Kind::Enum(&["draft"]),
            optional: false,
        },
    ];
    static ENTITIES: [EntityShape; 2] = [
        EntityShape {
            table: "observations",
            now: Some("observations"),
            fields: &FIELDS,
        },
        EntityShape {
            table: "patrols",
            now: None,
            fields: &[],
        },
    ];
    static SHAPE: Shape = Shape {
        step: 1,
        entities: &ENTITIES,
    };

    const NO_SQL: crate::model::EntitySql = crate::model::EntitySql {
        load: "",
        insert: "",
        update: "",
        list: "",
    };
    const fn field(key: &'static str, kind: Kind, default: Option<&'static str>) -> FieldDef {
        FieldDef {
            key,
            column: key,
            kind,
            nullable: true,
            default,
        }
    }
    static NOW_FIELDS: [FieldDef; 5] = [
        field("remarks", Kind::Text, None),
        // `fire` removed since, with a default.
        field("kind", Kind::Enum(&["wildlife"]), Some("\"wildlife\"")),
        // The type changed since (int to date), without a default: null.
        field("count", Kind::Date, None),
        field("status", Kind::Enum(&["draft"]), None),
        field("weather", Kind::Text, None),
    ];
    static OBSERVATIONS: EntityDef = EntityDef {
        table: "observations",
        type_name: "Observation",
        fields: &NOW_FIELDS,
        policy: crate::model::Policy::Version,
        owner: None,
        sql: crate::model::Dialects {
            sqlite: NO_SQL,
            postgres: NO_SQL,
        },
    };
    static APP: AppDef = AppDef {
        name: "app",
        entities: &[&OBSERVATIONS],
        migrations: crate::model::Dialects {
            sqlite: &[],
            postgres: &[],
        },
        pull: crate::model::Dialects {
            sqlite: "",
            postgres: "",
        },
        push: crate::model::Dialects {
            sqlite: crate::model::PushSql {
                read: "",
                write: "",
            },
            postgres: crate::model::PushSql {
                read: "",
                write: "",
            },
        },
        step: 2,
        shapes: &[],
    };

    fn mutation(entity: &str, data: Value) -> Mutation {
        Mutation {
            mutation_id: "m".into(),
            entity: entity.into(),
            id: "r".into(),
            op: Op::Update,
            base_version: Some(3),
            data: data.as_object().unwrap().clone(),
            stamp: None,
            field_stamps: Some([("notes".to_owned(), 5)].into_iter().collect()),
        }
    }

    fn object(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn an_old_push_takes_the_current_names_and_sets_dropped_fields_aside() {
        let converted = push_in(
            &APP,
            &SHAPE,
            vec![
                mutation(
                    "observations",
                    json!({"notes": "n", "photoUrl": "p", "kind": "wildlife"}),
                ),
                mutation("patrols", json!({"name": "x"})),
                mutation("observations", json!({"notes": "only renamed"})),
            ],
        );
        let (_, first, change) = &converted.mutations[0];
        assert_eq!(
            first.data,
            object(json!({"remarks": "n", "kind": "wildlife"}))
        );
        assert_eq!(first.field_stamps.as_ref().unwrap()["remarks"], 5);
        assert_eq!(
            change.as_ref().unwrap(),
            &Converted {
                dropped: object(json!({"photoUrl": "p"})),
                converted: Map::new(),
            }
        );
        assert_eq!(
            converted.dropped_entities.len(),
            1,
            "a dropped entity's change is set aside whole"
        );
        assert_eq!(converted.dropped_entities[0].0, 1);
        assert_eq!(
            converted.mutations[1].2, None,
            "a rename alone converts nothing"
        );
    }

    #[test]
    fn a_value_the_schema_no_longer_takes_becomes_what_the_step_made_of_stored_ones() {
        let converted = push_in(
            &APP,
            &SHAPE,
            vec![mutation(
                "observations",
                json!({"kind": "fire", "count": 3, "status": "draft"}),
            )],
        );
        let (_, sent, change) = &converted.mutations[0];
        assert_eq!(
            sent.data,
            object(json!({"kind": "wildlife", "count": null, "status": "draft"})),
            "the default, else null; a value still taken stays"
        );
        assert_eq!(
            change.as_ref().unwrap().converted,
            object(json!({"kind": "fire", "count": 3})),
            "the values as sent, for the audit"
        );
        // A value the app's own schema did not allow is not converted: it is refused as sent.
        let converted = push_in(
            &APP,
            &SHAPE,
            vec![mutation("observations", json!({"kind": "snare"}))],
        );
        assert_eq!(converted.mutations[0].1.data["kind"], "snare");
        assert_eq!(converted.mutations[0].2, None);
    }

    #[test]
    fn an_old_pull_is_renamed_back_and_leaves_out_what_the_app_cannot_hold() {
        let record = |data: Value| Record {
            entity: "observations".into(),
            id: "r".into(),
            version: 2,
            deleted: false,
            updated_at: Some(1),
            deleted_at: None,
            data: data.as_object().unwrap().clone(),
        };
        let out = record_out(
            &SHAPE,
            record(json!({"remarks": "n", "kind": "snare", "count": 2.5, "weather": "dry"})),
        )
        .unwrap();
        assert_eq!(out.data, *json!({"notes": "n"}).as_object().unwrap());
        let out = record_out(&SHAPE, record(json!({"kind": "fire", "count": 2}))).unwrap();
        assert_eq!(
            out.data,
            *json!({"kind": "fire", "count": 2}).as_object().unwrap()
        );
        assert!(
            record_out(&SHAPE, record(json!({"status": "final"}))).is_none(),
            "a value it cannot hold in a field it requires: the record is not sent"
        );
        let mut camera = record(json!({}));
        camera.entity = "cameras".into();
        assert!(
            record_out(&SHAPE, camera).is_none(),
            "an entity added since is not sent"
        );
    }
}
