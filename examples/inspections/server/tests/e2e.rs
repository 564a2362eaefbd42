//! The container terminal's inspections app end to end: shared tablets (device databases built
//! by the example's generated migrations, synced by the reference client over HTTP on
//! loopback) against the example server, on SQLite and on PostgreSQL.

use offgen_testkit::reqwest::Method;
use offgen_testkit::{Env, Example, Fault, Phone, assert_converged, insert, uuid};
use serde_json::{Value, json};

/// The terminal's sign-in gives every inspector and gate clerk a user id; nothing is scoped.
const NIA: &str = "inspector-nia";
const OWEN: &str = "inspector-owen";
const NIA_TOKEN: &str = "nia-token";
const OWEN_TOKEN: &str = "owen-token";
/// The shift supervisor, who reviews the audit (`OFFGEN_ADMINS`).
const SUPERVISOR: &str = "supervisor";
const SUPERVISOR_TOKEN: &str = "supervisor-token";

const GATE_1: u64 = 1;
const GATE_2: u64 = 2;
const TRUCK: u64 = 10;

static INSPECTIONS: Example = Example {
    app: &inspections_server::APP,
    openapi: inspections_server::OPENAPI,
    client_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/../client"),
    users: &[
        (NIA, NIA_TOKEN),
        (OWEN, OWEN_TOKEN),
        (SUPERVISOR, SUPERVISOR_TOKEN),
    ],
    admins: &[SUPERVISOR],
    seed: the_terminal,
};

/// Two gates and a truck, as the terminal office set them up.
fn the_terminal() -> Vec<(&'static str, Value)> {
    vec![(
        SUPERVISOR_TOKEN,
        json!([
            insert("gates", &uuid(GATE_1), json!({"name": "Gate 1"})),
            insert(
                "gates",
                &uuid(GATE_2),
                json!({"name": "Gate 2", "inbound": false})
            ),
            insert(
                "trucks",
                &uuid(TRUCK),
                json!({"plate": "KDA 123X", "haulier": "Coast Freight"})
            ),
        ]),
    )]
}

macro_rules! e2e {
    ($name:ident, $body:expr) => {
        offgen_testkit::e2e!(INSPECTIONS, $name, $body);
    };
}

fn start_inspection(tablet: &Phone, id: &str, inspector: &str) {
    tablet.sql(&format!(
        "INSERT INTO inspections (id, truck, gate, inspector, started_at, seal_number)
         VALUES ('{id}', '{}', '{}', '{inspector}', 1764590400000, 'SL-0042')",
        uuid(TRUCK),
        uuid(GATE_1)
    ));
}

