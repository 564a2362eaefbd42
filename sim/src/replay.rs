//! The order check for `lww` entities, whose end the project promises does not depend on the
//! order writes arrive in: every lww mutation the server decided in the run is pushed again,
//! each at the server time it first arrived (so stamps are limited the same way), in other
//! orders, to fresh servers; each must end with the same lww rows as the run.
//!
//! A row's insert still comes before its other mutations (nothing can change a row that does
//! not exist yet), and the rows the lww rows refer to are created first, in their order. The
//! fresh servers run the version the run's server ended on, and each mutation goes at the
//! schema step its app sent it at (in that app's shape).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::checks::ServerRows;
use crate::rng::Rng;
use crate::server::{Backend, SimServer};
use crate::workload::{self, row_label, same_record};
use crate::world::{USERS, World, check_token};

/// How many other orders each run tries.
const ORDERS: usize = 2;

/// Rows of lww entities whose end differs in another order of the same writes.
pub fn order_dependence(
    world: &World,
    server_rows: &ServerRows,
    backend: &Backend,
    dir: &Path,
    rng: &mut Rng,
) -> Result<Vec<String>, String> {
    let newest = &world.versions[world.server_version];
    let lww = |table: &str| newest.entity(table).is_some_and(|e| e.policy.is_lww());
    // (order the server decided it in, server time, user, step, mutation)
    let mut base = Vec::new();
    let mut contested = Vec::new();
    for (id, sent) in world.history.in_order() {
        let Some(decision) = world.history.decided(id) else {
            continue;
        };
        let entry = Replayed {
            seq: decision.seq,
            at: decision.at,
            user: sent.user,
            step: sent.step,
            mutation: sent.mutation.clone(),
        };
        if lww(sent.table()) {
            contested.push(entry);
        } else if sent.op() == "insert" && decision.status == "accepted" {
            base.push(entry);
        }
    }
    if contested.is_empty() {
        return Ok(Vec::new());
    }
    base.sort_by_key(|e| e.seq);
    contested.sort_by_key(|e| e.seq);
    let tokens: Vec<String> = (0..USERS.len())
        .map(|u| format!("{}={}", USERS[u].1, check_token(u)))
        .collect();
    let mut findings = Vec::new();
    for order in 0..ORDERS {
        let mut shuffled = contested.clone();
        for i in (1..shuffled.len()).rev() {
            shuffled.swap(i, rng.index(i + 1));
        }
        inserts_first(&mut shuffled);
        let sub = dir.join(format!("order{order}"));
        std::fs::create_dir_all(&sub).map_err(|e| e.to_string())?;
        let server = SimServer::start(backend, &sub, tokens.join(","), newest)?;
        for e in base.iter().chain(shuffled.iter()) {
            offgen_runtime::server::set_fixed_clock(Some(e.at));
            server.push_at(
                &check_token(e.user),
                e.step,
                Value::Array(vec![e.mutation.clone()]),
            )?;
        }
        let mut ended = ServerRows::new();
        for u in 0..USERS.len() {
            for record in server.pull_all(&check_token(u))? {
                let key = (
                    record["entity"].as_str().unwrap_or_default().to_owned(),
                    record["id"].as_str().unwrap_or_default().to_owned(),
                );
                ended.insert(key, record);
            }
        }
        for (key, record) in server_rows.iter().filter(|(k, _)| lww(&k.0)) {
            let shape = newest.entity(&key.0);
            let mut ran = workload::server_record(record);
            let Some(other) = ended.get(key).map(workload::server_record) else {
                findings.push(format!(
                    "{} is missing when the same writes arrive in another order",
                    row_label(&key.0, &key.1)
                ));
                continue;
            };
            // Versions count accepted writes, which differ by order; the values must not.
            ran.version = other.version;
            if !same_record(shape, &ran, &other) {
                findings.push(format!(
                    "{} ends as {} in the run but as {} when the same writes arrive in another order",
                    row_label(&key.0, &key.1),
                    summary(&ran, &other),
                    summary(&other, &ran)
                ));
            }
        }
        if !findings.is_empty() {
            break;
        }
    }
    Ok(findings)
}

/// A mutation to push again.
#[derive(Clone)]
struct Replayed {
    /// The order the server decided it in.
    seq: u64,
    /// The server time it first arrived at.
    at: i64,
    /// Its user.
    user: usize,
    /// The schema step its app sent it at.
    step: Option<u32>,
    /// As sent.
    mutation: Value,
}

/// Moves each row's insert in front of the row's other mutations.
fn inserts_first(list: &mut [Replayed]) {
    let mut first_of_row: BTreeMap<String, usize> = BTreeMap::new();
    for i in 0..list.len() {
        let row = list[i].mutation["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let first = *first_of_row.entry(row).or_insert(i);
        if list[i].mutation["op"] == "insert" && first != i {
            list.swap(first, i);
        }
    }
}

fn summary(record: &workload::Comparable, other: &workload::Comparable) -> String {
    if record.deleted {
        return "deleted".to_owned();
    }
    let differing: Vec<String> = record
        .data
        .iter()
        .filter(|(k, v)| other.data.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: {v}"))
        .collect();
    format!("{{{}}}", differing.join(", "))
}
