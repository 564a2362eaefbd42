use offgen_macros::Syncable;
use offgen_runtime::Ref;

pub struct Mood;

#[derive(Syncable)]
pub struct Reading {
    pub station: Ref<String>,
    pub mood: Mood,
}

fn main() {}
