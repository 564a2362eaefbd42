//! What must hold once the faults stopped and the fleet went quiet:
//!
//! - **stuck**: no phone has a queue entry, conflict or clash left, nor a row not `synced`;
//! - **divergent**: every phone holds exactly what the server serves its user;
//! - **duplicated**: no mutation took effect twice (a retried mutation gets its first answer,
//!   every version of a row comes from one accepted mutation, nothing is audited twice, and a
//!   retry is the same mutation as its first sending);
//! - **lost**: every write an app made reached the server, unless the same app wrote over it
//!   or chose the server's side of a conflict; and every value the server accepted is in the
//!   row, or was written over by a device that had seen it, or is in `_offgen_audit`.

use std::collections::{BTreeMap, BTreeSet};

use offgen_runtime::model::{Kind, Policy};
use serde_json::{Map, Value};

use crate::history::{Sent, WriteOp};
use crate::schema::{EntityShape, SchemaVersion, holds};
use crate::server::AuditRow;
use crate::workload::{self, Comparable, row_label, same, same_record};
use crate::world::{USERS, World, check_token};

/// What the checks found, per invariant (one line per problem).
#[derive(Clone, Debug, Default)]
pub struct Findings {
    /// Writes that vanished.
    pub lost: Vec<String>,
    /// Writes that took effect twice.
    pub duplicated: Vec<String>,
    /// Rows a phone holds differently from the server.
    pub divergent: Vec<String>,
    /// Queue entries, conflicts or rows that never settled.
    pub stuck: Vec<String>,
    /// lww rows whose end depends on the order the same writes arrived in.
    pub order: Vec<String>,
}

impl Findings {
    /// Whether every invariant holds.
    pub fn passed(&self) -> bool {
        self.kinds().is_empty()
    }

    /// The invariants that failed.
    pub fn kinds(&self) -> BTreeSet<&'static str> {
        [
            ("lost", &self.lost),
            ("duplicated", &self.duplicated),
            ("divergent", &self.divergent),
            ("stuck", &self.stuck),
            ("order-dependent", &self.order),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| k)
        .collect()
    }
}

/// The server's rows, as every user together sees them, by (table, id): the raw records.
pub type ServerRows = BTreeMap<(String, String), Value>;

/// Every row each user pulls, and all of them together.
pub fn server_rows(world: &World) -> Result<(Vec<ServerRows>, ServerRows), String> {
    let mut per_user = Vec::new();
    let mut all = ServerRows::new();
    for u in 0..USERS.len() {
        let mut rows = ServerRows::new();
        for record in world.server.pull_all(&check_token(u))? {
            let key = (
                record["entity"].as_str().unwrap_or_default().to_owned(),
                record["id"].as_str().unwrap_or_default().to_owned(),
            );
            all.insert(key.clone(), record.clone());
            rows.insert(key, record);
        }
        per_user.push(rows);
    }
    Ok((per_user, all))
}

/// Runs every check but the order check (see `replay`).
pub fn check(world: &mut World) -> Result<Findings, String> {
    let mut findings = Findings::default();
    let (per_user, all) = server_rows(world)?;
    let audit = world.server.audit()?;
    if !world.quiesced {
        findings
            .stuck
            .push("the fleet was still syncing changes after every round".to_owned());
    }
    for d in 0..world.devices.len() {
        stuck(world, d, &mut findings.stuck)?;
        let user = world.devices[d].profile.user;
        let step = world.versions[world.devices[d].version].step;
        // What the server serves the phone: in its own shape (a phone behind the server).
        let own = if step == world.server.step() {
            None
        } else {
            Some(served_at(world, user, step)?)
        };
        divergent(
            world,
            d,
            own.as_ref().unwrap_or(&per_user[user]),
            &per_user[user],
            &mut findings.divergent,
        )?;
    }
    duplicated(world, &all, &audit, &mut findings.duplicated);
    let server = &world.versions[world.server_version];
    accepted_kept(world, server, &all, &audit, &mut findings.lost);
    writes_arrived(world, server, &all, &audit, &mut findings.lost);
    Ok(findings)
}

