//! One run: the server, the phones and the network between them, driven step by step by the
//! run's events, then brought to quiescence without faults.
//!
//! The network holds each phone's request while it waits for an answer (a phone's sync
//! thread is stopped inside its transport until then), so several phones have requests in
//! flight at once and the events decide which arrives first, which are lost, late, duplicated
//! or refused, and when an app dies. Time is the simulation's: the server's clock and every
//! phone's (plus its skew) are pinned to it, so the same steps give the same run.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;

use offgen_runtime::client::{Request, Resolution, Response, SyncOptions, TransportError};
use serde_json::{Map, Value, json};

use crate::device::{Parked, Profile, SimDevice, SyncEnd};
use crate::events::{Event, Fault, Step};
use crate::history::{self, History, LocalWrite, WriteOp};
use crate::rng::Rng;
use crate::schema::SchemaVersion;
use crate::server::{Backend, SimServer};
use crate::workload::{self, Context, row_label};
use offgen_runtime::model::{Kind, Policy};

/// The run's users: each is a ranger, whose row id is the user id (observations are scoped to
/// their ranger).
pub const USERS: [(&str, &str); 3] = [
    ("ana", "00000000-0000-4000-8000-00000000a0a0"),
    ("ben", "00000000-0000-4000-8000-00000000b0b0"),
    ("cleo", "00000000-0000-4000-8000-00000000c0c0"),
];

/// The simulation's epoch: every run starts at this time (2026-05-28).
pub const START_MS: i64 = 1_780_000_000_000;

/// How many fault-free rounds of syncing everyone the end of a run allows before it calls a
/// phone stuck.
const MAX_ROUNDS: usize = 12;

/// The token the checks pull with, as `user`.
pub fn check_token(user: usize) -> String {
    format!("{}-check", USERS[user].0)
}

/// Counts of what a run did, for the summary.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    /// App writes (inserts, edits, deletes) that happened.
    pub operations: u64,
    /// Requests delivered to the server (late copies included).
    pub delivered: u64,
    /// Faults injected, by kind.
    pub faults: BTreeMap<&'static str, u64>,
    /// App kills.
    pub crashes: u64,
    /// Server restarts.
    pub restarts: u64,
    /// Version conflicts the apps settled.
    pub resolved: u64,
    /// Fault-free rounds the end needed.
    pub rounds: u64,
    /// How the server decided mutations (first decision of each), by kind: `version
    /// conflict`, `lww merge`, ...
    pub outcomes: BTreeMap<String, u64>,
}

/// A run in progress.
pub struct World {
    /// The schema versions phones can run.
    pub versions: Vec<SchemaVersion>,
    /// The server.
    pub server: SimServer,
    /// The schema version the server runs (index in `versions`).
    pub server_version: usize,
    /// The phones.
    pub devices: Vec<SimDevice>,
    /// Simulation time (ms since the epoch).
    pub now: i64,
    tick: u64,
    late: Vec<(usize, Request)>,
    /// What happened, for the checks.
    pub history: History,
    /// What happened, for people: one line per thing, prefixed by its step.
    pub trace: Vec<String>,
    step_label: String,
    /// Counts.
    pub tally: Tally,
    /// Whether the end reached quiescence.
    pub quiesced: bool,
}

