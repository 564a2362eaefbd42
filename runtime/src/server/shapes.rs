//! Serving apps at older schema steps in their own shape (docs/rollout.md).
//!
//! Every push and pull names the client's schema step ([`SCHEMA_STEP_HEADER`]). A client at
//! the server's step is served as is. One at an earlier step still in the window
//! ([`AppDef::shapes`]) has its pushes converted to the current names (renamed fields and
//! entities; fields and entities dropped since are accepted and ignored, and audited), and its
//! pulls and push results converted back (renamed back; what it cannot hold left out: entities
//! and fields added since, enum values added since, values of a type it does not have). A
//! client older than the window is told to upgrade; one newer than the server is told the
//! server is behind, and its changes wait on the device.

use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::problem::Problem;
use crate::model::{AppDef, EntityShape, FieldShape, Kind, Shape};
use crate::protocol::{Mutation, PushResult, PushStatus, Record, SCHEMA_STEP_HEADER};

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

/// Something an older client wrote that the current schema no longer has.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Ignored {
    /// The mutation (by its position in the request).
    pub index: usize,
    /// The entity as the client named it.
    pub entity: String,
    /// The row.
    pub id: String,
    /// The mutation's id.
    pub mutation_id: String,
    /// The values ignored, by the client's keys.
    pub data: Map<String, Value>,
    /// Whether the whole entity is gone (else: only these fields).
    pub entity_dropped: bool,
}

/// An older client's push, in the current shape.
#[derive(Debug, Default)]
pub(crate) struct PushIn {
    /// The mutations to run, with their positions in the request.
    pub mutations: Vec<(usize, Mutation)>,
    /// Answers already made (mutations of entities dropped since: accepted, nothing to do).
    pub answered: Vec<(usize, PushResult)>,
    /// What is ignored, for the audit.
    pub ignored: Vec<Ignored>,
}

/// Converts an older client's mutations to the current names.
pub(crate) fn push_in(shape: &Shape, mutations: Vec<Mutation>) -> PushIn {
    let mut out = PushIn::default();
    for (index, mut mutation) in mutations.into_iter().enumerate() {
        let Some(entity) = shape.entity(&mutation.entity) else {
            // Not an entity of the client's step either: the engine rejects it as unknown.
            out.mutations.push((index, mutation));
            continue;
        };
        let Some(now) = entity.now else {
            // The entity was dropped since (the spec's `migrate.drop` let its data go): the
            // change is accepted, applied to nothing, and kept in the audit.
            out.ignored.push(Ignored {
                index,
                entity: mutation.entity.clone(),
                id: mutation.id.clone(),
                mutation_id: mutation.mutation_id.clone(),
                data: mutation.data.clone(),
                entity_dropped: true,
            });
            out.answered.push((
                index,
                PushResult {
                    mutation_id: mutation.mutation_id,
                    id: mutation.id,
                    status: PushStatus::Accepted,
                    version: Some(mutation.base_version.unwrap_or(0).max(1)),
                    record: None,
                    overridden: None,
                    error: None,
                },
            ));
            continue;
        };
        mutation.entity = now.to_owned();
        let mut dropped = Map::new();
        mutation.data = rename_keys(entity, std::mem::take(&mut mutation.data), &mut dropped);
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
        if !dropped.is_empty() {
            out.ignored.push(Ignored {
                index,
                entity: entity.table.to_owned(),
                id: mutation.id.clone(),
                mutation_id: mutation.mutation_id.clone(),
                data: dropped,
                entity_dropped: false,
            });
        }
        out.mutations.push((index, mutation));
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

    #[test]
    fn an_old_push_takes_the_current_names_and_sets_dropped_fields_aside() {
        let converted = push_in(
            &SHAPE,
            vec![
                mutation(
                    "observations",
                    json!({"notes": "n", "photoUrl": "p", "kind": "fire"}),
                ),
                mutation("patrols", json!({"name": "x"})),
            ],
        );
        let (_, first) = &converted.mutations[0];
        assert_eq!(
            first.data,
            *json!({"remarks": "n", "kind": "fire"}).as_object().unwrap()
        );
        assert_eq!(first.field_stamps.as_ref().unwrap()["remarks"], 5);
        assert_eq!(converted.ignored[0].data["photoUrl"], "p");
        assert!(!converted.ignored[0].entity_dropped);
        assert_eq!(
            converted.answered.len(),
            1,
            "a dropped entity's change is answered at once"
        );
        assert_eq!(converted.answered[0].1.status, PushStatus::Accepted);
        assert!(converted.ignored[1].entity_dropped);
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
