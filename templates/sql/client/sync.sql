-- {{ marker }}. Do not edit.
--
-- The client sync algorithm of {{ app }}, as named SQL statements. The Dart client and the Rust
-- reference client run these verbatim, so both behave the same. Each statement is one SQL
-- statement; `-- name:` starts it, `-- params:` lists its parameters in binding order (bind by
-- name, or by position in that order), `-- returns:` its columns.
--
-- Entities: {{ entities }}.
--
-- Everything else happens in triggers: local writes queue themselves in `_offgen_outbox`,
-- rows show their state in `sync_status`, and records handed to `_offgen_inbox` or results
-- handed to `_offgen_push_results` are applied by per-entity triggers.
--
-- The algorithm (each numbered step in one transaction; times are epoch milliseconds):
--
--   On start:  recover_stale_inflight(:stale_before = now)   -- a killed app leaves entries in flight
--   Push:      1. claim_batch(:now, :limit), then claimed_entries() -> entries; send them with get_client_id() as
--                 POST /sync/push {clientId, mutations: [{mutationId, entity, id: row_id, op,
--                 baseVersion: base_version, data: payload}]}
--              2a. got a response: apply_push_results(:results = the response's `results` array),
--                 then clear_push_results()
--              2b. no response (no network, timeout, 5xx, 401): release_inflight(); retry later
--                 with backoff. Transport failures never count as attempts. A lost response is
--                 harmless: the entries are sent again with the same mutation ids, and the
--                 server answers with its first result.
--              Repeat while claim_batch returns entries.
--   Pull:      1. get_pull_cursor() -> cursor; GET /sync/pull?cursor=<cursor>&limit=N
--              2. apply_pulled_records(:records = the page's `records` array),
--                 unknown_pulled_records() (log them), clear_inbox(),
--                 set_pull_cursor(:cursor = the page's `cursor`), all in one transaction
--              Repeat while hasMore.
--   App:       sync_stats(:now), list_failed(), retry_failed(:seq), discard_failed(:seq),
--              list_conflicts(), resolve_conflict(:entity, :row_id, :resolution)

-- name: get_client_id
-- This device's id for push requests, made when the database was created.
-- returns: client_id
SELECT "value" AS "client_id" FROM "_offgen_meta" WHERE "key" = 'client_id';

-- name: recover_stale_inflight
-- Returns entries claimed before :stale_before to the queue (crash recovery). On start every
-- in-flight entry is stale: pass the current time. They keep their mutation id and payload:
-- the server may have applied them, and a retry must be the same mutation.
-- params: :stale_before
UPDATE "_offgen_outbox" SET "state" = 'pending'
WHERE "state" = 'inflight' AND "inflight_since" <= :stale_before;

-- name: claim_batch
-- Claims up to :limit queued entries, oldest first, marking them in flight; on its first claim
-- an entry gets its mutation id and payload (from the row as it is now). Only a row's oldest
-- entry is claimable: later writes to a row wait until the server has answered the earlier one
-- (and an entry set aside as failed, or in conflict, holds back only its own row's writes).
-- params: :now, :limit
UPDATE "_offgen_outbox" SET "state" = 'inflight', "inflight_since" = :now
WHERE "seq" IN (
  SELECT o."seq" FROM "_offgen_outbox" AS o
  WHERE o."state" = 'pending'
    AND NOT EXISTS (
      SELECT 1 FROM "_offgen_outbox" AS e
      WHERE e."row_id" = o."row_id" AND e."entity" = o."entity" AND e."seq" < o."seq")
  ORDER BY o."seq"
  LIMIT :limit);

-- name: claimed_entries
-- The entries claim_batch marked in flight, in queue order: the mutations to send.
-- returns: seq, mutation_id, entity, row_id, op, payload, base_version, attempts
SELECT "seq", "mutation_id", "entity", "row_id", "op", "payload", "base_version", "attempts"
FROM "_offgen_outbox" WHERE "state" = 'inflight' ORDER BY "seq";

-- name: release_inflight
-- The push got no answer: every in-flight entry goes back to the queue, attempts unchanged,
-- and, as the server may have applied it, unchanged in every other way too.
UPDATE "_offgen_outbox" SET "state" = 'pending' WHERE "state" = 'inflight';

-- name: apply_push_results
-- Applies a push response's results. Accepted: the entry is done and the row takes the new
-- version. Rejected: retried until max_attempts, then failed. Conflict: for `version` entities
-- kept in _offgen_conflicts for the app; for `lww` and `server_wins` entities the server
-- already decided, and its record is applied. Results for entries no longer in flight are
-- ignored (they are sent again, and the server answers again).
-- params: :results (the JSON array of the response's `results`)
INSERT INTO "_offgen_push_results" ("mutation_id", "status", "version", "record", "error")
SELECT json_extract("value", '$.mutationId'), json_extract("value", '$.status'),
  json_extract("value", '$.version'), json_extract("value", '$.record'),
  CASE WHEN json_type("value", '$.error') IS NULL THEN NULL
    ELSE coalesce(json_extract("value", '$.error.code'), 'error') || ': ' || coalesce(json_extract("value", '$.error.message'), '')
  END
FROM json_each(:results)
ORDER BY "key";

-- name: clear_push_results
-- Removes results that matched no in-flight entry.
DELETE FROM "_offgen_push_results";

-- name: get_pull_cursor
-- Where the next pull starts ('' before the first pull; reset to '' by migrations that add
-- entities or columns, so their values are pulled for rows this device already has).
-- returns: cursor
SELECT "value" AS "cursor" FROM "_offgen_meta" WHERE "key" = 'pull_cursor';

-- name: apply_pulled_records
-- Applies a pull page's records. A row with local writes still queued, or in conflict, keeps
-- its local values (its queued write reaches the server later and is resolved there); a
-- tombstone marks a row deleted and never creates one.
-- params: :records (the JSON array of the page's `records`)
INSERT INTO "_offgen_inbox" ("entity", "id", "version", "deleted", "updated_at", "deleted_at", "data")
SELECT json_extract("value", '$.entity'), json_extract("value", '$.id'), json_extract("value", '$.version'),
  coalesce(json_extract("value", '$.deleted'), 0), json_extract("value", '$.updatedAt'),
  json_extract("value", '$.deletedAt'), coalesce(json_extract("value", '$.data'), '{}')
FROM json_each(:records)
ORDER BY "key";

-- name: unknown_pulled_records
-- Records of the last page that no table of this schema takes (a newer server): for the log.
-- returns: entity, records
SELECT "entity", count(*) AS "records" FROM "_offgen_inbox" GROUP BY "entity" ORDER BY "entity";

-- name: clear_inbox
DELETE FROM "_offgen_inbox";

-- name: set_pull_cursor
-- params: :cursor
UPDATE "_offgen_meta" SET "value" = :cursor WHERE "key" = 'pull_cursor';

-- name: sync_stats
-- Queue depth (queued or in flight), its oldest entry's age, and what needs the user.
-- params: :now
-- returns: queue_depth, oldest_pending_age_ms, failed, conflicts
SELECT
  (SELECT count(*) FROM "_offgen_outbox" WHERE "state" IN ('pending', 'inflight')) AS "queue_depth",
  (SELECT :now - min("created_at") FROM "_offgen_outbox" WHERE "state" IN ('pending', 'inflight')) AS "oldest_pending_age_ms",
  (SELECT count(*) FROM "_offgen_outbox" AS o WHERE o."state" = 'failed'
     AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."mutation_id" = o."mutation_id")) AS "failed",
  (SELECT count(*) FROM "_offgen_conflicts") AS "conflicts";

-- name: list_failed
-- Entries the server rejected max_attempts times. They hold back later writes to their row.
-- returns: seq, entity, row_id, op, payload, attempts, last_error, created_at
SELECT o."seq", o."entity", o."row_id", o."op", o."payload", o."attempts", o."last_error", o."created_at"
FROM "_offgen_outbox" AS o
WHERE o."state" = 'failed'
  AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."mutation_id" = o."mutation_id")
ORDER BY o."seq";

-- name: retry_failed
-- Queues a failed entry again with fresh attempts (after the cause was fixed on the server).
-- params: :seq
UPDATE "_offgen_outbox" SET "state" = 'pending', "attempts" = 0, "last_error" = NULL
WHERE "seq" = :seq AND "state" = 'failed'
  AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."mutation_id" = "_offgen_outbox"."mutation_id");

-- name: discard_failed
-- Drops a failed entry: the change is not sent; the row keeps its local values.
-- params: :seq
DELETE FROM "_offgen_outbox"
WHERE "seq" = :seq AND "state" = 'failed'
  AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."mutation_id" = "_offgen_outbox"."mutation_id");

-- name: list_conflicts
-- Rows whose local write met a newer server version: both sides, for the app to show.
-- returns: entity, row_id, op, server_version, server_record, local_payload, message, created_at
SELECT "entity", "row_id", "op", "server_version", "server_record", "local_payload", "message", "created_at"
FROM "_offgen_conflicts" ORDER BY "created_at", "entity", "row_id";

-- name: resolve_conflict
-- 'keep_local' sends the local write again on top of the server's version; 'take_server'
-- drops the local writes to the row and applies the server's record.
-- params: :entity, :row_id, :resolution
UPDATE "_offgen_conflicts" SET "resolution" = :resolution
WHERE "entity" = :entity AND "row_id" = :row_id;
