use offgen_macros::Syncable;

#[derive(Syncable)]
#[syncable(tabel = "readings", conflict = lwww)]
pub struct Reading {
    #[syncable(defualt = 1)]
    pub count: i64,
    #[syncable(default = "many")]
    pub total: i64,
}

fn main() {}
