//! What exact reals cost the server's SQLite, per value: building record JSON and reading rows
//! from a JSON parameter, three ways each, in the same run on the same rows.
//!
//! - JSON out: SQLite's own `json_object` over the REAL (15 significant digits: the lossy
//!   baseline), the earlier SQL-only encoder (`printf` with 15, 16, then 17 digits, checked by a
//!   `CAST` back; exact only for moderate exponents), and `offgen_real_json` (the runtime's).
//! - JSON in: `json_extract` (SQLite's parser, the earlier way) against
//!   `offgen_real(value -> '$.x')`.
//!
//! `cargo bench -p offgen-runtime --features server --bench sqlite_reals`

use std::time::{Duration, Instant};

use offgen_runtime::server::{Database, tokio};

const ROWS: usize = 100_000;
const RUNS: usize = 7;

fn printf_encoder(value: &str) -> String {
    let digits = |n: u8| format!("printf('%!.{n}g', {value})");
    format!(
        "CASE WHEN {value} IS NULL THEN NULL WHEN CAST({p15} AS REAL) = {value} THEN json({p15}) \
         WHEN CAST({p16} AS REAL) = {value} THEN json({p16}) ELSE json({p17}) END",
        p15 = digits(15),
        p16 = digits(16),
        p17 = digits(17)
    )
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

#[tokio::main(crate = "offgen_runtime::server::tokio")]
async fn main() {
    if std::env::args().any(|a| a == "--list") {
        println!("sqlite_reals: benchmark");
        return;
    }
    let dir = tempfile_dir();
    let url = format!("sqlite:{}/reals.db", dir.display());
    let db = Database::connect(&url).await.unwrap();
    let Database::Sqlite(pool) = &db else {
        unreachable!()
    };
    sqlx::raw_sql("CREATE TABLE t (a NOT NULL, b NOT NULL, c NOT NULL)")
        .execute(pool)
        .await
        .unwrap();
    // GPS-like values and random bit patterns (every exponent), from a fixed seed.
    let mut state = 0x5eed_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut value = move |i: usize| loop {
        let bits = next();
        let x = if i.is_multiple_of(2) {
            (bits >> 11) as f64 / (1u64 << 53) as f64 * 180.0 - 90.0
        } else {
            f64::from_bits(bits)
        };
        if x.is_finite() {
            return x;
        }
    };
    let rows: Vec<[f64; 3]> = (0..ROWS)
        .map(|i| [value(i), value(i + 1), value(i)])
        .collect();
    let json = serde_json::to_string(
        &rows
            .iter()
            .map(|r| serde_json::json!({"a": r[0], "b": r[1], "c": r[2]}))
            .collect::<Vec<_>>(),
    )
    .unwrap();

    let out = |encode: &dyn Fn(&str) -> String| {
        format!(
            "SELECT json_object('a', {}, 'b', {}, 'c', {}) FROM t",
            encode("a"),
            encode("b"),
            encode("c")
        )
    };
    let outs = [
        ("json_object (lossy)", out(&|c| c.to_owned())),
        ("printf 15/16/17", out(&printf_encoder)),
        (
            "offgen_real_json",
            out(&|c| format!("json(offgen_real_json({c}))")),
        ),
    ];
    let ins = [
        (
            "json_extract",
            "INSERT INTO t SELECT json_extract(j.value, '$.a'), json_extract(j.value, '$.b'), json_extract(j.value, '$.c') FROM jsonb_each(?1) AS j",
        ),
        (
            "offgen_real",
            "INSERT INTO t SELECT offgen_real(j.value -> '$.a'), offgen_real(j.value -> '$.b'), offgen_real(j.value -> '$.c') FROM jsonb_each(?1) AS j",
        ),
    ];
    let mut in_times = vec![Vec::new(); ins.len()];
    let mut out_times = vec![Vec::new(); outs.len()];
    for run in 0..RUNS {
        // Each way in turn, the order shifting every run.
        for k in 0..ins.len() {
            let i = (k + run) % ins.len();
            sqlx::raw_sql("DELETE FROM t").execute(pool).await.unwrap();
            let start = Instant::now();
            sqlx::query(sqlx::AssertSqlSafe(ins[i].1))
                .bind(&json)
                .execute(pool)
                .await
                .unwrap();
            in_times[i].push(start.elapsed());
        }
        for k in 0..outs.len() {
            let i = (k + run) % outs.len();
            let start = Instant::now();
            let got: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(outs[i].1.clone()))
                .fetch_all(pool)
                .await
                .unwrap();
            out_times[i].push(start.elapsed());
            assert_eq!(got.len(), ROWS);
        }
    }
    let per_value = |d: Duration| d.as_secs_f64() * 1e9 / (ROWS * 3) as f64;
    println!(
        "SQLite, {ROWS} rows of 3 reals (half GPS-like, half random bit patterns), median of {RUNS}"
    );
    let base = per_value(median(out_times[0].clone()));
    for (i, (name, _)) in outs.iter().enumerate() {
        let ns = per_value(median(out_times[i].clone()));
        println!(
            "JSON out  {name:<20} {ns:>7.0} ns per value   {:.2}x the lossy baseline",
            ns / base
        );
    }
    let base = per_value(median(in_times[0].clone()));
    for (i, (name, _)) in ins.iter().enumerate() {
        let ns = per_value(median(in_times[i].clone()));
        println!(
            "JSON in   {name:<20} {ns:>7.0} ns per value   {:.2}x json_extract",
            ns / base
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("offgen-reals-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
