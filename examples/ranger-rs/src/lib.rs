//! The forest-ranger app of `examples/ranger`, written as Rust structs: rangers record
//! wildlife and damage observations on patrol, often days away from signal.
//!
//! `offgen build --rust examples/ranger-rs/src` reads these items and writes the device
//! migrations, Dart and OpenAPI into `generated/` (the same bytes as `examples/ranger`'s
//! YAML gives); the derives make the server's descriptors, and [`App`] serves them.

use chrono::{DateTime, NaiveDate, Utc};
use offgen_macros::{SyncApp, SyncEnum, Syncable};
use offgen_runtime::Ref;
use offgen_runtime::attachments::AttachmentRef;

/// The app: its entities in order, and the build output its migrations come from.
#[derive(SyncApp)]
#[syncable(
    app = "ranger",
    entities(Ranger, PatrolRoute, Observation),
    build = "generated"
)]
pub struct App;

/// A ranger who patrols and records observations.
#[derive(Syncable)]
pub struct Ranger {
    pub name: String,
    #[syncable(unique)]
    pub badge_number: String,
    pub station: Option<String>,
    #[syncable(default = true)]
    pub active: bool,
}

/// A planned route through a sector; rangers pick one when they start a patrol.
#[derive(Syncable)]
// Routes are planned at the station; field edits never override them.
#[syncable(conflict = server_wins, unique(sector, name))]
pub struct PatrolRoute {
    pub name: String,
    pub sector: String,
    /// GeoJSON LineString of the route.
    pub geometry: serde_json::Value,
    pub length_km: Option<f64>,
    #[syncable(default = "moderate")]
    pub difficulty: Difficulty,
    #[syncable(default = false)]
    pub retired: bool,
}

/// How hard a route is to walk.
#[derive(SyncEnum)]
pub enum Difficulty {
    Easy,
    Moderate,
    Hard,
}

/// One sighting or finding, recorded on the device.
#[derive(Syncable)]
// Each field keeps the ranger's latest edit of it; each ranger syncs only their own.
#[syncable(
    conflict = lww,
    owner = ranger,
    index(recorded_at),
    index(ranger, recorded_at),
    index(photo_upload, name = "observations_photo_upload_idx")
)]
pub struct Observation {
    // The ranger who recorded it (a reference).
    pub ranger: Ref<Ranger>,
    pub route: Option<Ref<PatrolRoute>>,
    pub kind: ObservationKind,
    pub species: Option<String>,
    #[syncable(default = 1)]
    pub count: i64,
    pub latitude: f64,
    pub longitude: f64,
    /// Horizontal GPS accuracy in metres.
    pub accuracy_m: Option<f64>,
    pub altitude_m: Option<f64>,
    pub notes: Option<String>,
    /// Path of the photo on the device.
    pub photo_path: Option<String>,
    /// The photo itself; it uploads on its own when signal allows.
    pub photo: Option<AttachmentRef>,
    /// A small JPEG preview that syncs with the record.
    pub thumbnail: Option<Vec<u8>>,
    /// Shared by the observations of one sighting.
    pub sighting_id: Option<uuid::Uuid>,
    /// The patrol's calendar day at the station.
    pub patrol_day: Option<NaiveDate>,
    #[syncable(default = "none")]
    pub photo_upload: PhotoUpload,
    #[syncable(default = "draft")]
    pub status: Status,
    pub recorded_at: DateTime<Utc>,
    pub modified_at: DateTime<Utc>,
}

/// What a ranger saw.
#[derive(SyncEnum)]
pub enum ObservationKind {
    Wildlife,
    Tracks,
    Poaching,
    Fire,
    Damage,
    Other,
}

/// Where the observation's photo is on its way to the server.
#[derive(SyncEnum)]
pub enum PhotoUpload {
    None,
    Pending,
    Uploading,
    Uploaded,
    Failed,
}

/// Whether the ranger is done with the observation.
#[derive(SyncEnum)]
pub enum Status {
    Draft,
    Final,
}
