//! What happened in a run, as the checks need it: every write the apps made, every mutation
//! the phones sent (the network sees each request), and every answer the server gave to each
//! mutation (the network sees each response, also those it then loses).

use std::collections::BTreeMap;

use offgen_runtime::client::{Method, Request, Response};
use serde_json::{Map, Value};

/// What a write did to its row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOp {
    /// Created it.
    Insert,
    /// Changed some fields.
    Update,
    /// Deleted it.
    Delete,
}

/// A write an app made on its phone.
#[derive(Clone, Debug)]
pub struct LocalWrite {
    /// When (the run's tick).
    pub tick: u64,
    /// Which phone.
    pub device: usize,
    /// The entity's table.
    pub table: String,
    /// The row.
    pub id: String,
    /// What it did.
    pub op: WriteOp,
    /// The schema step of the app that made it (its `values` are in that step's names).
    pub step: u32,
    /// The fields it set (wire keys; empty for a delete).
    pub values: Map<String, Value>,
}

/// A mutation as a phone first sent it. A `version` conflict settled with `keep_local`
/// sends the entry again under its mutation id on top of the newer version (nothing was
/// applied, so the server evaluates it afresh): that is another [`Sent`], keyed by
/// [`mutation_key`].
#[derive(Clone, Debug)]
pub struct Sent {
    /// Its mutation id.
    pub mutation_id: String,
    /// Which phone (`None`: the simulation's own setup).
    pub device: Option<usize>,
    /// The user it was sent as (index in the run's users).
    pub user: usize,
    /// When it was first sent.
    pub tick: u64,
    /// Its place among every mutation of the run, by first sending (mutation ids are random,
    /// so anything that must replay the same way goes by this).
    pub order: u64,
    /// The schema step the app sent it at (`Offgen-Schema-Step`; `None`: not said, the
    /// server's); its names are that step's.
    pub step: Option<u32>,
    /// The wire mutation, as sent.
    pub mutation: Value,
}

impl Sent {
    /// The entity's table.
    pub fn table(&self) -> &str {
        self.mutation["entity"].as_str().unwrap_or_default()
    }

    /// The row.
    pub fn id(&self) -> &str {
        self.mutation["id"].as_str().unwrap_or_default()
    }

    /// `insert`, `update` or `delete`.
    pub fn op(&self) -> &str {
        self.mutation["op"].as_str().unwrap_or_default()
    }

    /// The row version it was based on.
    pub fn base_version(&self) -> Option<i64> {
        self.mutation["baseVersion"].as_i64()
    }

    /// The fields it carries.
    pub fn data(&self) -> Map<String, Value> {
        self.mutation["data"]
            .as_object()
            .cloned()
            .unwrap_or_default()
    }
}

/// One answer of the server to one mutation.
#[derive(Clone, Debug)]
pub struct Decision {
    /// `accepted`, `conflict` or `rejected`.
    pub status: String,
    /// The row's version the answer gives.
    pub version: Option<i64>,
    /// The server's clock when it answered.
    pub at: i64,
    /// The run's tick.
    pub tick: u64,
    /// Its place among every answer of the run (the order the server decided in).
    pub seq: u64,
    /// The schema step the server that answered ran.
    pub server_step: u32,
    /// The mutation as the answered request carried it.
    pub mutation: Value,
    /// The schema step that request said its app runs.
    pub client_step: Option<u32>,
    /// The whole result, for traces.
    pub result: Value,
}

/// Everything the checks look at.
#[derive(Debug, Default)]
pub struct History {
    /// The apps' writes, in order.
    pub writes: Vec<LocalWrite>,
    /// Every mutation sent, by [`mutation_key`], as first sent.
    pub sent: BTreeMap<String, Sent>,
    /// Every answer to each mutation, by [`mutation_key`], in order.
    pub decisions: BTreeMap<String, Vec<Decision>>,
    /// (tick, phone, table, id) of every conflict the app settled with `take_server`: the
    /// phone's earlier writes to that row were dropped by the app's choice.
    pub taken_from_server: Vec<(u64, usize, String, String)>,
    /// Mutations sent again with the same id and base version but other contents (a retry
    /// must be the same mutation), with the sending and its step: after an app upgrade the
    /// queued mutation carries the new step's names, which the checks compare in the
    /// server's.
    pub changed_on_retry: Vec<Resent>,
    answers: u64,
}