impl World {
    /// A server with the users' rangers, and `devices` fresh phones set up from `rng`.
    pub fn new(
        rng: &mut Rng,
        backend: &Backend,
        dir: &Path,
        devices: usize,
        versions: Vec<SchemaVersion>,
    ) -> Result<World, String> {
        let mut tokens: Vec<String> = (0..USERS.len())
            .map(|u| format!("{}={}", USERS[u].1, check_token(u)))
            .collect();
        let profiles: Vec<Profile> = (0..devices).map(|i| profile(rng, i, &versions)).collect();
        for (i, p) in profiles.iter().enumerate() {
            tokens.push(format!("{}=d{i}-token", USERS[p.user].1));
        }
        // The server starts on any version too: phones ahead of it wait for its upgrade.
        let server_version = rng.index(versions.len());
        offgen_runtime::server::set_fixed_clock(Some(START_MS));
        let server = SimServer::start(backend, dir, tokens.join(","), &versions[server_version])?;
        let mut world = World {
            devices: Vec::new(),
            versions,
            server,
            server_version,
            now: START_MS,
            tick: 0,
            late: Vec::new(),
            history: History::default(),
            trace: Vec::new(),
            step_label: "setup".to_owned(),
            tally: Tally::default(),
            quiesced: false,
        };
        world.note(format!(
            "the server runs {}",
            world.versions[server_version].name
        ));
        world.seed_users()?;
        for (i, p) in profiles.into_iter().enumerate() {
            let device = SimDevice::new(
                i,
                p,
                dir.join(format!("d{i}.db")),
                format!("d{i}-token"),
                &world.versions,
            )?;
            world.note(format!(
                "d{i}: {} on {}, clock {}, batches of {}, pages of {}, conflicts: {}",
                USERS[device.profile.user].0,
                world.versions[device.version].name,
                skew_label(device.profile.skew_ms),
                device.profile.options.push_batch,
                device.profile.options.pull_page,
                if device.profile.keep_local {
                    "keep_local"
                } else {
                    "take_server"
                }
            ));
            world.devices.push(device);
        }
        Ok(world)
    }

    /// Every user's ranger row, as an admin would create them before handing out phones.
    fn seed_users(&mut self) -> Result<(), String> {
        for (u, (name, id)) in USERS.iter().enumerate() {
            let mutation = json!({
                "mutationId": format!("setup-{name}"),
                "entity": "rangers",
                "id": id,
                "op": "insert",
                "data": {"name": name, "badgeNumber": format!("badge-{name}")},
            });
            let request = push_request(&check_token(u), &[mutation]);
            let response = self.server.handle(&request);
            self.history.sent(None, u, self.tick, &request);
            self.history
                .answered(&request, &response, self.now, self.tick, self.server.step());
            if response.status != 200 {
                return Err(format!("seeding {name}: {}", response.status));
            }
        }
        Ok(())
    }

    fn note(&mut self, line: String) {
        self.trace.push(format!("{:>6} {}", self.step_label, line));
    }

    fn set_time(&mut self, ms: i64) {
        self.now = ms;
        offgen_runtime::server::set_fixed_clock(Some(ms));
    }

    /// Runs one step.
    pub fn step(&mut self, index: usize, step: &Step) -> Result<(), String> {
        self.tick += 1;
        self.step_label = format!("#{index}");
        self.set_time(self.now + i64::from(step.gap_ms));
        match step.event {
            Event::Insert {
                device,
                entity,
                row,
                values,
            } => self.insert(self.device(device), entity, row, values),
            Event::Edit {
                device,
                entity,
                pick,
                values,
            } => self.edit(self.device(device), entity, pick, values),
            Event::Delete {
                device,
                entity,
                pick,
                hard,
            } => self.delete(self.device(device), entity, pick, hard),
            Event::Sync { device } => {
                let d = self.device(device);
                if self.devices[d].syncing {
                    return Ok(());
                }
                self.start_sync(d)
            }
            Event::Deliver { pick, fault } => {
                let pending: Vec<usize> = (0..self.devices.len())
                    .filter(|&d| self.devices[d].pending.is_some())
                    .collect();
                if pending.is_empty() {
                    return Ok(());
                }
                self.deliver(pending[pick as usize % pending.len()], fault)
            }
            Event::DeliverLate { pick } => {
                if self.late.is_empty() {
                    return Ok(());
                }
                let (d, request) = self.late.remove(pick as usize % self.late.len());
                self.note(format!(
                    "d{d}'s late copy of {} arrives",
                    describe(&request)
                ));
                self.serve(&request);
                Ok(())
            }
            Event::Crash { device } => {
                let d = self.device(device);
                if self.devices[d].down {
                    return Ok(());
                }
                let what = match &self.devices[d].pending {
                    Some(r) => format!("waiting for its {}", describe(r)),
                    None => "idle".to_owned(),
                };
                self.note(format!("d{d} is killed ({what})"));
                self.tally.crashes += 1;
                self.devices[d].go_down();
                Ok(())
            }
            Event::RestartServer => {
                self.note("the server restarts".to_owned());
                self.tally.restarts += 1;
                self.server.restart()
            }
            Event::ExpireToken { device } => {
                let d = self.device(device);
                self.note(format!("d{d}'s token expires"));
                self.devices[d].expire_token();
                Ok(())
            }
            Event::Resolve { device, keep_local } => self.resolve(self.device(device), keep_local),
            Event::Tick { ms } => {
                self.set_time(self.now + i64::from(ms));
                self.note(format!("{} pass", duration_label(i64::from(ms))));
                Ok(())
            }
            Event::Upgrade { device } => {
                let d = self.device(device);
                let next = self.devices[d].version + 1;
                if next >= self.versions.len() {
                    return Ok(());
                }
                self.note(format!(
                    "d{d} upgrades to {} (the app restarts)",
                    self.versions[next].name
                ));
                self.devices[d].upgrade(next, &self.versions)
            }
            Event::UpgradeServer => {
                let next = self.server_version + 1;
                if next >= self.versions.len() {
                    return Ok(());
                }
                self.upgrade_server(next)
            }
        }
    }

