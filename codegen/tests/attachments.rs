//! Attachment fields on the device and in migrations: the triggers and `sync.sql` statements of
//! the attachment queue, run on a real SQLite database built by the generated migrations, one
//! rule per test; and a spec gaining an attachment field (then renaming it) migrating devices
//! and both servers like any other change.

mod support;

use offgen_runtime::model::AppDef;
use offgen_runtime::server::tokio;
use offgen_runtime::server::{Database, Dialect};
use serde_json::{Value, json};
use support::{CLAIM, Device, accepted};

const SPEC: &str = r#"
offgen: 1
app: field
entities:
  Site:
    fields:
      name: text
  Visit:
    conflict: lww
    fields:
      site: Site
      notes: text?
      photo: attachment?
      signature: { type: attachment, nullable: true }
"#;

const A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
const C: &str = "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc";

const DAY: i64 = 86_400_000;
const GRACE: i64 = 7 * DAY;

fn device() -> Device {
    let device = Device::new(SPEC);
    device.sql(
        "INSERT INTO sites (id, name) VALUES ('s1', 'North');
         INSERT INTO visits (id, site) VALUES ('v1', 's1'), ('v2', 's1');",
    );
    device
}

/// `attach_file` as the client runs it; returns how many rows it changed.
fn attach(device: &Device, row: &str, field: &str, sha: &str, size: i64, path: &str) -> usize {
    attach_to(device, "visits", row, field, sha, size, path)
}

fn attach_to(
    device: &Device,
    entity: &str,
    row: &str,
    field: &str,
    sha: &str,
    size: i64,
    path: &str,
) -> usize {
    let sql = device
        .device
        .schema()
        .statement("attach_file")
        .unwrap()
        .sql
        .clone();
    let now = 1_000_i64;
    device
        .conn()
        .prepare(&sql)
        .unwrap()
        .execute(offgen_runtime::client::rusqlite::named_params! {
            ":entity": entity, ":row_id": row, ":field": field, ":sha256": sha, ":size": size,
            ":media_type": "image/jpeg", ":local_path": path, ":now": now,
        })
        .unwrap_or_else(|e| panic!("attach_file: {e}"))
}

fn reference(sha: &str, size: i64) -> Value {
    json!({"sha256": sha, "size": size, "mediaType": "image/jpeg"})
}

