use offgen_macros::Syncable;

#[derive(Syncable)]
pub struct Reading(String, f64);

fn main() {}