    /// The server is redeployed on `version` (over the same database, migrated as it starts).
    fn upgrade_server(&mut self, version: usize) -> Result<(), String> {
        self.note(format!(
            "the server is upgraded to {}",
            self.versions[version].name
        ));
        self.tally.restarts += 1;
        self.server_version = version;
        self.server.upgrade(&self.versions[version])
    }

    /// The version whose schema step is `step`.
    pub fn version_at(&self, step: u32) -> Option<&SchemaVersion> {
        self.versions.iter().find(|v| v.step == step)
    }

    fn device(&self, n: u8) -> usize {
        usize::from(n) % self.devices.len()
    }

    /// The phone's app connection, reopening the phone if it was down, with its clock set.
    fn app(&mut self, d: usize) -> Result<&offgen_runtime::client::Device, String> {
        if self.devices[d].down {
            self.note(format!("d{d} starts again"));
        }
        let now = self.now;
        let device = &mut self.devices[d];
        device.app(&self.versions)?;
        device.set_clock(now)?;
        Ok(device.app_open().expect("opened"))
    }

    fn insert(&mut self, d: usize, entity: u8, row: u32, seed: u64) -> Result<(), String> {
        let version = self.devices[d].version;
        let shape = &self.versions[version].entities;
        let shape = shape[usize::from(entity) % shape.len()].clone();
        let user = USERS[self.devices[d].profile.user].1;
        let index = self.newest_index(shape.table);
        let id = workload::row_id(index, row);
        let skew = self.devices[d].profile.skew_ms;
        let now = self.now + skew;
        let app = self.app(d)?;
        let known = known_refs(app, &shape)?;
        let mut rng = Rng::new(seed);
        let ctx = Context {
            user,
            known: &known,
            now,
            salt: format!("{row}"),
        };
        let mut values = Map::new();
        for field in &shape.fields {
            let value = if Some(field.key) == shape.owner {
                json!(user)
            } else {
                workload::value(&mut rng, field, &ctx)
            };
            values.insert(field.key.to_owned(), value);
        }
        let app = self.devices[d].app_open().expect("opened");
        match workload::insert(app, &shape, &id, &values) {
            Ok(()) => {
                self.write(d, shape.table, &id, WriteOp::Insert, values);
                Ok(())
            }
            Err(e) => {
                self.note(format!(
                    "d{d} cannot insert {}: {e}",
                    row_label(shape.table, &id)
                ));
                Ok(())
            }
        }
    }

