//! The app the derives make from the structs is the app `offgen build` generates from
//! examples/ranger/offgen.yaml: every entity's fields, kinds, defaults, policy, owner and SQL,
//! the migrations, the pull statements and the shapes.

use offgen_runtime::{SyncApp, Syncable};

#[test]
fn the_derived_app_is_the_generated_one() {
    assert_eq!(
        format!("{:#?}", ranger_rs::App::APP),
        format!("{:#?}", ranger_server::APP)
    );
    assert_eq!(ranger_rs::App::OPENAPI, ranger_server::OPENAPI);
}

#[test]
fn each_struct_carries_its_entity() {
    assert_eq!(
        format!("{:#?}", ranger_rs::Observation::ENTITY),
        format!("{:#?}", ranger_server::entities::OBSERVATIONS)
    );
}