/// A mutation sent again under its id with other contents.
#[derive(Clone, Debug)]
pub struct Resent {
    /// Its [`mutation_key`].
    pub key: String,
    /// As sent again.
    pub mutation: Value,
    /// The schema step it was sent again at.
    pub step: Option<u32>,
    /// Whether the server had decided it (accepted it or answered a conflict) before.
    pub decided_before: bool,
}

/// Whether a request is a push.
pub fn is_push(request: &Request) -> bool {
    request.method == Method::Post && request.path.starts_with("/sync/push")
}

/// The mutations of a push request (empty for anything else).
pub fn mutations(request: &Request) -> Vec<Value> {
    if !is_push(request) {
        return Vec::new();
    }
    serde_json::from_slice::<Value>(&request.body)
        .ok()
        .and_then(|b| b["mutations"].as_array().cloned())
        .unwrap_or_default()
}

/// The schema step a request says its app runs (`Offgen-Schema-Step`).
pub fn step_of(request: &Request) -> Option<u32> {
    request
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(offgen_runtime::protocol::SCHEMA_STEP_HEADER))
        .and_then(|(_, value)| value.trim().parse().ok())
}

/// What identifies one sending of a mutation: its id and the version it is based on.
pub fn mutation_key(mutation: &Value) -> String {
    format!(
        "{}@{}",
        mutation["mutationId"].as_str().unwrap_or_default(),
        mutation["baseVersion"]
    )
}

impl History {
    /// A phone (or the setup) sent `request` as `user`.
    pub fn sent(&mut self, device: Option<usize>, user: usize, tick: u64, request: &Request) {
        let step = step_of(request);
        for mutation in mutations(request) {
            let id = mutation_key(&mutation);
            match self.sent.get(&id) {
                Some(first) if first.mutation != mutation => {
                    let decided_before = self.decided(&id).is_some();
                    self.changed_on_retry.push(Resent {
                        key: id,
                        mutation,
                        step,
                        decided_before,
                    })
                }
                Some(_) => {}
                None => {
                    let order = self.sent.len() as u64;
                    self.sent.insert(
                        id,
                        Sent {
                            mutation_id: mutation["mutationId"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned(),
                            device,
                            user,
                            tick,
                            order,
                            step,
                            mutation,
                        },
                    );
                }
            }
        }
    }

    /// The server, at `server_step`, answered `request` with `response` at `at`.
    pub fn answered(
        &mut self,
        request: &Request,
        response: &Response,
        at: i64,
        tick: u64,
        server_step: u32,
    ) {
        if !is_push(request) || response.status != 200 {
            return;
        }
        let Ok(body) = serde_json::from_slice::<Value>(&response.body) else {
            return;
        };
        let results = body["results"].as_array().cloned().unwrap_or_default();
        for (mutation, result) in mutations(request).iter().zip(results) {
            let id = mutation_key(mutation);
            self.answers += 1;
            self.decisions.entry(id).or_default().push(Decision {
                status: result["status"].as_str().unwrap_or_default().to_owned(),
                version: result["version"].as_i64(),
                at,
                tick,
                seq: self.answers,
                server_step,
                mutation: mutation.clone(),
                client_step: step_of(request),
                result,
            });
        }
    }

    /// Every mutation sent, in the order they were first sent.
    pub fn in_order(&self) -> Vec<(&String, &Sent)> {
        let mut all: Vec<(&String, &Sent)> = self.sent.iter().collect();
        all.sort_by_key(|(_, s)| s.order);
        all
    }

    /// The first answer that decided the mutation (accepted or conflict), if any.
    pub fn decided(&self, mutation_id: &str) -> Option<&Decision> {
        self.decisions
            .get(mutation_id)?
            .iter()
            .find(|d| d.status == "accepted" || d.status == "conflict")
    }
}
