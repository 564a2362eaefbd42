use offgen_macros::{SyncApp, Syncable};

#[derive(Syncable)]
pub struct Reading {
    pub value: f64,
}

#[derive(SyncApp)]
#[syncable(app = "weather", entities(Reading), build = "no-such-folder")]
pub struct App;

#[derive(SyncApp)]
#[syncable(entities(Reading), oldest = 2)]
pub struct Unnamed;

fn main() {}
