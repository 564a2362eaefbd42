//! The container terminal's inspections app end to end: shared tablets (device databases built
//! by the example's generated migrations, synced by the reference client over HTTP on
//! loopback) against the example server, on SQLite and on PostgreSQL.

use std::path::Path;

use offgen_runtime::attachments::sha256_hex;
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

/// A file the tablet took (a photo, or a signature drawn on screen): `size` bytes, NUL and
/// high bytes included, kept in `dir`, handed to the sync with `attach`.
fn attach(tablet: &Phone, dir: &Path, table: &str, id: &str, field: &str, size: usize) -> Vec<u8> {
    let bytes: Vec<u8> = (0..size)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(field.len() as u8))
        .collect();
    let path = dir.join(format!("{table}-{id}-{field}"));
    std::fs::write(&path, &bytes).unwrap();
    let media_type = if field == "damagePhoto" {
        "image/jpeg"
    } else {
        "image/png"
    };
    tablet
        .device
        .attach(table, id, field, &path, media_type)
        .unwrap();
    bytes
}

fn sign_transfer(tablet: &Phone, id: &str) {
    tablet.sql(&format!(
        "INSERT INTO transfers (id, container, truck, from_haulier, to_haulier, condition, handed_over_at, signed_by)
         VALUES ('{id}', 'MSKU 1234567', '{}', 'Coast Freight', 'Inland Haulage', 'sound', 1764590400000, 'J. Driver')",
        uuid(TRUCK)
    ));
}

/// The server's record of a row, as another tablet pulls it.
fn server_record(env: &Env, table: &str, id: &str) -> Value {
    env.server_state(SUPERVISOR_TOKEN)
        .remove(&(table.to_owned(), id.to_owned()))
        .unwrap_or_else(|| panic!("{table} {id} is not on the server"))
}

e2e!(photos_and_signatures_follow_their_records, |env: Env| {
    let files = tempfile::tempdir().unwrap();
    let mut gate = Phone::new(&env, NIA_TOKEN);
    let mut office = Phone::new(&env, OWEN_TOKEN);
    let inspection = uuid(100);
    let transfer = uuid(300);
    start_inspection(&gate, &inspection, NIA);
    let photo = attach(
        &gate,
        files.path(),
        "inspections",
        &inspection,
        "damagePhoto",
        200_000,
    );
    let driver = attach(
        &gate,
        files.path(),
        "inspections",
        &inspection,
        "driverSignature",
        3_000,
    );
    sign_transfer(&gate, &transfer);
    let signature = attach(
        &gate,
        files.path(),
        "transfers",
        &transfer,
        "signature",
        2_500,
    );

    // The records go first, each with the references to its files, and no file with them.
    gate.synced();
    assert!(env.stored_files().is_empty(), "no file before its record");
    let record = server_record(&env, "inspections", &inspection);
    assert_eq!(
        record["data"]["damagePhoto"],
        json!({"sha256": sha256_hex(&photo), "size": 200_000, "mediaType": "image/jpeg"})
    );
    assert_eq!(
        server_record(&env, "transfers", &transfer)["data"]["signature"]["sha256"],
        json!(sha256_hex(&signature))
    );
    assert_eq!(gate.device.attachment_stats().unwrap().pending, 3);

    // Then the files, on their own run of the attachment loop.
    let report = gate.sync_files(&files.path().join("fetched")).unwrap();
    assert_eq!(report.uploaded, 3, "{report:?}");
    let mut stored = env.stored_files();
    stored.sort();
    let mut expected = vec![
        (sha256_hex(&photo), 200_000),
        (sha256_hex(&driver), 3_000),
        (sha256_hex(&signature), 2_500),
    ];
    expected.sort();
    assert_eq!(stored, expected);
    assert_eq!(gate.device.attachment_stats().unwrap().pending, 0);

    // The office's tablet pulls the references, and fetches the signature when it shows it.
    office.synced();
    let fetched = office
        .client
        .fetch_attachment(
            &mut office.device,
            "transfers",
            &transfer,
            "signature",
            &files.path().join("office"),
        )
        .unwrap();
    assert_eq!(std::fs::read(fetched).unwrap(), signature);
    assert_converged(&env, &office, OWEN_TOKEN);
});

e2e!(
    a_photo_replaced_unseen_waits_in_the_inbox_and_comes_back_on_restore,
    |env: Env| {
        let files = tempfile::tempdir().unwrap();
        let mut nia = Phone::new(&env, NIA_TOKEN);
        let mut owen = Phone::new(&env, OWEN_TOKEN);
        let id = uuid(100);
        start_inspection(&nia, &id, NIA);
        nia.synced();
        owen.synced();
        // Nia photographs a dent and syncs it, records then files; Owen, who has not pulled
        // since, photographs the same panel on his tablet, and his edit reaches the server
        // last: by arrival his photo wins.
        // Each tablet keeps its files in a folder of its own.
        let (nia_files, owen_files) = (files.path().join("nia"), files.path().join("owen"));
        std::fs::create_dir_all(&nia_files).unwrap();
        std::fs::create_dir_all(&owen_files).unwrap();
        let dent = attach(&nia, &nia_files, "inspections", &id, "damagePhoto", 50_000);
        nia.synced();
        assert_eq!(nia.sync_files(&nia_files).unwrap().uploaded, 1);
        let panel = attach(
            &owen,
            &owen_files,
            "inspections",
            &id,
            "damagePhoto",
            60_000,
        );
        let report = owen.synced();
        assert_eq!((report.accepted, report.conflicts), (1, 0), "{report:?}");
        assert_eq!(owen.sync_files(&owen_files).unwrap().uploaded, 1);
        nia.synced();
        let shown = |tablet: &Phone| {
            tablet.value(&format!(
                "SELECT json_extract(damage_photo, '$.sha256') FROM inspections WHERE id = '{id}'"
            ))
        };
        assert_eq!(shown(&nia), json!(sha256_hex(&panel)));

        // Nia's photo, replaced unseen, is in the supervisor's inbox; restoring it shows the
        // dent on every tablet again, and Owen's tablet fetches it from the server.
        let entries = inbox(&env, "inspections", &id);
        assert_eq!(entries.len(), 1, "{entries:#?}");
        assert_eq!(
            entries[0]["losing"]["data"]["damagePhoto"]["sha256"],
            json!(sha256_hex(&dent))
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
        for tablet in [&nia, &owen] {
            assert_eq!(shown(tablet), json!(sha256_hex(&dent)));
        }
        let fetched = owen
            .client
            .fetch_attachment(
                &mut owen.device,
                "inspections",
                &id,
                "damagePhoto",
                &owen_files.join("fetched"),
            )
            .unwrap();
        assert_eq!(std::fs::read(fetched).unwrap(), dent);
        for (tablet, token) in [(&nia, NIA_TOKEN), (&owen, OWEN_TOKEN)] {
            assert_converged(&env, tablet, token);
        }
    }
);
