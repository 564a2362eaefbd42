//! The server's migration steps, applied for real by the runtime's `Database::migrate`, as a
//! server deployed at each revision of the evolution fixtures would: on SQLite and on
//! PostgreSQL (`OFFGEN_TEST_DATABASE_URL`, started by scripts/test.sh), with rows written
//! under the first revision that must come through every later step.

mod support;

use offgen_runtime::model::AppDef;
use offgen_runtime::server::tokio;
use offgen_runtime::server::{Database, Dialect};
use serde_json::Value;

const RANGER: &str = "00000000-0000-4000-8000-000000000001";
const ROUTE: &str = "00000000-0000-4000-8000-000000000002";
const OTHER: &str = "00000000-0000-4000-8000-000000000003";
const TRACKS: &str = "00000000-0000-4000-8000-000000000004";

/// The app a server built from `files` serves.
fn app(files: &offgen_codegen::output::FileSet) -> &'static AppDef {
    offgen_codegen::backend::server::app_def::plan_of_build(files)
        .unwrap_or_else(|d| panic!("{}", d.message))
        .leak()
}

async fn exec(db: &Database, sql: &str) -> Result<(), sqlx::Error> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        Database::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        Database::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
}

/// One text value per row (PostgreSQL values cast to text by the query).
async fn texts(db: &Database, sql: &str) -> Vec<Option<String>> {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    match db {
        Database::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
        Database::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await.unwrap(),
    }
}