/// Every row `user` pulls as an app at `step` pulls them.
fn served_at(world: &World, user: usize, step: u32) -> Result<ServerRows, String> {
    let mut rows = ServerRows::new();
    for record in world.server.pull_all_at(&check_token(user), Some(step))? {
        let key = (
            record["entity"].as_str().unwrap_or_default().to_owned(),
            record["id"].as_str().unwrap_or_default().to_owned(),
        );
        rows.insert(key, record);
    }
    Ok(rows)
}

/// A mutation's fields by their names in `server`'s version, without those dropped since.
fn data_now(server: &SchemaVersion, sent: &Sent) -> Map<String, Value> {
    let step = sent.step.unwrap_or(server.step);
    sent.data()
        .into_iter()
        .filter_map(|(key, value)| {
            let now = server.key_from(step, sent.table(), &key)?;
            Some((now.to_owned(), value))
        })
        .collect()
}

fn stuck(world: &mut World, d: usize, out: &mut Vec<String>) -> Result<(), String> {
    let versions = world.versions.clone();
    let device = &mut world.devices[d];
    let version = device.version;
    let app = device.app(&versions)?;
    let stats = app.stats().map_err(|e| e.to_string())?;
    let entries: Vec<(String, String, String, String, Option<String>)> = app
        .connection()
        .prepare("SELECT entity, row_id, op, state, last_error FROM _offgen_outbox ORDER BY seq")
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })?
            .collect()
        })
        .map_err(|e| e.to_string())?;
    for (entity, id, op, state, error) in entries {
        out.push(format!(
            "d{d}: {op} {} is still in the queue ({state}{})",
            row_label(&entity, &id),
            error.map(|e| format!(": {e}")).unwrap_or_default()
        ));
    }
    for c in app.list_conflicts().map_err(|e| e.to_string())? {
        out.push(format!(
            "d{d}: a conflict on {} is still waiting: {}",
            row_label(&c.entity, &c.row_id),
            c.message
        ));
    }
    for c in app.list_clashes().map_err(|e| e.to_string())? {
        out.push(format!(
            "d{d}: {} waits for a clash with {}: {}",
            row_label(&c.entity, &c.id),
            c.local_row_id,
            c.message
        ));
    }
    for entity in &versions[version].entities {
        let rows: Vec<(String, String, Option<String>)> = app
            .connection()
            .prepare(&format!(
                "SELECT id, sync_status, sync_error FROM \"{}\" WHERE sync_status <> 'synced' ORDER BY id",
                entity.table
            ))
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect()
            })
            .map_err(|e| e.to_string())?;
        for (id, status, error) in rows {
            out.push(format!(
                "d{d}: {} shows `{status}`{}",
                row_label(entity.table, &id),
                error.map(|e| format!(" ({e})")).unwrap_or_default()
            ));
        }
    }
    if stats.queue_depth > 0 && out.is_empty() {
        out.push(format!(
            "d{d}: the badge shows {} queued",
            stats.queue_depth
        ));
    }
    Ok(())
}