/// The supervisor's conflict inbox: the audit entries of one row, newest first.
fn inbox(env: &Env, table: &str, id: &str) -> Vec<Value> {
    let path = format!("/admin/audit?entity={table}&id={id}");
    let response = env.rt.block_on(async {
        let response = env
            .server
            .request(Method::GET, &path, Some(SUPERVISOR_TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        response.json::<Value>().await.unwrap()
    });
    response["entries"].as_array().unwrap().clone()
}

fn result(tablet: &Phone, id: &str) -> Value {
    tablet.value(&format!("SELECT result FROM inspections WHERE id = '{id}'"))
}

e2e!(
    the_last_edit_to_reach_the_server_wins_whatever_the_tablets_clocks_say,
    |env: Env| {
        let mut nia = Phone::new(&env, NIA_TOKEN);
        let mut owen = Phone::new(&env, OWEN_TOKEN);
        let id = uuid(100);
        start_inspection(&nia, &id, NIA);
        nia.synced();
        owen.synced();
        // Offline, Nia puts the truck on hold and notes why; on the other tablet Owen, whose
        // tablet clock says he did it a quarter of an hour earlier, passes it. Owen's edit
        // reaches the server last.
        let t0 = nia.device.now().unwrap();
        nia.device.set_fixed_clock(Some(t0 + 20 * 60_000)).unwrap();
        owen.device.set_fixed_clock(Some(t0 + 5 * 60_000)).unwrap();
        nia.sql(&format!(
            "UPDATE inspections SET result = 'hold', notes = 'seal number differs' WHERE id = '{id}'"
        ));
        owen.sql(&format!(
            "UPDATE inspections SET result = 'pass' WHERE id = '{id}'"
        ));
        nia.synced();
        let report = owen.synced();
        assert_eq!((report.accepted, report.conflicts), (1, 0), "{report:?}");
        nia.synced();
        // By the tablets' clocks Nia's hold would have won; by arrival, Owen's pass does, and
        // Nia's note, which nobody overwrote, stays.
        for tablet in [&nia, &owen] {
            assert_eq!(result(tablet, &id), json!("pass"));
            assert_eq!(
                tablet.value(&format!("SELECT notes FROM inspections WHERE id = '{id}'")),
                json!("seal number differs")
            );
        }
        // Owen never saw the hold: it is in the supervisor's inbox, and restoring it puts the
        // truck on hold again on every tablet.
        let entries = inbox(&env, "inspections", &id);
        assert_eq!(entries.len(), 1, "{entries:#?}");
        assert_eq!(entries[0]["losing"]["data"], json!({"result": "hold"}));
        assert!(
            entries[0]["reason"]
                .as_str()
                .unwrap()
                .starts_with("lww: replaced by a newer write"),
            "{entries:#?}"
        );
        let restore = format!("/admin/audit/{}/restore", entries[0]["id"]);
        let status = env.rt.block_on(async {
            env.server
                .request(Method::POST, &restore, Some(SUPERVISOR_TOKEN))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(status, 200);
        nia.synced();
        owen.synced();
        for (tablet, token) in [(&nia, NIA_TOKEN), (&owen, OWEN_TOKEN)] {
            assert_eq!(result(tablet, &id), json!("hold"));
            assert_converged(&env, tablet, token);
        }
    }
);

e2e!(
    gate_events_from_two_gates_arrive_once_each_through_lost_answers,
    |env: Env| {
        let mut gate_1 = Phone::new(&env, NIA_TOKEN);
        let mut gate_2 = Phone::new(&env, OWEN_TOKEN);
        let event = |tablet: &Phone, n: u64, gate: u64, kind: &str| {
            tablet.sql(&format!(
                "INSERT INTO gate_events (id, truck, gate, kind, at, recorded_by)
                 VALUES ('{}', '{}', '{}', '{kind}', {}, 'clerk')",
                uuid(200 + n),
                uuid(TRUCK),
                uuid(gate),
                1764590400000 + n as i64 * 60_000
            ));
        };
        event(&gate_1, 0, GATE_1, "arrived");
        event(&gate_1, 1, GATE_1, "admitted");
        event(&gate_2, 2, GATE_2, "departed");
        // Each gate's first push is applied and its answer lost: sent again, applied once.
        gate_1.net.plan(&[Fault::LoseResponse]);
        gate_2.net.plan(&[Fault::LoseResponse]);
        assert!(gate_1.sync().is_err());
        assert!(gate_2.sync().is_err());
        gate_1.synced();
        gate_2.synced();
        gate_1.synced();
        assert_eq!(env.server_count("SELECT count(*) FROM gate_events"), 3);
        for (tablet, token) in [(&gate_1, NIA_TOKEN), (&gate_2, OWEN_TOKEN)] {
            assert_eq!(
                tablet.value(
                    "SELECT group_concat(kind, ',') FROM (SELECT kind FROM gate_events ORDER BY at)"
                ),
                json!("arrived,admitted,departed")
            );
            assert_converged(&env, tablet, token);
        }
    }
);

e2e!(a_drivers_signature_arrives_byte_for_byte, |env: Env| {
    let mut gate = Phone::new(&env, NIA_TOKEN);
    let mut office = Phone::new(&env, OWEN_TOKEN);
    // A signature image's bytes, NUL and high bytes included.
    let signature: Vec<u8> = (0..=255u8).chain([0, 0, 255]).collect();
    gate.device
            .connection()
            .execute(
                "INSERT INTO transfers (id, container, truck, from_haulier, to_haulier, condition, handed_over_at, signed_by, signature)
                 VALUES (?1, 'MSKU 1234567', ?2, 'Coast Freight', 'Inland Haulage', 'sound', 1764590400000, 'J. Driver', ?3)",
                offgen_runtime::client::rusqlite::params![uuid(300), uuid(TRUCK), signature],
            )
            .unwrap();
    gate.synced();
    office.synced();
    let stored: Vec<u8> = office
        .device
        .connection()
        .query_row(
            "SELECT signature FROM transfers WHERE id = ?1",
            [uuid(300)],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(stored, signature);
    assert_converged(&env, &office, OWEN_TOKEN);
});