    fn edit(&mut self, d: usize, entity: u8, pick: u32, seed: u64) -> Result<(), String> {
        let version = self.devices[d].version;
        let shapes = &self.versions[version].entities;
        let shape = shapes[usize::from(entity) % shapes.len()].clone();
        let user = USERS[self.devices[d].profile.user].1;
        let now = self.now + self.devices[d].profile.skew_ms;
        let tick = self.tick;
        let app = self.app(d)?;
        let rows = workload::live_rows(app, shape.table).map_err(|e| e.to_string())?;
        if rows.is_empty() {
            return Ok(());
        }
        // Most edits go to a few rows that everyone works on (the oldest: every phone that
        // pulled has them), so that phones meet each other's changes.
        let pick = pick as usize;
        let id = if pick % 10 < 6 {
            rows[(pick / 10) % rows.len().min(3)].clone()
        } else {
            rows[pick % rows.len()].clone()
        };
        let known = known_refs(app, &shape)?;
        let mut rng = Rng::new(seed);
        let ctx = Context {
            user,
            known: &known,
            now,
            salt: format!("{}e{tick}", label_number(&id)),
        };
        let editable: Vec<_> = shape
            .fields
            .iter()
            .filter(|f| Some(f.key) != shape.owner)
            .collect();
        let mut values = Map::new();
        for _ in 0..rng.range(1, 3) {
            let field = editable[rng.index(editable.len())];
            values.insert(field.key.to_owned(), workload::value(&mut rng, field, &ctx));
        }
        // The app's own "last edited" field, which it usually (not always) keeps up to date.
        if shape.field("modifiedAt").is_some() && rng.chance(70) {
            values.insert("modifiedAt".to_owned(), json!(now));
        }
        // A field set to the value it has is no change (the triggers queue none).
        let before = workload::row_values(app, &shape, &id)
            .map_err(|e| e.to_string())?
            .unwrap_or_default();
        let app = self.devices[d].app_open().expect("opened");
        match workload::update(app, &shape, &id, &values) {
            Ok(()) => {
                values.retain(|key, value| {
                    let kind = shape.field(key).map_or(Kind::Text, |f| f.kind);
                    !before
                        .get(key)
                        .is_some_and(|old| workload::same(kind, old, value))
                });
                self.write(d, shape.table, &id, WriteOp::Update, values);
                Ok(())
            }
            Err(e) => {
                self.note(format!(
                    "d{d} cannot edit {}: {e}",
                    row_label(shape.table, &id)
                ));
                Ok(())
            }
        }
    }

