//! What happens in a run, as a list of events generated from the seed before the run starts.
//!
//! Every event means something in any state (it picks "the k-th pending request", "the k-th
//! live row", and does nothing when there is none), so a failing run can be shrunk by dropping
//! events: what is left still runs, and the same list always runs the same way.

use crate::rng::Rng;

/// What the network does with a delivered request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Delivered, answered.
    Pass,
    /// Lost on the way: the server never sees it; the phone times out.
    LoseRequest,
    /// The server handles it; the answer is lost.
    LoseResponse,
    /// The phone times out; the request reaches the server later (`Event::DeliverLate`).
    Late,
    /// Delivered and answered, and a copy reaches the server again later.
    Duplicate,
    /// A proxy answers 503 without passing it on.
    Unavailable,
    /// The server handles it; a proxy answers 502 instead of its answer.
    BadGateway,
    /// A proxy with a lower body limit answers 413 to a push of several mutations.
    TooLarge,
    /// The app is killed before the request leaves (its entries stay claimed).
    CrashBeforeSend,
    /// The server handles it; the app is killed before it reads the answer.
    CrashAfterCommit,
    /// Answered; the app is killed while applying the answer (the n-th row write from then).
    CrashInApply(u8),
}

/// One thing that happens. Phones and picks are taken modulo what exists when it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The app creates a row; `row` is unique in the run (it makes the row's id).
    Insert {
        /// Which phone.
        device: u8,
        /// Which entity (index in the phone's schema).
        entity: u8,
        /// Row number.
        row: u32,
        /// Seed of the values.
        values: u64,
    },
    /// The app changes some fields of the `pick`-th live row of an entity.
    Edit {
        /// Which phone.
        device: u8,
        /// Which entity.
        entity: u8,
        /// Which row.
        pick: u32,
        /// Seed of the fields and values.
        values: u64,
    },
    /// The app deletes the `pick`-th live row (`hard`: `DELETE`, else setting `deleted_at`).
    Delete {
        /// Which phone.
        device: u8,
        /// Which entity.
        entity: u8,
        /// Which row.
        pick: u32,
        /// `DELETE` rather than a soft delete.
        hard: bool,
    },
    /// The phone starts a sync (if it is not syncing already).
    Sync {
        /// Which phone.
        device: u8,
    },
    /// The network delivers the `pick`-th request in flight (phones in order).
    Deliver {
        /// Which request.
        pick: u32,
        /// What happens to it.
        fault: Fault,
    },
    /// The network delivers the `pick`-th late or duplicated copy; its answer goes nowhere.
    DeliverLate {
        /// Which copy.
        pick: u32,
    },
    /// The app is killed (mid-sync or not); it reopens its file at its next event.
    Crash {
        /// Which phone.
        device: u8,
    },
    /// The server process restarts over the same database.
    RestartServer,
    /// The phone's token expires; its next request is answered 401 and the app signs in again.
    ExpireToken {
        /// Which phone.
        device: u8,
    },
    /// The app settles its `version` conflicts.
    Resolve {
        /// Which phone.
        device: u8,
        /// `keep_local`, else `take_server`.
        keep_local: bool,
    },
    /// Time passes.
    Tick {
        /// How much.
        ms: u32,
    },
    /// The phone's app is upgraded to its next schema version (if there is one).
    Upgrade {
        /// Which phone.
        device: u8,
    },
    /// The server is redeployed with its next schema version (if there is one).
    UpgradeServer,
}

/// An event and the time that passes before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// Milliseconds since the previous step.
    pub gap_ms: u32,
    /// What happens.
    pub event: Event,
}

/// The steps of a run: `count` events for `devices` phones over `entities` entities.
pub fn generate(
    rng: &mut Rng,
    count: usize,
    devices: usize,
    entities: usize,
    upgrades: bool,
) -> Vec<Step> {
    #[derive(Clone, Copy)]
    enum Kind {
        Insert,
        Edit,
        Delete,
        Sync,
        Deliver,
        DeliverLate,
        Crash,
        Restart,
        Expire,
        Resolve,
        Tick,
        Upgrade,
        UpgradeServer,
    }
    let kinds = [
        (12, Kind::Insert),
        (16, Kind::Edit),
        (5, Kind::Delete),
        (14, Kind::Sync),
        (34, Kind::Deliver),
        (3, Kind::DeliverLate),
        (2, Kind::Crash),
        (1, Kind::Restart),
        (1, Kind::Expire),
        (3, Kind::Resolve),
        (3, Kind::Tick),
        (if upgrades { 2 } else { 0 }, Kind::Upgrade),
        (if upgrades { 1 } else { 0 }, Kind::UpgradeServer),
    ];
    let faults = [
        (50, Fault::Pass),
        (8, Fault::LoseRequest),
        (8, Fault::LoseResponse),
        (6, Fault::Late),
        (6, Fault::Duplicate),
        (4, Fault::Unavailable),
        (3, Fault::BadGateway),
        (4, Fault::TooLarge),
        (2, Fault::CrashBeforeSend),
        (3, Fault::CrashAfterCommit),
        (3, Fault::CrashInApply(0)),
    ];
    let devices = devices.max(1) as u64;
    let entities = entities.max(1) as u64;
    (0..count)
        .map(|i| {
            let device = rng.below(devices) as u8;
            let entity = rng.below(entities) as u8;
            let event = match rng.weighted(&kinds) {
                Kind::Insert => Event::Insert {
                    device,
                    entity,
                    row: i as u32,
                    values: rng.next_u64(),
                },
                Kind::Edit => Event::Edit {
                    device,
                    entity,
                    pick: rng.next_u64() as u32,
                    values: rng.next_u64(),
                },
                Kind::Delete => Event::Delete {
                    device,
                    entity,
                    pick: rng.next_u64() as u32,
                    hard: rng.chance(30),
                },
                Kind::Sync => Event::Sync { device },
                Kind::Deliver => Event::Deliver {
                    pick: rng.next_u64() as u32,
                    fault: match rng.weighted(&faults) {
                        Fault::CrashInApply(_) => Fault::CrashInApply(rng.range(1, 6) as u8),
                        other => other,
                    },
                },
                Kind::DeliverLate => Event::DeliverLate {
                    pick: rng.next_u64() as u32,
                },
                Kind::Crash => Event::Crash { device },
                Kind::Restart => Event::RestartServer,
                Kind::Expire => Event::ExpireToken { device },
                Kind::Resolve => Event::Resolve {
                    device,
                    keep_local: rng.chance(50),
                },
                Kind::Tick => Event::Tick {
                    ms: rng.weighted(&[(3, 60_000), (2, 900_000), (1, 7_200_000)]) as u32,
                },
                Kind::Upgrade => Event::Upgrade { device },
                Kind::UpgradeServer => Event::UpgradeServer,
            };
            Step {
                gap_ms: rng.range(0, 3_000) as u32,
                event,
            }
        })
        .collect()
}
