use offgen_macros::Syncable;

#[derive(Syncable)]
pub struct Reading {
    pub id: String,
    pub updated_at: i64,
    pub value: f64,
}

fn main() {}