    fn delete(&mut self, d: usize, entity: u8, pick: u32, hard: bool) -> Result<(), String> {
        let version = self.devices[d].version;
        let shapes = &self.versions[version].entities;
        let table = shapes[usize::from(entity) % shapes.len()].table;
        let now = self.now + self.devices[d].profile.skew_ms;
        let app = self.app(d)?;
        // The users' own rangers stay: their observations refer to them.
        let rows: Vec<String> = workload::live_rows(app, table)
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|id| USERS.iter().all(|(_, u)| u != id))
            .collect();
        if rows.is_empty() {
            return Ok(());
        }
        let id = rows[pick as usize % rows.len()].clone();
        match workload::delete(app, table, &id, hard, now) {
            Ok(()) => {
                self.write(d, table, &id, WriteOp::Delete, Map::new());
                Ok(())
            }
            Err(e) => {
                self.note(format!("d{d} cannot delete {}: {e}", row_label(table, &id)));
                Ok(())
            }
        }
    }

    fn write(&mut self, d: usize, table: &str, id: &str, op: WriteOp, values: Map<String, Value>) {
        self.tally.operations += 1;
        let what = match op {
            WriteOp::Insert => "inserts".to_owned(),
            WriteOp::Update => format!(
                "edits {{{}}} of",
                values.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
            WriteOp::Delete => "deletes".to_owned(),
        };
        self.note(format!("d{d} {what} {}", row_label(table, id)));
        self.history.writes.push(LocalWrite {
            tick: self.tick,
            device: d,
            table: table.to_owned(),
            id: id.to_owned(),
            op,
            step: self.versions[self.devices[d].version].step,
            values,
        });
    }

    /// The index of `table` in the newest schema (row ids stay the same across versions).
    fn newest_index(&self, table: &str) -> usize {
        let newest = self.versions.last().expect("a version");
        newest
            .entities
            .iter()
            .position(|e| e.table == table)
            .unwrap_or(newest.entities.len())
    }

    fn start_sync(&mut self, d: usize) -> Result<(), String> {
        self.app(d)?;
        self.note(format!("d{d} starts a sync"));
        let parked = self.devices[d].start_sync()?;
        self.parked(d, parked);
        Ok(())
    }

    /// Where a phone's sync thread stopped: at its next request, or at its end.
    fn parked(&mut self, d: usize, parked: Parked) {
        match parked {
            Parked::Sending(request) => {
                let user = self.devices[d].profile.user;
                self.history.sent(Some(d), user, self.tick, &request);
                self.note(format!("d{d} sends {}", describe(&request)));
            }
            Parked::Ended(end) => {
                let crashed = self.devices[d].crash_switch().crashed();
                let report = end.report();
                let summary = format!(
                    "pushed {}, accepted {}, conflicts {}, rejected {}, pulled {}",
                    report.pushed,
                    report.accepted,
                    report.conflicts,
                    report.rejected,
                    report.pulled
                );
                match &end {
                    SyncEnd::Done(_) => self.note(format!("d{d}'s sync ends: {summary}")),
                    SyncEnd::Stopped {
                        why, unauthorized, ..
                    } => {
                        self.note(format!("d{d}'s sync stops ({why}): {summary}"));
                        if *unauthorized {
                            self.note(format!("d{d}'s app signs in again"));
                            self.devices[d].renew_token();
                        }
                    }
                }
                if crashed {
                    self.note(format!("d{d} was killed applying an answer"));
                    self.tally.crashes += 1;
                    self.devices[d].go_down();
                }
            }
        }
    }

    /// The server handles a request from phone `d`; the answer is recorded whatever then
    /// happens to it.
    fn serve(&mut self, request: &Request) -> Response {
        self.tally.delivered += 1;
        let response = self.server.handle(request);
        self.history
            .answered(request, &response, self.now, self.tick, self.server.step());
        response
    }

    fn deliver(&mut self, d: usize, fault: Fault) -> Result<(), String> {
        let request = self.devices[d].pending.clone().expect("pending");
        let label = fault_label(fault, &request);
        *self.tally.faults.entry(label).or_default() += 1;
        let reply: Result<Response, TransportError> = match fault {
            Fault::Pass => Ok(self.serve(&request)),
            Fault::LoseRequest => Err(lost("request lost")),
            Fault::LoseResponse => {
                self.serve(&request);
                Err(lost("response lost"))
            }
            Fault::Late => {
                self.late.push((d, request.clone()));
                Err(lost("timed out"))
            }
            Fault::Duplicate => {
                self.late.push((d, request.clone()));
                Ok(self.serve(&request))
            }
            Fault::Unavailable => Ok(problem(503, "unavailable")),
            Fault::BadGateway => {
                self.serve(&request);
                Ok(problem(502, "bad-gateway"))
            }
            Fault::TooLarge if history::mutations(&request).len() > 1 => {
                Ok(problem(413, "payload-too-large"))
            }
            Fault::TooLarge => Ok(self.serve(&request)),
            Fault::CrashBeforeSend | Fault::CrashAfterCommit => {
                if fault == Fault::CrashAfterCommit {
                    self.serve(&request);
                }
                self.note(format!("{label}: d{d}'s {}", describe(&request)));
                self.tally.crashes += 1;
                self.devices[d].go_down();
                return Ok(());
            }
            Fault::CrashInApply(writes) => {
                let response = self.serve(&request);
                self.devices[d].crash_switch().arm(i64::from(writes));
                Ok(response)
            }
        };
        let status = match &reply {
            Ok(r) => answer_label(&request, r),
            Err(e) => e.message.clone(),
        };
        self.note(format!(
            "{label}: d{d}'s {} -> {status}",
            describe(&request)
        ));
        self.devices[d].set_clock(self.now)?;
        let parked = self.devices[d].reply(reply)?;
        self.parked(d, parked);
        Ok(())
    }

    fn resolve(&mut self, d: usize, keep_local: bool) -> Result<(), String> {
        let app = self.app(d)?;
        let conflicts = app.list_conflicts().map_err(|e| e.to_string())?;
        let resolution = if keep_local {
            Resolution::KeepLocal
        } else {
            Resolution::TakeServer
        };
        let mut settled = Vec::new();
        for c in &conflicts {
            // A row the server deleted cannot be kept: a tombstone is final, and sending the
            // change again only meets the tombstone again. The app takes the delete.
            let deleted = c
                .server_record
                .as_deref()
                .and_then(|r| serde_json::from_str::<Value>(r).ok())
                .is_some_and(|r| r["deleted"] == true);
            let resolution = if deleted {
                Resolution::TakeServer
            } else {
                resolution
            };
            if app
                .resolve_conflict(&c.entity, &c.row_id, resolution)
                .map_err(|e| e.to_string())?
            {
                settled.push((c.entity.clone(), c.row_id.clone(), resolution));
            }
        }
        for (entity, id, resolution) in settled {
            self.tally.resolved += 1;
            let keep_local = resolution == Resolution::KeepLocal;
            self.note(format!(
                "d{d} settles the conflict on {} with {}",
                row_label(&entity, &id),
                if keep_local {
                    "keep_local"
                } else {
                    "take_server"
                }
            ));
            if !keep_local {
                self.history
                    .taken_from_server
                    .push((self.tick, d, entity, id));
            }
        }
        Ok(())
    }

    /// The faults stop: late copies arrive, running syncs finish, every phone starts again,
    /// signs in and syncs (settling its conflicts its way) until a whole round moves nothing.
    pub fn quiesce(&mut self) -> Result<(), String> {
        self.step_label = "end".to_owned();
        self.tick += 1;
        self.note("the faults stop".to_owned());
        while !self.late.is_empty() {
            let (d, request) = self.late.remove(0);
            self.note(format!(
                "d{d}'s late copy of {} arrives",
                describe(&request)
            ));
            self.serve(&request);
        }
        for d in 0..self.devices.len() {
            while self.devices[d].pending.is_some() {
                self.deliver(d, Fault::Pass)?;
            }
        }
        // The rollout completes: the server runs at least the newest app in the fleet (the
        // changes of phones ahead of it wait until then). Older phones stay as they are.
        let newest_phone = self.devices.iter().map(|d| d.version).max().unwrap_or(0);
        if newest_phone > self.server_version {
            self.upgrade_server(newest_phone)?;
        }
        for round in 0..MAX_ROUNDS {
            self.tally.rounds = round as u64 + 1;
            // On PostgreSQL a write becomes pullable once every older transaction on the
            // whole server has ended (docs/protocol.md): other databases' transactions can
            // hold the newest back for a moment. The round starts once they are pullable.
            self.wait_until_pullable()?;
            // Ten minutes between rounds: past every retry delay and sync lease.
            self.set_time(self.now + 600_000);
            self.tick += 1;
            let mut moved = false;
            for d in 0..self.devices.len() {
                self.app(d)?;
                self.devices[d].renew_token();
                let keep_local = self.devices[d].profile.keep_local;
                self.resolve(d, keep_local)?;
                let end = self.sync_to_end(d)?;
                let report = end.report();
                if report.pushed > 0 || report.pulled > 0 || matches!(end, SyncEnd::Stopped { .. })
                {
                    moved = true;
                }
            }
            if !moved {
                self.quiesced = true;
                self.note(format!("quiet after {} rounds", round + 1));
                return Ok(());
            }
        }
        self.note(format!("still moving after {MAX_ROUNDS} rounds"));
        Ok(())
    }

    /// Waits (in real time, at most 30 s) until the server's pulls show every row at the
    /// newest version it accepted.
    fn wait_until_pullable(&mut self) -> Result<(), String> {
        let mut newest: BTreeMap<(String, String), i64> = BTreeMap::new();
        for (key, sent) in self.history.in_order() {
            if let Some(d) = self.history.decided(key)
                && d.status == "accepted"
                && let Some(v) = d.version
            {
                let slot = newest
                    .entry((sent.table().to_owned(), sent.id().to_owned()))
                    .or_default();
                *slot = (*slot).max(v);
            }
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let mut seen: BTreeMap<(String, String), i64> = BTreeMap::new();
            for u in 0..USERS.len() {
                for r in self.server.pull_all(&check_token(u))? {
                    seen.insert(
                        (
                            r["entity"].as_str().unwrap_or_default().to_owned(),
                            r["id"].as_str().unwrap_or_default().to_owned(),
                        ),
                        r["version"].as_i64().unwrap_or(0),
                    );
                }
            }
            if newest
                .iter()
                .all(|(k, v)| seen.get(k).is_some_and(|s| s >= v))
            {
                return Ok(());
            }
            if std::time::Instant::now() > deadline {
                return Err("accepted writes never became pullable".to_owned());
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Counts how the server decided every mutation (by its first decision).
    pub fn count_outcomes(&mut self) {
        let newest = self.versions.last().expect("a version");
        let mut outcomes = BTreeMap::new();
        for (key, sent) in self.history.in_order() {
            let Some(first) = self.history.decisions.get(key).and_then(|d| d.first()) else {
                continue;
            };
            let policy = match newest.entity(sent.table()).map(|e| e.policy) {
                Some(Policy::Version) => "version",
                Some(Policy::Lww(_)) => "lww",
                Some(Policy::ServerWins) => "server_wins",
                _ => "other",
            };
            let merged = first.result["overridden"]
                .as_array()
                .is_some_and(|o| !o.is_empty());
            let kind = match first.status.as_str() {
                "accepted" if merged => format!("{policy} merge"),
                "accepted" => "accepted".to_owned(),
                other => format!("{policy} {other}"),
            };
            *outcomes.entry(kind).or_default() += 1;
        }
        self.tally.outcomes = outcomes;
    }

    /// One whole sync of phone `d` without faults.
    fn sync_to_end(&mut self, d: usize) -> Result<SyncEnd, String> {
        self.app(d)?;
        let mut parked = self.devices[d].start_sync()?;
        loop {
            match parked {
                Parked::Sending(request) => {
                    let user = self.devices[d].profile.user;
                    self.history.sent(Some(d), user, self.tick, &request);
                    let response = self.serve(&request);
                    if history::is_push(&request) {
                        self.note(format!(
                            "d{d}'s {} -> {}",
                            describe(&request),
                            answer_label(&request, &response)
                        ));
                    }
                    self.devices[d].set_clock(self.now)?;
                    parked = self.devices[d].reply(Ok(response))?;
                }
                Parked::Ended(end) => {
                    if let SyncEnd::Stopped { why, .. } = &end {
                        self.note(format!("d{d}'s sync stops ({why})"));
                    }
                    return Ok(end);
                }
            }
        }
    }
}

/// The rows a new value of `shape` may refer to, per referenced table: those the server knows.
fn known_refs(
    app: &offgen_runtime::client::Device,
    shape: &crate::schema::EntityShape,
) -> Result<BTreeMap<&'static str, Vec<String>>, String> {
    let mut known = BTreeMap::new();
    let targets: BTreeSet<&'static str> = shape
        .fields
        .iter()
        .filter_map(|f| match f.kind {
            offgen_runtime::model::Kind::Reference(t) => Some(t),
            _ => None,
        })
        .collect();
    for target in targets {
        known.insert(
            target,
            workload::known_rows(app, target).map_err(|e| e.to_string())?,
        );
    }
    Ok(known)
}

fn profile(rng: &mut Rng, i: usize, versions: &[SchemaVersion]) -> Profile {
    // Two phones per user for the first two users (they share their observations), then one.
    let user = [0, 0, 1, 1, 2].get(i).copied().unwrap_or(i % USERS.len());
    let skew_ms = match rng.below(100) {
        0..50 => 0,
        50..70 => rng.range(-600_000, 600_000),
        70..85 => rng.range(-12 * 3_600_000, 12 * 3_600_000),
        _ => rng.range(-5 * 86_400_000, 5 * 86_400_000),
    };
    let options = SyncOptions {
        push_batch: [1, 3, 10, 50][rng.index(4)],
        pull_page: [2, 5, 50, 500][rng.index(4)],
        ..SyncOptions::default()
    };
    Profile {
        user,
        skew_ms,
        options,
        // Devices start on any version; with one version there is nothing to choose.
        version: rng.index(versions.len()),
        keep_local: rng.chance(50),
    }
}

fn push_request(token: &str, mutations: &[Value]) -> Request {
    Request {
        method: offgen_runtime::client::Method::Post,
        path: "/sync/push".to_owned(),
        headers: vec![
            ("Authorization".to_owned(), format!("Bearer {token}")),
            ("Content-Type".to_owned(), "application/json".to_owned()),
        ],
        body: serde_json::to_vec(&json!({"clientId": "setup", "mutations": mutations}))
            .expect("JSON"),
    }
}

fn lost(message: &str) -> TransportError {
    TransportError {
        message: message.to_owned(),
    }
}

fn problem(status: u16, kind: &str) -> Response {
    Response {
        status,
        headers: vec![(
            "Content-Type".to_owned(),
            "application/problem+json".to_owned(),
        )],
        body: serde_json::to_vec(&json!({
            "type": format!("https://offgen.dev/problems/{kind}"),
            "status": status,
            "title": "from the simulated network",
        }))
        .expect("JSON"),
    }
}

/// A request for traces: `push [insert observations#3, update rangers#7 {name}]`, `pull`.
pub fn describe(request: &Request) -> String {
    if !history::is_push(request) {
        return "pull".to_owned();
    }
    let items: Vec<String> = history::mutations(request)
        .iter()
        .map(|m| {
            let table = m["entity"].as_str().unwrap_or_default();
            let id = m["id"].as_str().unwrap_or_default();
            let op = m["op"].as_str().unwrap_or_default();
            let keys = m["data"]
                .as_object()
                .filter(|_| op == "update")
                .map(|d| format!(" {{{}}}", d.keys().cloned().collect::<Vec<_>>().join(", ")))
                .unwrap_or_default();
            format!("{op} {}{keys}", row_label(table, id))
        })
        .collect();
    format!("push [{}]", items.join(", "))
}

/// An answer for traces: the status, and for a push each mutation's result.
fn answer_label(request: &Request, response: &Response) -> String {
    if !history::is_push(request) || response.status != 200 {
        return response.status.to_string();
    }
    let results: Vec<String> = serde_json::from_slice::<Value>(&response.body)
        .ok()
        .and_then(|b| b["results"].as_array().cloned())
        .unwrap_or_default()
        .iter()
        .map(|r| {
            let status = r["status"].as_str().unwrap_or("?");
            let version = r["version"]
                .as_i64()
                .map(|v| format!(" v{v}"))
                .unwrap_or_default();
            let lost = r["overridden"]
                .as_array()
                .filter(|o| !o.is_empty())
                .map(|o| {
                    let keys: Vec<&str> = o.iter().filter_map(Value::as_str).collect();
                    format!(" (lost {{{}}})", keys.join(", "))
                })
                .unwrap_or_default();
            let error = r["error"]["code"]
                .as_str()
                .map(|c| format!(" ({c})"))
                .unwrap_or_default();
            format!("{status}{version}{lost}{error}")
        })
        .collect();
    format!("200 [{}]", results.join(", "))
}

fn fault_label(fault: Fault, request: &Request) -> &'static str {
    match fault {
        Fault::Pass => "delivered",
        Fault::LoseRequest => "request lost",
        Fault::LoseResponse => "response lost",
        Fault::Late => "delayed past the timeout",
        Fault::Duplicate => "duplicated",
        Fault::Unavailable => "503 from a proxy",
        Fault::BadGateway => "502 after the server answered",
        Fault::TooLarge if history::mutations(request).len() > 1 => "413 from a proxy",
        Fault::TooLarge => "delivered",
        Fault::CrashBeforeSend => "killed before sending",
        Fault::CrashAfterCommit => "killed after the server committed",
        Fault::CrashInApply(_) => "killed while applying the answer",
    }
}

fn label_number(id: &str) -> String {
    id.rsplit('-')
        .next()
        .and_then(|n| u64::from_str_radix(n, 16).ok())
        .map_or_else(|| id.to_owned(), |n| n.to_string())
}

fn skew_label(ms: i64) -> String {
    if ms == 0 {
        "on time".to_owned()
    } else if ms > 0 {
        format!("{} ahead", duration_label(ms))
    } else {
        format!("{} behind", duration_label(-ms))
    }
}

fn duration_label(ms: i64) -> String {
    match ms {
        ..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        60_000..3_600_000 => format!("{:.1} min", ms as f64 / 60_000.0),
        3_600_000..86_400_000 => format!("{:.1} h", ms as f64 / 3_600_000.0),
        _ => format!("{:.1} days", ms as f64 / 86_400_000.0),
    }
}
