//! `GET /sync/pull`: changed rows of every entity the user may see, oldest change first.

use super::db::{Arg, Database, Dialect};
use super::problem::Problem;
use crate::model::{AppDef, Dialects};
use crate::values::is_canonical_uuid;

pub use crate::limits::{DEFAULT_PAGE, MAX_PAGE};

/// A position in the change stream. SQLite: the change counter (`s<seq>`). PostgreSQL: the
/// writing transaction's id and the sequence value (`x<xid>.<seq>`), see docs/protocol.md.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    xid: u64,
    seq: i64,
}

fn parse_cursor(text: &str, dialect: Dialect) -> Result<Cursor, Problem> {
    let bad = || Problem::bad_request(format!("`{text}` is not a cursor this server gave out"));
    if text.is_empty() {
        return Ok(Cursor { xid: 0, seq: 0 });
    }
    match dialect {
        Dialect::Sqlite => {
            let seq = text
                .strip_prefix('s')
                .and_then(|s| s.parse().ok())
                .ok_or_else(bad)?;
            Ok(Cursor { xid: 0, seq })
        }
        Dialect::Postgres => {
            let (xid, seq) = text
                .strip_prefix('x')
                .and_then(|s| s.split_once('.'))
                .ok_or_else(bad)?;
            Ok(Cursor {
                xid: xid.parse().map_err(|_| bad())?,
                seq: seq.parse().map_err(|_| bad())?,
            })
        }
    }
}

fn format_cursor(cursor: Cursor, dialect: Dialect) -> String {
    match dialect {
        Dialect::Sqlite => format!("s{}", cursor.seq),
        Dialect::Postgres => format!("x{}.{}", cursor.xid, cursor.seq),
    }
}

/// How far the change stream reaches: SQLite's change counter; PostgreSQL's next transaction
/// id and the change sequence's last value.
const HEAD: Dialects<&str> = Dialects {
    sqlite: "SELECT \"value\" AS \"seq\" FROM \"_offgen_counter\" WHERE \"id\" = 1",
    postgres: "SELECT pg_snapshot_xmax(pg_current_snapshot())::text AS \"xid\", (SELECT \"last_value\" FROM \"_offgen_seq\") AS \"seq\"",
};

/// One page of changes after `cursor`, as the response body. The records' JSON is built by
/// the database and only concatenated here: parsing and printing it again in Rust cost more
/// than the query itself.
pub async fn pull(
    app: &'static AppDef,
    db: &Database,
    user: &str,
    cursor: &str,
    limit: usize,
) -> Result<String, Problem> {
    let dialect = db.dialect();
    let start = parse_cursor(cursor, dialect)?;
    let limit = limit.clamp(1, MAX_PAGE);
    // An owner field of type uuid cannot equal a user id that is not one: bind NULL instead
    // of letting PostgreSQL fail the cast.
    let user_uuid = is_canonical_uuid(user).then(|| user.to_owned());
    let args = match dialect {
        Dialect::Sqlite => vec![
            Arg::Int(start.seq),
            Arg::Int(limit as i64 + 1),
            Arg::Text(user.to_owned()),
            Arg::OptText(user_uuid),
        ],
        Dialect::Postgres => vec![
            Arg::Text(start.xid.to_string()),
            Arg::Int(start.seq),
            Arg::Int(limit as i64 + 1),
            Arg::Text(user.to_owned()),
            Arg::OptText(user_uuid),
        ],
    };
    let mut tx = db.begin_read().await?;
    let rows = tx.rows(app.pull, &args).await?;
    // A cursor past every change is one this server never gave out (forged, or from another
    // database): answering it with empty pages would leave a device waiting, silently, for
    // changes it will never see. Only empty pages are checked, so the check costs nothing
    // while there is something to send.
    if rows.is_empty() && start != (Cursor { xid: 0, seq: 0 }) {
        let head = tx.rows(HEAD, &[]).await?;
        let head = head
            .first()
            .ok_or_else(|| Problem::internal("no change head"))?;
        let from_the_future = match dialect {
            Dialect::Sqlite => start.seq > head.int("seq")?,
            Dialect::Postgres => {
                let next_xid: u64 = head
                    .text("xid")?
                    .parse()
                    .map_err(|_| Problem::internal("bad xid"))?;
                start.xid >= next_xid || start.seq > head.int("seq")?
            }
        };
        if from_the_future {
            tx.commit().await?;
            return Err(Problem::bad_request(format!(
                "`{cursor}` is not a cursor this server gave out: it is past every change"
            )));
        }
    }
    tx.commit().await?;
    let has_more = rows.len() > limit;
    let mut body = String::from("{\"records\":[");
    let mut last = start;
    for (i, row) in rows.iter().take(limit).enumerate() {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&row.text("record")?);
        last = Cursor {
            xid: match dialect {
                Dialect::Sqlite => 0,
                Dialect::Postgres => row
                    .text("cursor_xid")?
                    .parse()
                    .map_err(|_| Problem::internal("bad xid"))?,
            },
            seq: row.int("cursor_seq")?,
        };
    }
    body.push_str("],\"cursor\":");
    body.push_str(&serde_json::to_string(&format_cursor(last, dialect)).unwrap_or_default());
    body.push_str(if has_more {
        ",\"hasMore\":true"
    } else {
        ",\"hasMore\":false"
    });
    // Devices correct their clocks with it (the stamps of lww writes are in server time).
    body.push_str(&format!(",\"serverTime\":{}}}", super::now_ms()));
    Ok(body)
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_foreign_ones_are_refused() {
        let c = Cursor { xid: 812, seq: 99 };
        assert_eq!(
            parse_cursor(&format_cursor(c, Dialect::Postgres), Dialect::Postgres).unwrap(),
            c
        );
        let s = Cursor { xid: 0, seq: 7 };
        assert_eq!(
            parse_cursor(&format_cursor(s, Dialect::Sqlite), Dialect::Sqlite).unwrap(),
            s
        );
        assert_eq!(
            parse_cursor("", Dialect::Postgres).unwrap(),
            Cursor { xid: 0, seq: 0 }
        );
        for bad in ["7", "s7", "x1", "x1.2.3", "xa.1"] {
            assert!(parse_cursor(bad, Dialect::Postgres).is_err(), "{bad}");
        }
        assert!(parse_cursor("x1.2", Dialect::Sqlite).is_err());
        assert!(parse_cursor("s1", Dialect::Postgres).is_err());
    }
}
