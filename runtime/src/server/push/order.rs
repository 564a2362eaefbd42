//! Where each write goes in the change stream that pulls read.

use crate::model::Dialects;
use crate::server::db::{Arg, Dialect, Tx};

/// The first of `count` change-sequence values. On SQLite writes are serialised, so a
/// counter bumped in the writing transaction orders changes by commit. On PostgreSQL 1: the
/// rows are numbered from 1 in batch order, and the write statement draws as many values from
/// a sequence, hands them out in that order and stamps the transaction id beside them.
pub(super) async fn next_sequence(tx: &mut Tx, count: i64) -> Result<i64, sqlx::Error> {
    if tx.dialect() == Dialect::Postgres {
        return Ok(1);
    }
    if count == 0 {
        return Ok(0);
    }
    let row = tx
        .rows(
            Dialects {
                sqlite: "UPDATE \"_offgen_counter\" SET \"value\" = \"value\" + ?1 WHERE \"id\" = 1 RETURNING \"value\"",
                postgres: "",
            },
            &[Arg::Int(count)],
        )
        .await?;
    let last = row
        .first()
        .map(|r| r.int("value"))
        .transpose()?
        .unwrap_or(count);
    Ok(last - count + 1)
}