/// `server` is what the server serves the phone (in its shape); `current` what it serves its
/// user at the server's own step.
fn divergent(
    world: &mut World,
    d: usize,
    server: &ServerRows,
    current: &ServerRows,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let server_step = world.server.step();
    let versions = world.versions.clone();
    let device = &mut world.devices[d];
    let version = &versions[device.version];
    let behind = version.step != server_step;
    let app = device.app(&versions)?;
    let mut local = workload::device_rows(app, version).map_err(|e| e.to_string())?;
    let mut remote: BTreeMap<(String, String), Comparable> = server
        .iter()
        .filter(|((table, _), _)| version.entity(table).is_some())
        .map(|(k, r)| (k.clone(), workload::server_record(r)))
        .collect();
    // A row deleted outright on the phone is a tombstone on the server; a row made and
    // deleted before it was ever sent is a tombstone only the phone has.
    remote.retain(|k, r| local.contains_key(k) || !r.deleted);
    local.retain(|k, r| remote.contains_key(k) || !r.deleted);
    if behind {
        // A live row the server does not send a phone behind it holds a value that phone
        // cannot hold in a required field (an enum value added since): the phone keeps the
        // row as it last had it (protocol.md, *Schema steps*).
        local.retain(|k, _| {
            remote.contains_key(k) || current.get(k).is_none_or(|r| r["deleted"] == true)
        });
    }
    for (key, r) in &remote {
        let label = row_label(&key.0, &key.1);
        let mut l = local.get(key).cloned();
        if behind && let Some(l) = &mut l {
            // A value it cannot hold is left out of an optional field: the phone keeps its own.
            l.data.retain(|k, _| r.deleted || r.data.contains_key(k));
        }
        match l.as_ref() {
            None => out.push(format!("d{d} lacks {label} (server v{})", r.version)),
            Some(l) if !same_record(version.entity(&key.0), l, r) => out.push(format!(
                "d{d} holds {label} as {} but the server as {}",
                show(l, r),
                show(r, l)
            )),
            Some(_) => {}
        }
    }
    for key in local.keys().filter(|k| !remote.contains_key(*k)) {
        out.push(format!(
            "d{d} holds {}, which the server does not serve it",
            row_label(&key.0, &key.1)
        ));
    }
    Ok(())
}

