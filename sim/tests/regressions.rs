//! Defects the simulation found, each as the smallest scenario that shows it, with the seed
//! that found it. Real device databases, the reference client, the example's real server.

use offgen_runtime::client::{Device, Request, Response, SyncClient, SyncOptions, TransportError};
use offgen_sim::schema;
use offgen_sim::server::{Backend, SimServer};
use offgen_sim::world::USERS;
use serde_json::json;

fn server(dir: &std::path::Path) -> SimServer {
    let tokens = format!("{}=ana-token", USERS[0].1);
    let versions = schema::versions().unwrap();
    let server = SimServer::start(&Backend::Sqlite, dir, tokens, &versions[0]).unwrap();
    let results = server
        .push(
            "ana-token",
            json!([{"mutationId": "m-ana", "entity": "rangers", "id": USERS[0].1, "op": "insert",
                    "data": {"name": "Ana", "badgeNumber": "B-1"}}]),
        )
        .unwrap();
    assert_eq!(results[0]["status"], "accepted", "{results:?}");
    server
}

/// Seed 3 (150 events, 5 phones): a phone killed before its first sync reopened its file,
/// and from then on every pull failed with `FOREIGN KEY constraint failed`: a page held an
/// observation before the route it refers to (the route changed later, so it comes later in
/// change order). Only the connection that ran the migrations had foreign keys off; SQLite as
/// rusqlite bundles it turns them on by default.
#[test]
fn a_reopened_device_applies_a_page_whose_rows_refer_to_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    let server = server(dir.path());
    let route = "5e000001-0000-4000-8000-000000000001";
    let observation = "5e000002-0000-4000-8000-000000000002";
    let results = server
        .push(
            "ana-token",
            json!([
                {"mutationId": "m1", "entity": "patrol_routes", "id": route, "op": "insert",
                 "data": {"name": "North", "sector": "N", "geometry": {"type": "LineString"}}},
                {"mutationId": "m2", "entity": "observations", "id": observation, "op": "insert",
                 "data": {"ranger": USERS[0].1, "route": route, "kind": "tracks", "latitude": 1.5,
                          "longitude": 2.5, "recordedAt": 1, "modifiedAt": 1}},
            ]),
        )
        .unwrap();
    assert!(
        results.iter().all(|r| r["status"] == "accepted"),
        "{results:?}"
    );
    // Changed later, the route comes after the observation in change order.
    let results = server
        .push(
            "ana-token",
            json!([{"mutationId": "m3", "entity": "patrol_routes", "id": route, "op": "update",
                    "baseVersion": 1, "data": {"name": "North ridge"}}]),
        )
        .unwrap();
    assert_eq!(results[0]["status"], "accepted", "{results:?}");

    let versions = schema::versions().unwrap();
    let path = dir.path().join("phone.db");
    // The first open creates and migrates the database; the app is then killed.
    drop(Device::open(&path, &versions[0].client).unwrap());
    let mut device = Device::open(&path, &versions[0].client).unwrap();
    let transport =
        |request: Request| -> Result<Response, TransportError> { Ok(server.handle(&request)) };
    let client =
        SyncClient::new(transport, || Some("ana-token".to_owned())).with_options(SyncOptions {
            pull_page: 2,
            ..SyncOptions::default()
        });
    let report = client
        .sync(&mut device)
        .unwrap_or_else(|e| panic!("the sync failed: {e}"));
    assert_eq!(report.pulled, 3);
    let name: String = device
        .connection()
        .query_row(
            "SELECT name FROM patrol_routes WHERE id = ?1",
            [route],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(name, "North ridge");
    let refers: String = device
        .connection()
        .query_row(
            "SELECT route FROM observations WHERE id = ?1",
            [observation],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(refers, route);
}