/// (row, field, sha prefix, state, local path) of every queue row, in queue order.
fn queue(device: &Device) -> Vec<(String, String, String, String, Option<String>)> {
    let mut stmt = device
        .conn()
        .prepare("SELECT row_id, field, substr(sha256, 1, 1), state, local_path FROM _offgen_attachments ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

fn q(
    row: &str,
    field: &str,
    sha: &str,
    state: &str,
    path: Option<&str>,
) -> (String, String, String, String, Option<String>) {
    (
        row.into(),
        field.into(),
        sha.into(),
        state.into(),
        path.map(Into::into),
    )
}

/// Claims the next upload (on an unmetered network unless `metered`).
fn claim_upload(device: &Device, now: i64, metered: bool) -> Option<Value> {
    let metered = i64::from(metered);
    device.run(
        "claim_attachment_upload",
        &[(":claim", &CLAIM), (":now", &now), (":metered", &metered)],
    );
    device
        .run("claimed_attachment", &[(":claim", &CLAIM)])
        .into_iter()
        .next()
}

fn evictable(device: &Device, now: i64) -> Vec<String> {
    device
        .run("evictable_attachments", &[(":now", &now)])
        .into_iter()
        .map(|r| r["local_path"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_attached_file_sets_the_field_as_a_local_write_and_queues_its_upload() {
    let device = device();
    assert_eq!(attach(&device, "v1", "photo", A, 12, "/files/a.jpg"), 1);
    let photo: Value = serde_json::from_str(
        device
            .value("SELECT photo FROM visits WHERE id = 'v1'")
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(photo, reference(A, 12));
    assert_eq!(
        queue(&device),
        [q("v1", "photo", "a", "pending", Some("/files/a.jpg"))]
    );
    // The record is queued like any write, with the reference in its payload: it syncs at
    // once, whatever becomes of the upload.
    let sent: Vec<Value> = device
        .sent()
        .into_iter()
        .filter(|e| e["row_id"] == "v1")
        .collect();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["payload"]["photo"], reference(A, 12));
    assert_eq!(device.status("visits", "v1"), "pending");
}

#[test]
fn only_an_attachment_field_of_a_live_row_takes_a_file() {
    let device = device();
    assert_eq!(
        attach(&device, "v1", "notes", A, 1, "/f"),
        0,
        "not an attachment field"
    );
    assert_eq!(
        attach_to(&device, "sites", "s1", "photo", A, 1, "/f"),
        0,
        "no such field"
    );
    assert!(queue(&device).is_empty());
    let sql = device
        .device
        .schema()
        .statement("attach_file")
        .unwrap()
        .sql
        .clone();
    for (row, why) in [("v9", "a missing row"), ("v2", "a deleted row")] {
        if row == "v2" {
            device.sql("UPDATE visits SET deleted_at = 5 WHERE id = 'v2'");
        }
        let refused = device.conn().prepare(&sql).unwrap().execute(
            offgen_runtime::client::rusqlite::named_params! {
                ":entity": "visits", ":row_id": row, ":field": "photo", ":sha256": A, ":size": 1,
                ":media_type": "image/jpeg", ":local_path": "/f", ":now": 1,
            },
        );
        let error = refused.expect_err(why).to_string();
        assert!(
            error.contains("no visits row with this id"),
            "{why}: {error}"
        );
    }
    assert!(queue(&device).is_empty(), "a refused attach leaves nothing");
}

#[test]
fn a_reference_the_server_would_refuse_is_refused_on_write() {
    let device = device();
    for bad in [
        r#"'{"sha256":"abc","size":1,"mediaType":"image/jpeg"}'"#,
        &format!(
            r#"'{{"sha256":"{}","size":1,"mediaType":"image/jpeg"}}'"#,
            A.to_uppercase()
        ),
        &format!(r#"'{{"sha256":"{A}","size":-1,"mediaType":"image/jpeg"}}'"#),
        &format!(r#"'{{"sha256":"{A}","size":1}}'"#),
        "'photo.jpg'",
    ] {
        let error = device.sql_err(&format!("UPDATE visits SET photo = {bad} WHERE id = 'v1'"));
        assert!(
            error.contains("must be an attachment reference"),
            "{bad}: {error}"
        );
    }
}

#[test]
fn a_new_file_supersedes_the_old_one_and_the_old_one_can_come_back() {
    let device = device();
    attach(&device, "v1", "photo", A, 12, "/files/a.jpg");
    attach(&device, "v1", "photo", B, 13, "/files/b.jpg");
    assert_eq!(
        queue(&device),
        [
            q("v1", "photo", "a", "superseded", Some("/files/a.jpg")),
            q("v1", "photo", "b", "pending", Some("/files/b.jpg")),
        ]
    );
    // A superseded file is not uploaded.
    let claimed = claim_upload(&device, 2_000, false).unwrap();
    assert_eq!(claimed["sha256"], B);
    device.run("release_attachment_upload", &[(":claim", &CLAIM)]);
    // The app sets the field back (an undo, or a conflict settled for the server's side).
    device.sql(&format!(
        "UPDATE visits SET photo = '{}' WHERE id = 'v1'",
        reference(A, 12)
    ));
    assert_eq!(
        queue(&device),
        [
            q("v1", "photo", "a", "pending", Some("/files/a.jpg")),
            q("v1", "photo", "b", "superseded", Some("/files/b.jpg")),
        ]
    );
    // Clearing the field supersedes its file; the other field is untouched.
    attach(&device, "v1", "signature", C, 3, "/files/c.png");
    device.sql("UPDATE visits SET photo = NULL WHERE id = 'v1'");
    let states: Vec<String> = queue(&device).into_iter().map(|r| r.3).collect();
    assert_eq!(states, ["superseded", "superseded", "pending"]);
    // Deleting the row supersedes every file of it.
    device.sql("DELETE FROM visits WHERE id = 'v1'");
    assert!(
        queue(&device).iter().all(|r| r.3 == "superseded"),
        "{:?}",
        queue(&device)
    );
}

#[test]
fn pulled_records_bring_the_servers_files_and_a_file_held_here_is_uploaded_for_them_too() {
    let device = device();
    attach(&device, "v1", "photo", A, 12, "/files/a.jpg");
    // The server's copy of this device's own row comes back with the same reference (its
    // keys in PostgreSQL's order): nothing changes.
    device.pull(
        json!([
            {"entity": "visits", "id": "v3", "version": 1, "deleted": false, "updatedAt": 5,
             "data": {"site": "s1", "photo": {"size": 12, "sha256": A, "mediaType": "image/jpeg"}, "signature": reference(C, 3)}},
        ]),
        "c1",
    );
    assert_eq!(
        queue(&device),
        [
            q("v1", "photo", "a", "pending", Some("/files/a.jpg")),
            // The same bytes as a file this device holds: uploaded for this row too.
            q("v3", "photo", "a", "pending", Some("/files/a.jpg")),
            // A file this device never had: the server's, fetched when asked for.
            q("v3", "signature", "c", "remote", None),
        ]
    );
    let stored = device.value("SELECT photo FROM visits WHERE id = 'v3'");
    assert_eq!(
        stored.as_str().unwrap(),
        reference(A, 12).to_string(),
        "stored in the one key order"
    );
    let found = device.run(
        "find_attachment",
        &[
            (":entity", &"visits"),
            (":row_id", &"v3"),
            (":field", &"signature"),
        ],
    );
    assert_eq!(found[0]["remote_key"], format!("visits/v3/signature/{C}"));
    assert_eq!(found[0]["local_path"], Value::Null);
}

#[test]
fn uploads_follow_the_apps_rules_for_size_and_metered_networks() {
    let device = device();
    attach(&device, "v1", "photo", A, 5_000_000, "/files/big.jpg");
    attach(&device, "v2", "photo", B, 40_000, "/files/small.jpg");
    let policy = |max: Option<i64>, metered: Option<i64>| {
        let (grace, download) = (GRACE, "on_demand");
        device.run(
            "set_attachment_policy",
            &[
                (":max_bytes", &max),
                (":metered_max_bytes", &metered),
                (":grace_ms", &grace),
                (":download", &download),
            ],
        );
    };
    // Unmetered only.
    policy(None, Some(0));
    assert_eq!(claim_upload(&device, 2_000, true), None);
    assert_eq!(claim_upload(&device, 2_000, false).unwrap()["sha256"], A);
    device.run("release_attachment_upload", &[(":claim", &CLAIM)]);
    // Small files on metered networks.
    policy(None, Some(100_000));
    assert_eq!(claim_upload(&device, 2_000, true).unwrap()["sha256"], B);
    device.run("release_attachment_upload", &[(":claim", &CLAIM)]);
    // Nothing above a size, anywhere.
    policy(Some(100_000), None);
    assert_eq!(claim_upload(&device, 2_000, false).unwrap()["sha256"], B);
}

#[test]
fn a_refused_upload_waits_doubling_delays_then_fails_and_keeps_its_file() {
    let device = device();
    attach(&device, "v1", "photo", A, 12, "/files/a.jpg");
    let mut now = 10_000;
    for attempt in 0..5 {
        let claimed =
            claim_upload(&device, now, false).unwrap_or_else(|| panic!("attempt {attempt} is due"));
        assert_eq!(claimed["attempts"], attempt);
        let error = "not-found: no visits row v1";
        device.run(
            "retry_attachment_upload",
            &[(":claim", &CLAIM), (":error", &error), (":now", &now)],
        );
        // Not due again before its delay.
        assert_eq!(claim_upload(&device, now + 1, false), None);
        now += 30_000 << attempt;
    }
    assert_eq!(
        queue(&device),
        [q("v1", "photo", "a", "failed", Some("/files/a.jpg"))]
    );
    assert_eq!(claim_upload(&device, now + 10 * DAY, false), None);
    let stats = &device.run("attachment_stats", &[(":now", &now)])[0];
    assert_eq!(
        (stats["failed"].clone(), stats["pending"].clone()),
        (json!(1), json!(0))
    );
    // A failed upload never loses its file, however long ago it failed.
    assert!(evictable(&device, now + 1000 * DAY).is_empty());
    // The app retries it.
    let seq = device
        .value("SELECT seq FROM _offgen_attachments")
        .as_i64()
        .unwrap();
    device.run("retry_failed_attachment", &[(":seq", &seq)]);
    assert!(claim_upload(&device, now, false).is_some());
}

#[test]
fn eviction_never_removes_a_file_a_row_still_needs() {
    let device = device();
    attach(&device, "v1", "photo", A, 12, "/files/a.jpg");
    attach(&device, "v2", "photo", B, 13, "/files/b.jpg");
    // The same bytes attached to a second row (one file, shared).
    device.sql(&format!(
        "INSERT INTO visits (id, site, photo) VALUES ('v3', 's1', '{}')",
        reference(A, 12)
    ));
    let far = 1000 * DAY;
    assert!(evictable(&device, far).is_empty(), "pending files stay");
    // v1's upload is confirmed; v3's (the same file) is not: the file stays.
    let claimed = claim_upload(&device, 1_000, false).unwrap();
    assert_eq!(claimed["remote_key"], format!("visits/v1/photo/{A}"));
    device.run(
        "confirm_attachment_upload",
        &[(":claim", &CLAIM), (":now", &1_000_i64)],
    );
    assert!(evictable(&device, far).is_empty(), "v3 still needs a.jpg");
    // In flight: stays.
    let claimed = claim_upload(&device, 1_000, false).unwrap();
    assert_eq!(claimed["sha256"], B);
    assert!(
        evictable(&device, far).is_empty(),
        "an upload in flight keeps its file"
    );
    device.run(
        "confirm_attachment_upload",
        &[(":claim", &CLAIM), (":now", &1_500_i64)],
    );
    claim_upload(&device, 1_000, false).unwrap();
    device.run(
        "confirm_attachment_upload",
        &[(":claim", &CLAIM), (":now", &2_000_i64)],
    );
    // Every row holding it confirmed: evictable once the grace period has passed, not before.
    assert_eq!(evictable(&device, 1_500 + GRACE), ["/files/b.jpg"]);
    assert_eq!(evictable(&device, 2_000 + GRACE - 1), ["/files/b.jpg"]);
    assert_eq!(
        evictable(&device, 2_000 + GRACE),
        ["/files/a.jpg", "/files/b.jpg"]
    );
    // Meanwhile the app attaches the file again to a row: evict_attachment checks again and
    // changes nothing, so the client leaves the file alone.
    device.sql(&format!(
        "INSERT INTO visits (id, site, photo) VALUES ('v4', 's1', '{}')",
        reference(A, 12)
    ));
    let path = "/files/a.jpg";
    let now = 2_000 + GRACE;
    let evicted = device.conn().execute(
        &device
            .device
            .schema()
            .statement("evict_attachment")
            .unwrap()
            .sql,
        offgen_runtime::client::rusqlite::named_params! {":local_path": path, ":now": now},
    );
    assert_eq!(evicted.unwrap(), 0);
    // A file whose row moved on before it was ever uploaded is kept for the grace period
    // too, then goes.
    let superseded_at = 3_000;
    device.sql(&format!(
        "INSERT INTO _offgen_meta (key, value) VALUES ('fixed_clock_ms', '{superseded_at}')"
    ));
    attach(&device, "v2", "photo", C, 3, "/files/c.jpg");
    device.sql("UPDATE visits SET photo = NULL WHERE id = 'v2'");
    let c = "/files/c.jpg".to_owned();
    assert!(!evictable(&device, superseded_at + GRACE - 1).contains(&c));
    assert!(evictable(&device, superseded_at + GRACE).contains(&c));
    let evicted = device.conn().execute(
        &device
            .device
            .schema()
            .statement("evict_attachment")
            .unwrap()
            .sql,
        offgen_runtime::client::rusqlite::named_params! {
            ":local_path": c, ":now": superseded_at + GRACE,
        },
    );
    assert_eq!(evicted.unwrap(), 1);
    device.run("forget_evicted", &[]);
    assert!(
        queue(&device).iter().all(|r| r.2 != "c"),
        "{:?}",
        queue(&device)
    );
}

#[test]
fn records_sync_at_once_while_their_files_wait() {
    let device = device();
    for i in 0..40 {
        let id = format!("p{i}");
        device.sql(&format!(
            "INSERT INTO visits (id, site) VALUES ('{id}', 's1')"
        ));
        attach(
            &device,
            &id,
            "photo",
            &format!("{:064x}", i + 1),
            4_000_000,
            &format!("/f/{i}"),
        );
    }
    // Every record is claimable in one push, whatever the uploads do.
    claim_upload(&device, 1_000, false).unwrap();
    let sent = device.claim(1000);
    assert_eq!(sent.len(), 43, "two visits, a site and 40 new visits");
    let results: Vec<Value> = device.outbox().iter().map(|e| accepted(e, 1)).collect();
    device.push_results(json!(results));
    assert!(device.outbox().is_empty());
    let stats = &device.run("attachment_stats", &[(":now", &2_000_i64)])[0];
    assert_eq!(stats["pending"], 40);
    assert_eq!(stats["uploading"], 1);
    assert_eq!(stats["pending_bytes"], 160_000_000_i64);
}

// ---------------------------------------------------------------------------------------------
// Migrations

const V1: &str = r#"
offgen: 1
app: field
entities:
  Site:
    fields:
      name: text
  Visit:
    fields:
      site: Site
      notes: text?
"#;

/// V1 with an attachment field added to an existing entity.
const V2: &str = r#"
offgen: 1
app: field
entities:
  Site:
    fields:
      name: text
  Visit:
    fields:
      site: Site
      notes: text?
      photo: attachment?
"#;

/// V2 with the field and the entity renamed.
const V3: &str = r#"
offgen: 1
app: field
entities:
  Site:
    fields:
      name: text
  Inspection:
    renamed_from: Visit
    fields:
      site: Site
      notes: text?
      picture: { type: attachment, nullable: true, renamed_from: photo }
"#;

#[test]
fn a_new_attachment_field_migrates_a_device_with_queued_writes_like_any_new_field() {
    let builds = support::builds(&[V1.to_owned(), V2.to_owned(), V3.to_owned()]);
    let step2 = support::migrations(&builds[1]).pop().unwrap();
    assert!(
        step2
            .statements
            .iter()
            .any(|s| s.contains("ADD COLUMN \"photo\" TEXT NULL"))
    );
    assert!(
        step2
            .statements
            .iter()
            .any(|s| s.contains("CREATE TABLE IF NOT EXISTS \"_offgen_attachments\""))
    );

    let mut device = Device::from_build(&builds[0]);
    device.sql(
        "INSERT INTO sites (id, name) VALUES ('s1', 'North');
         INSERT INTO visits (id, site, notes) VALUES ('v1', 's1', 'queued before the upgrade');",
    );
    device.upgrade(&builds[1]);
    assert_eq!(device.outbox().len(), 2, "the queued writes survive");
    attach(&device, "v1", "photo", A, 12, "/files/a.jpg");
    let sent = device.sent();
    let visit = sent.iter().find(|e| e["row_id"] == "v1").unwrap();
    assert_eq!(visit["payload"]["photo"], reference(A, 12));
    assert_eq!(visit["payload"]["notes"], "queued before the upgrade");

    // The rename moves the queue with it: the upload goes to the new names.
    device.upgrade(&builds[2]);
    let claimed = claim_upload(&device, 1_000, false).unwrap();
    assert_eq!(claimed["remote_key"], format!("inspections/v1/picture/{A}"));
    device.run("release_attachment_upload", &[(":claim", &CLAIM)]);
    attach_to(
        &device,
        "inspections",
        "v1",
        "picture",
        B,
        5,
        "/files/b.jpg",
    );
    assert_eq!(
        queue(&device)
            .iter()
            .map(|r| (r.1.as_str(), r.3.as_str()))
            .collect::<Vec<_>>(),
        [("picture", "superseded"), ("picture", "pending")]
    );
    // Drift sees exactly the schema it expects, the attachment queue included, and it is the
    // one a device installed fresh on the last revision gets.
    support::drift::check_database_matches_drift(&builds[2], &device);
    let fresh = Device::from_build(&builds[2]);
    let upgraded = support::drift::sqlite_master(&device);
    for (name, sql) in support::drift::sqlite_master(&fresh) {
        if sql.starts_with("CREATE TABLE") {
            assert_eq!(
                support::drift::table_parts(&upgraded[&name]),
                support::drift::table_parts(&sql),
                "{name}"
            );
        } else {
            assert_eq!(
                support::drift::normalize(&upgraded[&name]),
                support::drift::normalize(&sql),
                "{name}"
            );
        }
    }
}

fn app(files: &offgen_codegen::output::FileSet) -> &'static AppDef {
    offgen_codegen::backend::server::app_def::plan_of_build(files)
        .unwrap_or_else(|d| panic!("{}", d.message))
        .leak()
}

async fn texts(db: &Database, sql: &str) -> Vec<String> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    }
}

async fn exec(db: &Database, sql: &str) {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        Database::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        Database::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
    .unwrap();
}

/// A server at each revision, on the database the one before left: the attachment column and
/// the table of uploads come with the field; a rename carries the uploads' names along.
async fn servers_migrate_through_the_revisions(url: &str) {
    let builds = support::builds(&[V1.to_owned(), V2.to_owned(), V3.to_owned()]);
    let db = Database::connect(url).await.unwrap();
    let pg = db.dialect() == Dialect::Postgres;
    db.migrate(app(&builds[0])).await.unwrap();
    db.migrate(app(&builds[1])).await.unwrap();
    let reference = reference(A, 12).to_string();
    let (cast, xid, xid_col) = if pg {
        ("::jsonb", ", pg_current_xact_id()", ", _offgen_xid")
    } else {
        ("", "", "")
    };
    let uuid = if pg { "::uuid" } else { "" };
    exec(
        &db,
        &format!(
            "INSERT INTO sites (id, name, version, updated_at, _offgen_seq{xid_col})
               VALUES ('00000000-0000-4000-8000-000000000001'{uuid}, 'North', 1, 1, 1{xid});
             INSERT INTO visits (id, site, photo, version, updated_at, _offgen_seq{xid_col})
               VALUES ('00000000-0000-4000-8000-000000000002'{uuid}, '00000000-0000-4000-8000-000000000001'{uuid},
                       '{reference}'{cast}, 1, 1, 2{xid});
             INSERT INTO _offgen_attachments (entity, row_id, field, sha256, size, media_type, user_id, uploaded_at)
               VALUES ('visits', '00000000-0000-4000-8000-000000000002', 'photo', '{A}', 12, 'image/jpeg', 'ana', 1);"
        ),
    )
    .await;
    db.migrate(app(&builds[2])).await.unwrap();
    assert_eq!(
        texts(
            &db,
            "SELECT entity || '/' || field FROM _offgen_attachments"
        )
        .await,
        ["inspections/picture"]
    );
    let stored = texts(&db, "SELECT CAST(picture AS TEXT) FROM inspections").await;
    let stored: Value = serde_json::from_str(&stored[0]).unwrap();
    assert_eq!(
        stored,
        json!({"sha256": A, "size": 12, "mediaType": "image/jpeg"})
    );
}

#[tokio::test]
async fn servers_migrate_an_attachment_field_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("s.db").display());
    servers_migrate_through_the_revisions(&url).await;
}

#[tokio::test]
async fn servers_migrate_an_attachment_field_on_postgres() {
    let admin = std::env::var("OFFGEN_TEST_DATABASE_URL").expect(
        "OFFGEN_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL",
    );
    let name = format!("attachments_{}", std::process::id());
    let pool = sqlx::PgPool::connect(&admin).await.unwrap();
    for statement in [
        format!("DROP DATABASE IF EXISTS {name}"),
        format!("CREATE DATABASE {name}"),
    ] {
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
            .execute(&pool)
            .await
            .unwrap();
    }
    let (base, _) = admin.rsplit_once('/').unwrap();
    servers_migrate_through_the_revisions(&format!("{base}/{name}")).await;
}
