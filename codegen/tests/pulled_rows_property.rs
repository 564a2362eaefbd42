//! The client's page apply (records bound to the pulled-row statements of `sync.sql`, the
//! rest through `apply_pulled_records`) leaves a device exactly as `apply_pulled_records` of
//! the whole page does: a property test over random local states and random pages.
//!
//! Each case builds a device of the ranger example (a `version` entity with a unique field, a
//! `server_wins` one with a unique pair and a json field, an `lww` one with reals, a blob and
//! defaults) with random synced rows, local inserts, edits and deletes, entries in flight,
//! conflicts, notices, failed entries and clashes; copies it twice; and applies one random
//! page to each copy, one way each. The pages mix records that fit the statements with every
//! kind that must not: tombstones, missing keys, values of other types than their field's
//! (fractions for integers, objects for text, strings for reals), escapes, keys twice, older
//! versions, unique values another row holds, unknown entities, and records that make the
//! page fail. Both copies must then hold the same rows in every table, or both have failed.
//!
//! `OFFGEN_PULL_CASES` sets the number of local states (default 24, each with 9 pages) and
//! `OFFGEN_PULL_SEED` the seed, to replay or widen a run.

mod support;

use offgen_runtime::client::rusqlite::types::ValueRef;
use offgen_runtime::client::{ClientSchema, Device};
use serde_json::value::RawValue;

/// splitmix64: small, seeded, the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

fn id(n: usize) -> String {
    format!("00000000-0000-4000-8000-{n:012}")
}

/// Values of other types than a field's, and odd spellings of its own (JSON texts).
const ODD: &[&str] = &[
    "null",
    "12",
    "1.5",
    "2.0",
    "1e2",
    "-0",
    "true",
    "false",
    "\"7\"",
    "\"\"",
    "{\"a\": 1}",
    "[1, 2]",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "\"with \\\"quotes\\\" and \\n\"",
    "\"\\u00e9t\\u00e9 \\ud83d\\ude00\"",
    "\"\\ud800\"",
    "\"a\\u0000b\"",
    "\"é ü €\"",
];

const TEXTS: &[&str] = &[
    "\"Ana\"",
    "\"Ben\"",
    "\"north gate\"",
    "\"Zo\\u00eb\"",
    "\"é ü €\"",
];
const BADGES: &[&str] = &[
    "\"B-1\"", "\"B-2\"", "\"B-3\"", "\"B-4\"", "\"B-5\"", "\"B-6\"",
];
const SECTORS: &[&str] = &["\"north\"", "\"south\"", "\"east\""];
const ROUTE_NAMES: &[&str] = &["\"Ridge\"", "\"River\"", "\"Pass\""];
const JSONS: &[&str] = &[
    "{\"type\":\"LineString\",\"coordinates\":[[1,2],[3.0,4e1]]}",
    "{ \"spaced\" : [ 1 , 2 ] }",
    "[1,2]",
    "\"a string\"",
    "1.50",
    "7",
    "true",
    "false",
];
const REALS: &[&str] = &[
    "1.5",
    "-1.2863890000000001",
    "0",
    "5",
    "-0.0",
    "1e-300",
    "1.7976931348623157e308",
    "36.817223",
];
const NULLABLE_REALS: &[&str] = &["1.25", "-0.5", "null"];
const BOOLS: &[&str] = &["true", "false"];
const INTS: &[&str] = &["1", "0", "-5", "42", "1700000000000"];
const BLOBS: &[&str] = &["\"00ff\"", "\"ABCD\"", "null"];
const KINDS: &[&str] = &["\"wildlife\"", "\"tracks\"", "\"fire\""];
const DAYS: &[&str] = &["\"2026-12-01\"", "null"];

/// A field: its wire key and its usual values.
struct Field {
    key: &'static str,
    values: Vec<&'static str>,
}

fn field(key: &'static str, values: &[&'static str]) -> Field {
    Field {
        key,
        values: values.to_vec(),
    }
}

