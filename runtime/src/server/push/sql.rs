//! The engine's own statements (the entities' come from generated code): the locks, and the
//! idempotency records and the audit where a push does not write them in the app's
//! generated write statement (SQLite, and mutations that are not decided).

use crate::model::Dialects;

impl<T: Copy> Dialects<T> {
    /// Applies `f` to both.
    pub fn map<U>(self, f: impl Fn(T) -> U) -> Dialects<U> {
        Dialects {
            sqlite: f(self.sqlite),
            postgres: f(self.postgres),
        }
    }
}

/// Transaction-scoped advisory locks on the batch's mutation ids, in a fixed order (so two
/// batches sharing ids cannot deadlock). Only run on PostgreSQL.
pub(super) const LOCK: Dialects<&str> = Dialects {
    sqlite: "",
    postgres: "SELECT count(pg_advisory_xact_lock(hashtextextended(ids.v, 0))) AS \"locked\" FROM (SELECT jsonb_array_elements_text($1::jsonb) AS v ORDER BY 1) AS ids",
};

pub(super) const STORED: Dialects<&str> = Dialects {
    sqlite: "SELECT \"mutation_id\", \"user_id\", \"result\" FROM \"_offgen_mutations\" WHERE \"mutation_id\" IN (SELECT \"value\" FROM json_each(?1))",
    postgres: "SELECT \"mutation_id\", \"user_id\", \"result\" FROM \"_offgen_mutations\" WHERE \"mutation_id\" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
};

pub(super) const KEEP_RESULTS: Dialects<&str> = Dialects {
    sqlite: "INSERT INTO \"_offgen_mutations\" (\"mutation_id\", \"user_id\", \"client_id\", \"entity\", \"row_id\", \"result\", \"created_at\") SELECT json_extract(\"value\", '$.mutationId'), json_extract(\"value\", '$.userId'), json_extract(\"value\", '$.clientId'), json_extract(\"value\", '$.entity'), json_extract(\"value\", '$.rowId'), json_extract(\"value\", '$.result'), json_extract(\"value\", '$.createdAt') FROM jsonb_each(?1)",
    postgres: "INSERT INTO \"_offgen_mutations\" (\"mutation_id\", \"user_id\", \"client_id\", \"entity\", \"row_id\", \"result\", \"created_at\") SELECT r.\"mutationId\", r.\"userId\", r.\"clientId\", r.\"entity\", r.\"rowId\", r.\"result\", r.\"createdAt\" FROM json_to_recordset($1::json) AS r(\"mutationId\" text, \"userId\" text, \"clientId\" text, \"entity\" text, \"rowId\" text, \"result\" text, \"createdAt\" bigint)",
};

pub(super) const AUDIT: Dialects<&str> = Dialects {
    sqlite: "INSERT INTO \"_offgen_audit\" (\"entity\", \"row_id\", \"mutation_id\", \"user_id\", \"client_id\", \"reason\", \"losing_data\", \"winning_version\", \"created_at\") SELECT json_extract(\"value\", '$.entity'), json_extract(\"value\", '$.rowId'), json_extract(\"value\", '$.mutationId'), json_extract(\"value\", '$.userId'), json_extract(\"value\", '$.clientId'), json_extract(\"value\", '$.reason'), json(json_extract(\"value\", '$.losingData')), json_extract(\"value\", '$.winningVersion'), json_extract(\"value\", '$.createdAt') FROM jsonb_each(?1)",
    postgres: "INSERT INTO \"_offgen_audit\" (\"entity\", \"row_id\", \"mutation_id\", \"user_id\", \"client_id\", \"reason\", \"losing_data\", \"winning_version\", \"created_at\") SELECT r.\"entity\", r.\"rowId\"::uuid, r.\"mutationId\", r.\"userId\", r.\"clientId\", r.\"reason\", r.\"losingData\", r.\"winningVersion\", r.\"createdAt\" FROM json_to_recordset($1::json) AS r(\"entity\" text, \"rowId\" text, \"mutationId\" text, \"userId\" text, \"clientId\" text, \"reason\" text, \"losingData\" jsonb, \"winningVersion\" bigint, \"createdAt\" bigint)",
};
