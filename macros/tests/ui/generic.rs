use offgen_macros::Syncable;

#[derive(Syncable)]
pub struct Reading<T> {
    pub value: T,
}

fn main() {}
