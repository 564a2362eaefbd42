use offgen_macros::Syncable;

#[derive(Syncable)]
pub struct Reading {
    pub count: u8,
    pub ratio: f32,
    pub tags: Vec<String>,
    pub label: &'static str,
    pub note: String,
}

fn main() {}
