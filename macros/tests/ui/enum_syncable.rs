use offgen_macros::{SyncEnum, Syncable};

#[derive(Syncable)]
pub enum Status {
    Draft,
    Final,
}

#[derive(SyncEnum)]
pub enum Weather {
    Sunny,
    Rain { millimetres: f64 },
}

fn main() {}