/// The ranger example's entities: table and fields.
const PHOTOS: &[&str] = &[
    "null",
    "{\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\",\"size\":4,\"mediaType\":\"image/jpeg\"}",
    "{\"size\":5,\"sha256\":\"2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824\",\"mediaType\":\"image/png\"}",
];

fn entities() -> Vec<(&'static str, Vec<Field>)> {
    let ids: Vec<&'static str> = (0..4)
        .map(|n| &*Box::leak(format!("\"{}\"", id(n)).into_boxed_str()))
        .collect();
    let mut with_null = ids.clone();
    with_null.push("null");
    vec![
        (
            "rangers",
            vec![
                field("name", TEXTS),
                field("badgeNumber", BADGES),
                field("station", &["\"HQ\"", "null"]),
                field("active", BOOLS),
            ],
        ),
        (
            "patrol_routes",
            vec![
                field("name", ROUTE_NAMES),
                field("sector", SECTORS),
                field("geometry", JSONS),
                field("lengthKm", NULLABLE_REALS),
                field("difficulty", &["\"easy\"", "\"hard\""]),
                field("retired", BOOLS),
            ],
        ),
        (
            "observations",
            vec![
                field("ranger", &ids),
                field("route", &with_null),
                field("kind", KINDS),
                field("species", &["\"elephant\"", "null"]),
                field("count", INTS),
                field("latitude", REALS),
                field("longitude", REALS),
                field("accuracyM", NULLABLE_REALS),
                field("altitudeM", NULLABLE_REALS),
                field("notes", &["\"line\\nbreak\"", "\"plain\"", "null"]),
                field("photoPath", &["null", "\"/p.jpg\""]),
                // Attachment references: in the device's key order, and in another (a
                // PostgreSQL server's jsonb gives its keys back sorted by length).
                field("photo", PHOTOS),
                field("thumbnail", BLOBS),
                field("sightingId", &with_null),
                field("patrolDay", DAYS),
                field("photoUpload", &["\"none\"", "\"pending\""]),
                field("status", &["\"draft\"", "\"final\""]),
                field("recordedAt", INTS),
                field("modifiedAt", INTS),
            ],
        ),
    ]
}

/// How odd the records are: the first pages of a case are plain, which lets most records go
/// the pulled-row way; later ones grow stranger.
#[derive(Clone, Copy)]
struct Oddness(u64);

