use offgen_macros::{SyncEnum, Syncable};

#[derive(SyncEnum)]
pub enum Status {
    Draft,
    Final,
}

#[derive(Syncable)]
pub struct Reading {
    #[syncable(default = "finished")]
    pub status: Status,
}

fn main() {}