/// A record for a divergence message: version, tombstone, and the fields that differ from
/// `other`'s.
fn show(record: &Comparable, other: &Comparable) -> String {
    if record.deleted {
        return format!("v{} deleted", record.version);
    }
    let differing: Vec<String> = record
        .data
        .iter()
        .filter(|(k, v)| other.data.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: {}", short(v)))
        .collect();
    format!("v{} {{{}}}", record.version, differing.join(", "))
}

fn short(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// A row's key: (table, id).
type RowKey = (String, String);

/// An accepted mutation: the version it made, its id, and what was sent (as the sending
/// the server decided carried it: an app upgraded in between sends it in its new shape).
type Accepted = (i64, String, Sent);

/// The accepted mutations of each row, oldest version first.
fn accepted_by_row(world: &World) -> BTreeMap<RowKey, Vec<Accepted>> {
    let mut rows: BTreeMap<RowKey, Vec<Accepted>> = BTreeMap::new();
    for (id, sent) in world.history.in_order() {
        if let Some(decision) = world.history.decided(id)
            && decision.status == "accepted"
            && let Some(version) = decision.version
        {
            let mut decided = sent.clone();
            decided.mutation = decision.mutation.clone();
            decided.step = decision.client_step;
            rows.entry((sent.table().to_owned(), sent.id().to_owned()))
                .or_default()
                .push((version, id.clone(), decided));
        }
    }
    for list in rows.values_mut() {
        list.sort_by_key(|(v, _, s)| (*v, s.order));
    }
    rows
}

fn duplicated(world: &World, server: &ServerRows, audit: &[AuditRow], out: &mut Vec<String>) {
    let history = &world.history;
    let now = &world.versions[world.server_version];
    for resent in &history.changed_on_retry {
        let sent = &history.sent[&resent.key];
        if resent.step != sent.step && !resent.decided_before {
            // Never decided (every answer so far refused the whole push, e.g. a server behind
            // the app answering `schema-ahead`), and the app was upgraded since: its
            // migration made the change again from the migrated row. Nothing of the first
            // contents was applied; the checks judge the sending the server decided.
            continue;
        }
        let mut retry = sent.clone();
        retry.mutation = resent.mutation.clone();
        retry.step = resent.step;
        // The same mutation in the server's names and values: a value a later step no longer
        // takes is what that step made of it (the field's default, or null), which is what
        // the app's own migration made of it in the queued mutation.
        let comparable = |s: &Sent| {
            let mut m = s.mutation.clone();
            let mut data = data_now(now, s);
            let entity = now.entity(s.table());
            let defined = now.app.entity(s.table());
            for (key, value) in data.iter_mut() {
                if !holds(kind_of(entity, key), value) {
                    *value = defined
                        .and_then(|e| e.field(key))
                        .and_then(|f| f.default)
                        .and_then(|d| serde_json::from_str(d).ok())
                        .unwrap_or(Value::Null);
                }
            }
            m["data"] = Value::Object(data);
            // lww field stamps are keyed by the app's names as well (the server renames them
            // as it does the data, and the app's migration renamed the queued ones).
            if let Some(stamps) = m.get("fieldStamps").and_then(Value::as_object) {
                let step = s.step.unwrap_or(now.step);
                let stamps: Map<String, Value> = stamps
                    .iter()
                    .filter_map(|(key, stamp)| {
                        let key = now.key_from(step, s.table(), key)?;
                        Some((key.to_owned(), stamp.clone()))
                    })
                    .collect();
                m["fieldStamps"] = Value::Object(stamps);
            }
            m
        };
        if resent.step != sent.step && comparable(sent) == comparable(&retry) {
            continue;
        }
        out.push(format!(
            "a mutation on {} was sent again under its id with other contents",
            row_label(sent.table(), sent.id())
        ));
    }
    for (id, _) in history.in_order() {
        let Some(decisions) = history.decisions.get(id) else {
            continue;
        };
        let Some(first) = decisions
            .iter()
            .position(|d| d.status == "accepted" || (d.status == "conflict" && stored(world, id)))
        else {
            continue;
        };
        let reference = &decisions[first];
        for later in &decisions[first + 1..] {
            if later.status != reference.status || later.version != reference.version {
                let sent = &history.sent[id];
                out.push(format!(
                    "{} {} was answered {} v{:?}, then {} v{:?} when it came again",
                    sent.op(),
                    row_label(sent.table(), sent.id()),
                    reference.status,
                    reference.version,
                    later.status,
                    later.version
                ));
            }
        }
    }
    let accepted = accepted_by_row(world);
    for ((table, id), record) in server {
        let final_version = record["version"].as_i64().unwrap_or(0);
        let versions: BTreeSet<i64> = accepted
            .get(&(table.clone(), id.clone()))
            .map(|l| l.iter().map(|(v, _, _)| *v).collect())
            .unwrap_or_default();
        for v in 1..=final_version {
            if !versions.contains(&v) {
                out.push(format!(
                    "{} is at v{final_version}, but no accepted mutation made v{v} (one applied twice?)",
                    row_label(table, id)
                ));
                break;
            }
        }
    }
    let mut seen = BTreeSet::new();
    for row in audit {
        let key = (
            row.mutation_id.clone(),
            row.reason.clone(),
            row.losing.to_string(),
        );
        if !seen.insert(key) {
            out.push(format!(
                "the audit keeps the same loss of {} twice ({})",
                row_label(&row.entity, &row.row_id),
                row.reason
            ));
        }
    }
}

/// Whether a conflict answer to this mutation is one the server stores (lww and server_wins
/// decided it: a retry must get the same answer; a `version` conflict is evaluated again).
fn stored(world: &World, mutation_id: &str) -> bool {
    let sent = &world.history.sent[mutation_id];
    world.versions[world.server_version]
        .entity(sent.table())
        .is_some_and(|e| !matches!(e.policy, Policy::Version))
}

fn kind_of(entity: Option<&EntityShape>, key: &str) -> Kind {
    entity
        .and_then(|e| e.field(key))
        .map_or(Kind::Text, |f| f.kind)
}

fn audited(
    audit: &[AuditRow],
    table: &str,
    id: &str,
    key: &str,
    value: &Value,
    kind: Kind,
) -> bool {
    audit.iter().any(|a| {
        let data = &a.losing["data"];
        a.entity == table && a.row_id == id && data.get(key).is_some_and(|v| same(kind, v, value))
    })
}

/// Every value the server accepted is in the row, or was written over by a mutation from a
/// device that had seen it (its base version at least the value's), or is in the audit.
fn accepted_kept(
    world: &World,
    now: &SchemaVersion,
    server: &ServerRows,
    audit: &[AuditRow],
    out: &mut Vec<String>,
) {
    for ((table, id), list) in accepted_by_row(world) {
        let entity = now.entity(&table);
        let record = server.get(&(table.clone(), id.clone()));
        let live = record.is_some_and(|r| r["deleted"] != true);
        for (i, (version, mid, sent)) in list.iter().enumerate() {
            if sent.op() == "delete" {
                continue;
            }
            let decided_by = world.history.decided(mid).map(|d| d.server_step);
            let step = sent.step.or(decided_by).unwrap_or(now.step);
            let sender = world.version_at(step);
            for (key, value) in sent.data() {
                let Some(key_now) = now.key_from(step, &table, &key) else {
                    // Dropped since. When the server that decided it had dropped it already,
                    // the value must be in the audit; a later step dropped it by the spec's
                    // choice (`migrate: drop`).
                    let dropped_then = decided_by
                        .and_then(|s| world.version_at(s))
                        .is_some_and(|v| v.key_from(step, &table, &key).is_none());
                    let kind = kind_of(sender.and_then(|v| v.entity(&table)), &key);
                    if dropped_then && !audited(audit, &table, &id, &key, &value, kind) {
                        out.push(format!(
                            "{}: {key} = {} (a field dropped since step {step}) is not in the audit",
                            row_label(&table, &id),
                            short(&value),
                        ));
                    }
                    continue;
                };
                let kind = kind_of(entity, key_now);
                if !holds(kind, &value) {
                    // A value the schema no longer takes (a removed enum value). When the
                    // server that decided it no longer took it either, it converted the value
                    // on the way in and must keep it in the audit; a later step converted it
                    // with the stored ones by the spec's choice (`migrate: retype`).
                    let converted_then = decided_by
                        .and_then(|s| world.version_at(s))
                        .and_then(|v| {
                            let key = v.key_from(step, &table, &key)?;
                            Some(!holds(kind_of(v.entity(&table), key), &value))
                        })
                        .unwrap_or(false);
                    if converted_then && !audited(audit, &table, &id, key_now, &value, kind) {
                        out.push(format!(
                            "{}: {key} = {} (a value the server converted on arrival) is not in the audit",
                            row_label(&table, &id),
                            short(&value),
                        ));
                    }
                    continue;
                }
                let in_row = live
                    && record
                        .and_then(|r| r["data"].get(key_now))
                        .is_some_and(|v| same(kind, v, &value));
                let overwritten_knowingly = list[i + 1..].iter().any(|(_, _, later)| {
                    later.base_version().is_some_and(|b| b >= *version)
                        && (later.op() == "delete" || data_now(now, later).contains_key(key_now))
                });
                if !(in_row
                    || overwritten_knowingly
                    || audited(audit, &table, &id, key_now, &value, kind)
                    || audited(audit, &table, &id, &key, &value, kind))
                {
                    out.push(format!(
                        "{}: {key} = {} ({} as v{version}) is neither in the row nor in the audit",
                        row_label(&table, &id),
                        short(&value),
                        sent.device
                            .map_or("setup".to_owned(), |d| format!("d{d}'s {}", sent.op())),
                    ));
                }
            }
        }
    }
}

/// Every write an app made reached the server as a decided mutation, unless the same app
/// wrote the same field again (or deleted the row), or settled a conflict on the row with
/// `take_server` afterwards.
fn writes_arrived(
    world: &World,
    now: &SchemaVersion,
    server: &ServerRows,
    audit: &[AuditRow],
    out: &mut Vec<String>,
) {
    let history = &world.history;
    type PhoneRow<'h> = (usize, &'h str, &'h str);
    let mut by_row: BTreeMap<PhoneRow<'_>, Vec<(&String, &Sent)>> = BTreeMap::new();
    for (mid, sent) in history.in_order() {
        if let Some(d) = sent.device {
            by_row
                .entry((d, sent.table(), sent.id()))
                .or_default()
                .push((mid, sent));
        }
    }
    for (i, write) in history.writes.iter().enumerate() {
        let later = &history.writes[i + 1..];
        let same_row = |w: &&crate::history::LocalWrite| {
            w.device == write.device && w.table == write.table && w.id == write.id
        };
        let deleted_later = later
            .iter()
            .filter(same_row)
            .any(|w| w.op == WriteOp::Delete);
        let taken = history.taken_from_server.iter().any(|(tick, d, t, id)| {
            *tick > write.tick && *d == write.device && *t == write.table && *id == write.id
        });
        if taken {
            continue;
        }
        let entity = now.entity(&write.table);
        let sent = by_row
            .get(&(write.device, write.table.as_str(), write.id.as_str()))
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        let label = row_label(&write.table, &write.id);
        if write.op == WriteOp::Delete {
            let arrived = sent.iter().any(|(mid, s)| {
                s.op() == "delete" && s.tick >= write.tick && history.decided(mid).is_some()
            });
            let never_sent =
                sent.is_empty() && !server.contains_key(&(write.table.clone(), write.id.clone()));
            if !(arrived || never_sent) {
                out.push(format!(
                    "d{}'s delete of {label} (step tick {}) never reached the server",
                    write.device, write.tick
                ));
            }
            continue;
        }
        for (key, value) in &write.values {
            // A field dropped since: what its app wrote there went with it (and when the
            // server had dropped it already, `accepted_kept` finds it in the audit).
            let Some(key_now) = now.key_from(write.step, &write.table, key) else {
                continue;
            };
            let rewritten = deleted_later
                || later.iter().filter(same_row).any(|w| {
                    w.values
                        .keys()
                        .any(|k| now.key_from(w.step, &w.table, k) == Some(key_now))
                });
            if rewritten {
                continue;
            }
            let kind = kind_of(entity, key_now);
            if !holds(kind, value) {
                // A value a later step converted (a removed enum value).
                continue;
            }
            let carriers: Vec<&(&String, &Sent)> = sent
                .iter()
                .filter(|(_, s)| {
                    s.tick >= write.tick
                        && s.op() != "delete"
                        && data_now(now, s)
                            .get(key_now)
                            .is_some_and(|v| same(kind, v, value))
                })
                .collect();
            let outcome = carriers.iter().find_map(|(mid, s)| {
                let decision = history.decided(mid)?;
                match decision.status.as_str() {
                    "accepted" => Some(true),
                    // lww and server_wins decided against it: it must be in the audit.
                    "conflict" if !matches!(entity.map(|e| e.policy), Some(Policy::Version)) => {
                        Some(
                            audit.iter().any(|a| a.mutation_id == s.mutation_id)
                                || audited(audit, s.table(), s.id(), key_now, value, kind)
                                || audited(audit, s.table(), s.id(), key, value, kind),
                        )
                    }
                    _ => None,
                }
            });
            match outcome {
                Some(true) => {}
                Some(false) => out.push(format!(
                    "d{}'s {key} = {} on {label} lost a conflict and is not in the audit",
                    write.device,
                    short(value)
                )),
                None => out.push(format!(
                    "d{}'s {key} = {} on {label} (tick {}) never reached the server{}",
                    write.device,
                    short(value),
                    write.tick,
                    if carriers.is_empty() {
                        ""
                    } else {
                        " (sent, never accepted)"
                    }
                )),
            }
        }
    }
}
