//! The app this crate's generated statics describe is exactly the one offgen makes in memory
//! from the same build output (`offgen_codegen::backend::server::app_def`), which tests and
//! simulations serve for specs and schema steps that have no compiled crate.

use std::path::Path;

#[test]
fn the_compiled_app_and_the_app_made_at_run_time_are_the_same() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let made = offgen_codegen::backend::server::app_def::plan_of_dir(&dir)
        .unwrap_or_else(|d| panic!("{}", d.message))
        .leak();
    assert_eq!(format!("{made:#?}"), format!("{:#?}", ranger_server::APP));
}