async fn upgrade_through_every_revision(url: &str) {
    let builds = support::builds(&(1..=4).map(support::revision).collect::<Vec<_>>());
    let db = Database::connect(url).await.unwrap();
    let pg = db.dialect() == Dialect::Postgres;
    let (uuid, xid) = if pg {
        ("::uuid", ", pg_current_xact_id()")
    } else {
        ("", "")
    };
    let xid_column = if pg { ", _offgen_xid" } else { "" };

    db.migrate(app(&builds[0])).await.unwrap();
    exec(
        &db,
        &format!(
            "INSERT INTO rangers (id, name, badge_number, version, updated_at, _offgen_seq{xid_column})
               VALUES ('{RANGER}'{uuid}, 'Ana', 'B-1', 1, 1, 1{xid});
             INSERT INTO patrol_routes (id, name, sector, version, updated_at, _offgen_seq{xid_column})
               VALUES ('{ROUTE}'{uuid}, 'Ridge', NULL, 1, 1, 2{xid});
             INSERT INTO observations (id, ranger, kind, latitude, longitude, notes, photo_url, count,
                                       recorded_at, modified_at, version, updated_at, _offgen_seq{xid_column})
               VALUES ('{OTHER}'{uuid}, '{RANGER}'{uuid}, 'other', -1.25, 36.5, NULL, 'a.jpg', 2, 1, 1, 1, 1, 3{xid}),
                      ('{TRACKS}'{uuid}, '{RANGER}'{uuid}, 'tracks', -1.5, 36.25, 'prints', NULL, 3, 1, 1, 1, 1, 4{xid});
             INSERT INTO _offgen_mutations (mutation_id, user_id, client_id, entity, row_id, result, created_at)
               VALUES ('m1', 'ana', 'd1', 'patrol_routes', '{ROUTE}', NULL, 1);"
        ),
    )
    .await
    .unwrap();

    // Each later revision's server starts on the database the one before left.
    for (revision, files) in builds.iter().enumerate().skip(1) {
        db.migrate(app(files))
            .await
            .unwrap_or_else(|e| panic!("revision {}: {e}", revision + 1));
    }

    let observations = texts(
        &db,
        "SELECT kind || '|' || notes || '|' || coalesce(photo_path, '-') || '|' || CAST(count AS TEXT) \
         || '|' || status || '|' || coalesce(CAST(route AS TEXT), '-') FROM observations ORDER BY id",
    )
    .await;
    assert_eq!(
        observations,
        [
            Some("wildlife||a.jpg|2.0|draft|-".to_owned()),
            Some("tracks|prints|-|3.0|draft|-".to_owned()),
        ]
        .map(|s| s.map(|s| if pg { s.replace(".0|", "|") } else { s })),
        "other folded into the default, notes required, photo renamed, count widened, status added"
    );
    assert_eq!(
        texts(&db, "SELECT name FROM routes").await,
        [Some("Ridge".to_owned())]
    );
    assert_eq!(
        texts(&db, "SELECT entity FROM _offgen_mutations").await,
        [Some("routes".to_owned())],
        "stored results follow the renamed entity"
    );
    assert!(
        exec(&db, "SELECT altitude_m FROM observations")
            .await
            .is_err(),
        "altitude_m is dropped"
    );
    let duplicate = exec(
        &db,
        &format!(
            "INSERT INTO rangers (id, name, badge_number, version, updated_at, _offgen_seq{xid_column})
               VALUES ('00000000-0000-4000-8000-000000000009'{uuid}, 'Ben', 'B-1', 1, 1, 9{xid})"
        ),
    )
    .await;
    assert!(duplicate.is_err(), "badge numbers became unique");
    if !pg {
        assert!(texts(&db, "PRAGMA foreign_key_check").await.is_empty());
        assert_eq!(
            texts(&db, "PRAGMA integrity_check").await,
            [Some("ok".to_owned())]
        );
    }
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn every_step_applies_on_sqlite_and_keeps_the_rows() {
    let dir = tempfile::tempdir().unwrap();
    upgrade_through_every_revision(&format!(
        "sqlite:{}",
        dir.path().join("server.db").display()
    ))
    .await;
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn every_step_applies_on_postgres_and_keeps_the_rows() {
    upgrade_through_every_revision(&fresh_postgres_database("offgen_server_steps").await).await;
}

/// Servers starting together on one new database: each step runs once, neither fails.
async fn migrate_from_two_servers_at_once(url: &str) {
    let builds = support::builds(&(1..=4).map(support::revision).collect::<Vec<_>>());
    let app = app(builds.last().unwrap());
    let (a, b) = (
        Database::connect(url).await.unwrap(),
        Database::connect(url).await.unwrap(),
    );
    let (ra, rb) = tokio::join!(a.migrate(app), b.migrate(app));
    ra.unwrap();
    rb.unwrap();
    assert_eq!(
        texts(&a, "SELECT name FROM _offgen_migrations ORDER BY number").await,
        app.migrations
            .sqlite
            .iter()
            .map(|m| Some(m.name.to_owned()))
            .collect::<Vec<_>>()
    );
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn two_servers_migrating_one_sqlite_database_at_once_apply_each_step_once() {
    let dir = tempfile::tempdir().unwrap();
    migrate_from_two_servers_at_once(&format!(
        "sqlite:{}",
        dir.path().join("server.db").display()
    ))
    .await;
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn two_servers_migrating_one_postgres_database_at_once_apply_each_step_once() {
    for _ in 0..5 {
        migrate_from_two_servers_at_once(&fresh_postgres_database("offgen_server_race").await)
            .await;
    }
}

/// A new, empty database on the test PostgreSQL server; its URL.
async fn fresh_postgres_database(prefix: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let admin = std::env::var("OFFGEN_TEST_DATABASE_URL").expect(
        "OFFGEN_TEST_DATABASE_URL is not set: run the tests with scripts/test.sh, which starts PostgreSQL",
    );
    let name = format!(
        "{prefix}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
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
    format!("{base}/{name}")
}

/// Both databases take and refuse the same enum values after every step: a value added at
/// step 2, another removed at step 4 (SQLite keeps enums as a CHECK, which only a table
/// rebuild can change).
async fn enum_values_are_enforced_alike_after_every_step(url: &str) {
    let builds = support::builds(&(1..=4).map(support::revision).collect::<Vec<_>>());
    let db = Database::connect(url).await.unwrap();
    let pg = db.dialect() == Dialect::Postgres;
    let (uuid, xid, xid_column) = if pg {
        ("::uuid", ", pg_current_xact_id()", ", _offgen_xid")
    } else {
        ("", "", "")
    };
    db.migrate(app(&builds[0])).await.unwrap();
    exec(
        &db,
        &format!(
            "INSERT INTO rangers (id, name, badge_number, version, updated_at, _offgen_seq{xid_column})
               VALUES ('{RANGER}'{uuid}, 'Ana', 'B-1', 1, 1, 1{xid})"
        ),
    )
    .await
    .unwrap();
    let mut n = 10;
    let mut insert = |kind: &str| {
        n += 1;
        format!(
            "INSERT INTO observations (id, ranger, kind, latitude, longitude, recorded_at, modified_at,
                                       version, updated_at, _offgen_seq{xid_column})
               VALUES ('00000000-0000-4000-8000-0000000000{n}'{uuid}, '{RANGER}'{uuid}, '{kind}',
                       0.5, 0.5, 1, 1, 1, 1, {n}{xid})"
        )
    };
    assert!(
        exec(&db, &insert("fire")).await.is_err(),
        "step 1 has no `fire`"
    );
    db.migrate(app(&builds[1])).await.unwrap();
    exec(&db, &insert("fire"))
        .await
        .unwrap_or_else(|e| panic!("step 2 added `fire`: {e}"));
    exec(&db, &insert("other")).await.unwrap();
    db.migrate(app(&builds[2])).await.unwrap();
    db.migrate(app(&builds[3])).await.unwrap();
    assert!(
        exec(&db, &insert("other")).await.is_err(),
        "step 4 removed `other`"
    );
    exec(&db, &insert("fire")).await.unwrap();
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn enum_values_are_enforced_alike_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    enum_values_are_enforced_alike_after_every_step(&format!(
        "sqlite:{}",
        dir.path().join("server.db").display()
    ))
    .await;
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn enum_values_are_enforced_alike_on_postgres() {
    enum_values_are_enforced_alike_after_every_step(
        &fresh_postgres_database("offgen_enum_steps").await,
    )
    .await;
}

/// A field that may be null and has a default, whose values a step removes: both databases
/// turn a removed value into the default (as the devices' own step does) and keep a null as
/// null.
async fn a_removed_value_of_a_nullable_field_becomes_its_default_alike(url: &str) {
    let before = "offgen: 1\napp: camp\nentities:\n  Tent:\n    fields:\n      colour: { type: enum, values: [red, blue, green], nullable: true, default: blue }\n";
    let after = format!(
        "{}migrate:\n  retype: [Tent.colour]\n",
        before.replace("[red, blue, green]", "[blue, green]")
    );
    let builds = support::builds(&[before.to_owned(), after]);
    let db = Database::connect(url).await.unwrap();
    let pg = db.dialect() == Dialect::Postgres;
    let (uuid, xid, xid_column) = if pg {
        ("::uuid", ", pg_current_xact_id()", ", _offgen_xid")
    } else {
        ("", "", "")
    };
    db.migrate(app(&builds[0])).await.unwrap();
    let rows: Vec<String> = [(1, "'red'"), (2, "'green'"), (3, "NULL")]
        .iter()
        .map(|(n, colour)| {
            format!(
                "INSERT INTO tents (id, colour, version, updated_at, _offgen_seq{xid_column})
                   VALUES ('00000000-0000-4000-8000-00000000000{n}'{uuid}, {colour}, 1, 1, {n}{xid});"
            )
        })
        .collect();
    exec(&db, &rows.join("\n")).await.unwrap();
    db.migrate(app(&builds[1])).await.unwrap();
    assert_eq!(
        texts(&db, "SELECT coalesce(colour, '-') FROM tents ORDER BY id").await,
        [Some("blue"), Some("green"), Some("-")].map(|s| s.map(str::to_owned))
    );
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn a_removed_value_of_a_nullable_field_becomes_its_default_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    a_removed_value_of_a_nullable_field_becomes_its_default_alike(&format!(
        "sqlite:{}",
        dir.path().join("server.db").display()
    ))
    .await;
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn a_removed_value_of_a_nullable_field_becomes_its_default_on_postgres() {
    a_removed_value_of_a_nullable_field_becomes_its_default_alike(
        &fresh_postgres_database("offgen_nullable_retype").await,
    )
    .await;
}

/// An `lww` row keeps each field's stamp by wire key: a renamed field takes its stamp along
/// (without one it would count as written at the row's last change), a field a step adds is
/// stamped with the row's first write, a dropped field's stamp goes.
async fn lww_stamps_follow_renamed_added_and_dropped_fields(url: &str) {
    let builds = support::builds(&(1..=4).map(support::revision).collect::<Vec<_>>());
    let db = Database::connect(url).await.unwrap();
    let pg = db.dialect() == Dialect::Postgres;
    let (uuid, xid, xid_column) = if pg {
        ("::uuid", ", pg_current_xact_id()", ", _offgen_xid")
    } else {
        ("", "", "")
    };
    db.migrate(app(&builds[0])).await.unwrap();
    exec(
        &db,
        &format!(
            "INSERT INTO rangers (id, name, badge_number, version, updated_at, _offgen_seq{xid_column})
               VALUES ('{RANGER}'{uuid}, 'Ana', 'B-1', 1, 1, 1{xid});
             INSERT INTO observations (id, ranger, kind, latitude, longitude, photo_url, recorded_at, modified_at,
                                       version, updated_at, _offgen_seq, _offgen_clock{xid_column})
               VALUES ('{OTHER}'{uuid}, '{RANGER}'{uuid}, 'wildlife', 0.5, 0.5, 'a.jpg', 1, 1, 2, 90, 2,
                       '{{\"photoUrl\": 10, \"latitude\": 10, \"modifiedAt\": 40}}'{xid})"
        ),
    )
    .await
    .unwrap();
    db.migrate(app(&builds[1])).await.unwrap();
    exec(
        &db,
        r#"UPDATE observations SET altitude_m = 1800.5,
             _offgen_clock = '{"photoUrl": 10, "latitude": 10, "modifiedAt": 40, "altitudeM": 50, "accuracyM": 10}'"#,
    )
    .await
    .unwrap();
    for files in &builds[2..] {
        db.migrate(app(files)).await.unwrap();
    }
    let clock = texts(&db, "SELECT CAST(_offgen_clock AS TEXT) FROM observations").await;
    let clock: Value = serde_json::from_str(clock[0].as_deref().unwrap()).unwrap();
    assert_eq!(
        clock,
        serde_json::json!({
            "photoPath": 10, "latitude": 10, "modifiedAt": 40,
            "accuracyM": 10, "status": 10, "route": 10
        }),
        "photoUrl is photoPath now; altitudeM is gone; the fields added since (accuracyM at \
         step 2, status at 3, route at 4) are stamped with the row's first write"
    );
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn lww_stamps_follow_renamed_added_and_dropped_fields_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    lww_stamps_follow_renamed_added_and_dropped_fields(&format!(
        "sqlite:{}",
        dir.path().join("server.db").display()
    ))
    .await;
}

#[tokio::test(crate = "offgen_runtime::server::tokio")]
async fn lww_stamps_follow_renamed_added_and_dropped_fields_on_postgres() {
    lww_stamps_follow_renamed_added_and_dropped_fields(
        &fresh_postgres_database("offgen_clock_keys").await,
    )
    .await;
}