/// A record's JSON text.
fn record(rng: &mut Rng, entities: &[(&'static str, Vec<Field>)], odd: Oddness) -> String {
    let (table, fields) = &entities[rng.below(entities.len())];
    let table = if rng.chance(odd.0 / 4) {
        "cameras"
    } else {
        table
    };
    let row = id(rng.below(10));
    record_of(rng, table, fields, &row, odd)
}

/// A record of `table` for the row `row`.
fn record_of(rng: &mut Rng, table: &str, fields: &[Field], row: &str, odd: Oddness) -> String {
    let mut data: Vec<(String, String)> = Vec::new();
    for f in fields {
        if rng.chance(odd.0 / 8) {
            continue; // a key the server did not send
        }
        let value = if rng.chance(odd.0 / 8) {
            rng.pick(ODD)
        } else {
            f.values[rng.below(f.values.len())]
        };
        data.push((format!("\"{}\"", f.key), value.to_owned()));
    }
    if rng.chance(odd.0 / 3) && !data.is_empty() {
        // A key twice, the same or another value.
        let at = rng.below(data.len());
        let twin = (data[at].0.clone(), rng.pick(ODD).to_owned());
        let to = rng.below(data.len() + 1);
        data.insert(to, twin);
    }
    if rng.chance(odd.0 / 3) && !data.is_empty() {
        // A key spelled with an escape (`name` as `na\u006de`), before or after the plain one.
        let at = rng.below(data.len());
        let key = data[at].0.clone();
        let escaped = format!("\"\\u{:04x}{}", key.as_bytes()[1], &key[2..]);
        data.insert(
            rng.below(data.len() + 1),
            (escaped, rng.pick(ODD).to_owned()),
        );
    }
    if rng.chance(odd.0 / 2) {
        data.push(("\"fromANewerServer\"".into(), "[1]".into()));
    }
    if rng.chance(odd.0 / 4) {
        let at = rng.below(data.len() + 1).min(data.len());
        data.rotate_left(at);
    }
    let space = if rng.chance(20) { " " } else { "" };
    let data_text = match rng.next() % 100 {
        n if n < odd.0 / 6 => "null".to_owned(),
        n if n < odd.0 / 5 => "\"data\"".to_owned(),
        _ => format!(
            "{{{}}}",
            data.iter()
                .map(|(k, v)| format!("{k}:{space}{v}"))
                .collect::<Vec<_>>()
                .join(&format!(",{space}"))
        ),
    };
    let mut envelope: Vec<(String, String)> = vec![
        ("\"entity\"".into(), format!("\"{table}\"")),
        ("\"id\"".into(), format!("\"{row}\"")),
        ("\"version\"".into(), rng.below(7).to_string()),
        (
            "\"deleted\"".into(),
            if rng.chance(12) { "true" } else { "false" }.into(),
        ),
        ("\"updatedAt\"".into(), (1_000 + rng.below(50)).to_string()),
        ("\"data\"".into(), data_text),
    ];
    if rng.chance(odd.0 / 2) {
        let at = rng.below(envelope.len());
        let odd_value = match envelope[at].0.as_str() {
            "\"deleted\"" => rng.pick(&["null", "0", "1", "\"false\""]),
            "\"updatedAt\"" => rng.pick(&["null", "\"x\"", "1.5", "-3"]),
            "\"version\"" => rng.pick(&["\"3\"", "2.0", "null", "9223372036854775807"]),
            "\"id\"" => rng.pick(&["5", "null", "\"not-a-uuid\""]),
            _ => rng.pick(ODD),
        };
        match rng.below(3) {
            0 => {
                envelope.remove(at);
            }
            1 => envelope[at].1 = odd_value.to_owned(),
            _ => envelope.push((envelope[at].0.clone(), odd_value.to_owned())),
        }
    }
    if rng.chance(10) {
        envelope.push(("\"deletedAt\"".into(), "2000".into()));
    }
    if rng.chance(odd.0 / 4) {
        envelope.rotate_left(2);
    }
    format!(
        "{{{}}}",
        envelope
            .iter()
            .map(|(k, v)| format!("{k}:{space}{v}"))
            .collect::<Vec<_>>()
            .join(&format!(",{space}"))
    )
}

fn page(rng: &mut Rng, entities: &[(&'static str, Vec<Field>)], odd: Oddness) -> String {
    let records: Vec<String> = (0..1 + rng.below(14))
        .map(|_| record(rng, entities, odd))
        .collect();
    format!("[{}]", records.join(", "))
}

/// Runs `name` of sync.sql on the device with named parameters; the statement's error, if any.
fn statement(
    device: &Device,
    name: &str,
    params: &[(&str, &dyn offgen_runtime::client::rusqlite::ToSql)],
) -> Result<usize, String> {
    let sql = &device.schema().statement(name).expect("in sync.sql").sql;
    device
        .connection()
        .prepare_cached(sql)
        .and_then(|mut s| s.execute(params))
        .map_err(|e| e.to_string())
}

/// A device with random local state: synced rows, local writes, results of a push (accepted,
/// conflicts, rejections), and clashes.
fn local_state(rng: &mut Rng, schema: &ClientSchema) -> Device {
    let entities = entities();
    let device = Device::open_in_memory(schema).unwrap();
    device.set_fixed_clock(Some(5_000)).unwrap();
    let conn = device.connection();
    // Rows from the server, the general way.
    for _ in 0..3 {
        let text = page(rng, &entities, Oddness(0));
        conn.execute_batch("BEGIN").unwrap();
        let applied = statement(&device, "apply_pulled_records", &[(":records", &text)]);
        conn.execute_batch(if applied.is_ok() {
            "COMMIT"
        } else {
            "ROLLBACK"
        })
        .unwrap();
        statement(&device, "clear_inbox", &[]).unwrap();
    }
    // The app's own writes; some fail (a taken id or unique value), as they would in an app.
    for _ in 0..rng.below(10) {
        let n = rng.below(6);
        let sql = match rng.below(7) {
            0 => format!(
                "INSERT INTO rangers (id, name, badge_number) VALUES ('{}', 'Local', 'B-{}')",
                id(n),
                1 + rng.below(3)
            ),
            1 => format!(
                "INSERT INTO patrol_routes (id, name, sector, geometry) VALUES ('{}', '{}', 'north', '[]')",
                id(n),
                rng.pick(&["Ridge", "River"])
            ),
            2 => format!(
                "INSERT INTO observations (id, ranger, kind, latitude, longitude, recorded_at, modified_at) VALUES ('{}', '{}', 'fire', 1.5, 2.5, 10, 10)",
                id(n),
                id(0)
            ),
            3 => format!(
                "UPDATE {} SET name = 'edited' WHERE id = '{}'",
                rng.pick(&["rangers", "patrol_routes"]),
                id(n)
            ),
            4 => format!("UPDATE observations SET count = 9 WHERE id = '{}'", id(n)),
            5 => format!(
                "UPDATE {} SET deleted_at = 7 WHERE id = '{}'",
                rng.pick(&["rangers", "patrol_routes", "observations"]),
                id(n)
            ),
            _ => format!(
                "DELETE FROM {} WHERE id = '{}'",
                rng.pick(&["rangers", "patrol_routes", "observations"]),
                id(n)
            ),
        };
        let _ = conn.execute_batch(&sql);
    }
    // A push: some entries claimed, each answered at random.
    let (now, limit, max_bytes, claim) = (6_000i64, 1 + rng.below(6) as i64, 1i64 << 40, "c");
    statement(
        &device,
        "prepare_batch",
        &[(":now", &now), (":limit", &limit)],
    )
    .unwrap();
    statement(
        &device,
        "claim_batch",
        &[
            (":now", &now),
            (":limit", &limit),
            (":max_bytes", &max_bytes),
            (":claim", &claim),
        ],
    )
    .unwrap();
    let claimed: Vec<(String, String, String)> = conn
        .prepare(&device.schema().statement("claimed_entries").unwrap().sql)
        .unwrap()
        .query_map([claim], |r| {
            Ok((r.get("mutation_id")?, r.get("entity")?, r.get("row_id")?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let results: Vec<String> = claimed
        .iter()
        .map(|(mutation, entity, row)| {
            let version = 1 + rng.below(4);
            match rng.below(3) {
                0 => format!(
                    r#"{{"mutationId":"{mutation}","id":"{row}","status":"accepted","version":{version}}}"#
                ),
                1 => format!(
                    r#"{{"mutationId":"{mutation}","id":"{row}","status":"rejected","error":{{"code":"invalid-data","message":"no"}}}}"#
                ),
                _ => {
                    let fields = &entities.iter().find(|(t, _)| t == entity).expect("known").1;
                    let record = record_of(rng, entity, fields, row, Oddness(0));
                    format!(
                        r#"{{"mutationId":"{mutation}","id":"{row}","status":"conflict","version":{version},"record":{record}}}"#
                    )
                }
            }
        })
        .collect();
    let results = format!("[{}]", results.join(","));
    statement(
        &device,
        "apply_push_results",
        &[(":results", &results), (":now", &now)],
    )
    .unwrap();
    statement(&device, "clear_push_results", &[]).unwrap();
    // More rows from the server, some waiting for a unique value a local row holds.
    let text = page(rng, &entities, Oddness(0));
    conn.execute_batch("BEGIN").unwrap();
    let applied = statement(&device, "apply_pulled_records", &[(":records", &text)]);
    conn.execute_batch(if applied.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    })
    .unwrap();
    statement(&device, "clear_inbox", &[]).unwrap();
    device
}

/// Every table's rows, each as text, sorted (tables without an integer key have no order).
fn dump(device: &Device) -> Vec<(String, Vec<String>)> {
    let conn = device.connection();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    tables
        .into_iter()
        .map(|table| {
            let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
            let columns = stmt.column_count();
            let mut rows: Vec<String> = stmt
                .query_map([], |r| {
                    // Bytes as they are: text need not be UTF-8 (a lone surrogate's escape).
                    let values: Vec<String> = (0..columns)
                        .map(|i| match r.get_ref(i).unwrap() {
                            ValueRef::Real(x) => format!("Real({})", x.to_bits()),
                            ValueRef::Text(t) => {
                                format!("Text({:?})", String::from_utf8_lossy(t))
                            }
                            other => format!("{other:?}"),
                        })
                        .collect();
                    Ok(values.join(" | "))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect();
            rows.sort();
            (table, rows)
        })
        .collect()
}

/// Every table's rows, by table.
type Tables = Vec<(String, Vec<String>)>;

/// Applies `text` one way (returning how many records went through a pulled-row statement)
/// in a transaction, and every table's rows as it left them; then rolls it back.
fn apply(device: &Device, text: &str, rows: bool) -> (Result<usize, String>, Tables) {
    let conn = device.connection();
    conn.execute_batch("BEGIN IMMEDIATE").unwrap();
    let applied = if rows {
        let records: &RawValue = serde_json::from_str(text).unwrap();
        device
            .apply_pulled_page(records)
            .map(|a| a.by_statement)
            .map_err(|e| e.to_string())
    } else {
        statement(device, "apply_pulled_records", &[(":records", &text)]).map(|_| 0)
    };
    // A failed page is rolled back whole (the sync's transaction): nothing of it to compare.
    let tables = if applied.is_ok() {
        dump(device)
    } else {
        Vec::new()
    };
    conn.execute_batch("ROLLBACK").unwrap();
    (applied, tables)
}

fn count(device: &Device, sql: &str) -> i64 {
    device
        .connection()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

#[test]
fn the_page_apply_leaves_every_table_as_the_pull_triggers_do() {
    let cases: usize = std::env::var("OFFGEN_PULL_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let seed: u64 = std::env::var("OFFGEN_PULL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x000f_f9e4);
    let files = support::build(&support::ranger_spec());
    let schema = support::client_schema(&files);
    let entities = entities();
    let mut rng = Rng(seed);
    let (mut pages, mut fast, mut failed, mut local, mut clashes) = (0, 0, 0, 0i64, 0i64);
    for case in 0..cases {
        let device = local_state(&mut rng, &schema);
        local += count(
            &device,
            "SELECT (SELECT count(*) FROM _offgen_outbox) + (SELECT count(*) FROM _offgen_conflicts) + (SELECT count(*) FROM _offgen_clashes) + (SELECT count(*) FROM _offgen_notices)",
        );
        clashes += count(&device, "SELECT count(*) FROM _offgen_clashes");
        let before = dump(&device);
        for (round, odd) in [0, 0, 0, 5, 10, 15, 25, 40, 60].into_iter().enumerate() {
            let text = page(&mut rng, &entities, Oddness(odd));
            let (expected, want) = apply(&device, &text, false);
            let (got, have) = apply(&device, &text, true);
            let at = format!("seed {seed}, case {case}, page {round}");
            assert_eq!(
                expected.is_ok(),
                got.is_ok(),
                "{at}: apply_pulled_records {expected:?}, the page apply {got:?}\n{text}"
            );
            for ((table, a), (_, b)) in want.iter().zip(&have) {
                assert_eq!(a, b, "{at}: table {table} differs\n{text}");
            }
            assert_eq!(dump(&device), before, "{at}: not rolled back");
            pages += 1;
            failed += usize::from(expected.is_err());
            fast += got.unwrap_or(0);
        }
    }
    println!(
        "{pages} pages, {failed} failed both ways, {fast} records by a pulled-row statement, {local} local entries"
    );
    // The test is no test unless both ways were taken and both kinds of outcome seen.
    assert!(
        failed > 0 && failed < pages / 2,
        "{failed} of {pages} pages failed"
    );
    assert!(local > cases as i64, "{local} local entries");
    assert!(clashes > 0, "no clash waiting");
    assert!(
        fast > pages,
        "{fast} records went through a pulled-row statement"
    );
}
