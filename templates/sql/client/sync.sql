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
-- handed to `_offgen_push_results` are applied by per-entity triggers. Times are epoch
-- milliseconds of the device's clock, `now()` below: read it with device_now().
--
-- One sync (each numbered step in one transaction):
--
--   Start:  1. acquire_sync_lease(:holder, :now, :until); no row changed: another sync holds
--              this database, so stop (one sync at a time, also across processes and isolates).
--              Renew it the same way before each request; release_sync_lease(:holder) at the end.
--           2. recover_inflight(): entries a killed sync left in flight go back to the queue.
--   Push:   1. prepare_batch(:now, :limit), set_aside_oversized(:max_bytes),
--              claim_batch(:now, :limit, :max_bytes, :claim), then claimed_entries(:claim) -> entries.
--           2. POST /sync/push {clientId: get_client_id(), mutations: [{mutationId, entity,
--              id: row_id, op, baseVersion: base_version, data: payload, stamp, fieldStamps:
--              field_stamps}]} (keys whose value is null are left out).
--           3a. 200: apply_push_results(:results, :now), clear_push_results(),
--              set_clock(:server_time = the response's serverTime, :now).
--           3b. 413 with more than one entry: release_inflight(:claim); halve :limit and
--              :max_bytes and go to 1. With one entry: set_aside_claimed(:claim, :error).
--           3c. no answer, or any other status (401, 403, 429, 5xx, ...): release_inflight(:claim)
--              and end this sync; try again later with backoff. Transport failures and refused
--              requests never count as attempts. A lost response is harmless: the entries go
--              again with the same mutation ids, and the server answers with its first result.
--           Repeat while claim_batch claims entries.
--   Pull:   1. get_pull_cursor() -> cursor, pull_durability() -> relax; GET
--              /sync/pull?cursor=<cursor>&limit=N
--           2. 200: while hasMore, the next page may be asked for (cursor = this page's
--              `cursor`) while this one is applied. The page's records, in page order: a live
--              record (`deleted` false) of an entity with an apply_pulled_row_<table> statement,
--              whose `data` holds every key the statement takes (its params' notes say where
--              each value is and how it is bound), goes through that statement, after
--              begin_pulled_rows(); one it changes no row for, and every other record, goes
--              through apply_pulled_records(:records = a JSON array of such records, in order),
--              after end_pulled_rows(). end_pulled_rows() after the last record too.
--              Then take_clashes() -> held, clear_clashes(), apply_pulled_records(:records =
--              held) (records waiting for a unique clash are tried again after every page),
--              unknown_pulled_records() (log them), clear_inbox(), set_pull_cursor(:cursor),
--              set_clock(:server_time, :now). Where relax: relax_durability() before the
--              page's transaction, restore_durability() after it, committed or not.
--           Repeat while hasMore. Then set_last_synced(:now).
--   App:    sync_stats(:now), retry_waiting() (a "Sync now" button, before the sync),
--           list_failed(), retry_failed(:seq), discard_failed(:seq),
--           list_conflicts(), resolve_conflict(:entity, :row_id, :resolution), list_clashes(),
--           list_notices(), dismiss_notice(:id), dismiss_all_notices()

-- name: device_now
-- The device's clock (epoch ms): the system clock, or fixed_clock_ms where one is set.
-- returns: now
SELECT "local_ms" AS "now" FROM "_offgen_now";

-- name: get_client_id
-- This device's id for push requests, made when the database was created.
-- returns: client_id
SELECT "value" AS "client_id" FROM "_offgen_meta" WHERE "key" = 'client_id';

-- name: acquire_sync_lease
-- Takes the sync lease for :holder until :until, if it is free, expired, or already held by
-- :holder (a renewal). Changes one row when taken, none when another sync holds it.
-- params: :holder, :now, :until
INSERT INTO "_offgen_meta" ("key", "value") VALUES ('sync_lease', :holder || ' ' || :until)
ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"
WHERE "value" = ''
  OR substr("value", 1, instr("value", ' ') - 1) = :holder
  OR CAST(substr("value", instr("value", ' ') + 1) AS INTEGER) < :now;

-- name: release_sync_lease
-- params: :holder
UPDATE "_offgen_meta" SET "value" = ''
WHERE "key" = 'sync_lease' AND substr("value", 1, instr("value", ' ') - 1) = :holder;

-- name: recover_inflight
-- Run under the lease, before anything else: entries still in flight were sent by a sync that
-- did not finish (the app was killed). They go back to the queue with their mutation id and
-- payload: the server may have applied them, and a retry must be the same mutation.
UPDATE "_offgen_outbox" SET "state" = 'pending', "claim_id" = NULL WHERE "state" = 'inflight';

-- name: prepare_batch
-- Gives up to :limit entries that are due (queued, the oldest of their row, past their retry
-- delay) their mutation id and payload, taken from the row as it is now; from then on the
-- entry never changes. Only a row's oldest entry is due: later writes to a row wait until the
-- server has answered the earlier one (an entry set aside as failed, or in conflict, holds back
-- only its own row's writes).
-- params: :now, :limit
UPDATE "_offgen_outbox" SET "mutation_id" = {{ uuid }}
WHERE "seq" IN (
  SELECT o."seq" FROM "_offgen_outbox" AS o
  WHERE o."state" = 'pending' AND o."mutation_id" IS NULL
    AND (o."next_attempt_at" IS NULL OR o."next_attempt_at" <= :now)
    AND NOT EXISTS (
      SELECT 1 FROM "_offgen_outbox" AS e
      WHERE e."row_id" = o."row_id" AND e."entity" = o."entity" AND e."seq" < o."seq")
  ORDER BY o."seq"
  LIMIT :limit);

-- name: set_aside_oversized
-- Entries whose mutation alone exceeds :max_bytes can never be sent: they are set aside as
-- failed (never blocking other rows), with the reason, for the app to show.
-- params: :max_bytes
UPDATE "_offgen_outbox"
SET "state" = 'failed',
  "last_error" = 'too-large: this change takes ' || ({{ entry_bytes }}) || ' bytes in a push, which may hold at most ' || :max_bytes
WHERE "state" = 'pending' AND "payload" IS NOT NULL
  AND {{ entry_bytes }} > :max_bytes;

-- name: claim_batch
-- Claims for :claim, oldest first, the due entries prepared by prepare_batch, as many as fit
-- in :limit entries and :max_bytes, marking them in flight.
-- params: :now, :limit, :max_bytes, :claim
UPDATE "_offgen_outbox" SET "state" = 'inflight', "inflight_since" = :now, "claim_id" = :claim
WHERE "seq" IN (
  SELECT "seq" FROM (
    SELECT o."seq", sum({{ entry_bytes_o }}) OVER (ORDER BY o."seq") AS "total"
    FROM "_offgen_outbox" AS o
    WHERE o."state" = 'pending' AND o."payload" IS NOT NULL
      AND (o."next_attempt_at" IS NULL OR o."next_attempt_at" <= :now)
      AND NOT EXISTS (
        SELECT 1 FROM "_offgen_outbox" AS e
        WHERE e."row_id" = o."row_id" AND e."entity" = o."entity" AND e."seq" < o."seq")
    ORDER BY o."seq"
    LIMIT :limit)
  WHERE "total" <= :max_bytes);

-- name: claimed_entries
-- The entries claimed for :claim, in queue order: the mutations to send.
-- params: :claim
-- returns: seq, mutation_id, entity, row_id, op, payload, base_version, stamp, field_stamps, attempts
SELECT "seq", "mutation_id", "entity", "row_id", "op", "payload", "base_version", "stamp", "field_stamps", "attempts"
FROM "_offgen_outbox" WHERE "state" = 'inflight' AND "claim_id" = :claim ORDER BY "seq";

-- name: release_inflight
-- The push got no answer: the claim's entries go back to the queue, attempts unchanged, and,
-- as the server may have applied them, unchanged in every other way too.
-- params: :claim
UPDATE "_offgen_outbox" SET "state" = 'pending', "claim_id" = NULL
WHERE "state" = 'inflight' AND "claim_id" = :claim;

-- name: set_aside_claimed
-- The server refused the claim as too large (413) although it held one entry: it is set aside
-- as failed with :error.
-- params: :claim, :error
UPDATE "_offgen_outbox" SET "state" = 'failed', "last_error" = :error, "claim_id" = NULL
WHERE "state" = 'inflight' AND "claim_id" = :claim;

-- name: apply_push_results
-- Applies a push response's results. Accepted: the entry is done and the row takes the new
-- version (and, where the server merged, its record). Rejected: sent again as a new mutation
-- after a delay that doubles with each attempt, then set aside as failed after max_attempts.
-- Conflict: for `version` entities kept in _offgen_conflicts for the app; for `lww` and
-- `server_wins` entities the server already decided: its record is applied and a notice
-- keeps what this device wrote. Results for entries no longer in flight are ignored (they
-- are sent again, and the server answers again).
-- params: :results (the JSON array of the response's `results`), :now
INSERT INTO "_offgen_push_results" ("mutation_id", "status", "version", "record", "error", "overridden", "received_at")
SELECT json_extract("value", '$.mutationId'), json_extract("value", '$.status'),
  json_extract("value", '$.version'), json_extract("value", '$.record'),
  CASE WHEN json_type("value", '$.error') IS NULL THEN NULL
    ELSE coalesce(json_extract("value", '$.error.code'), 'error') || ': ' || coalesce(json_extract("value", '$.error.message'), '')
  END,
  json_extract("value", '$.overridden'), :now
FROM json_each(:results)
ORDER BY "key";

-- name: clear_push_results
-- Removes results that matched no in-flight entry.
DELETE FROM "_offgen_push_results";

-- name: set_clock
-- Learns the server's clock from a response's serverTime: edit times are stamped in server
-- time from then on, and never behind anything this device has seen.
-- params: :server_time, :now
INSERT INTO "_offgen_meta" ("key", "value") VALUES ('clock_offset_ms', CAST(:server_time - :now AS TEXT)),
  ('lww_clock', CAST(:server_time AS TEXT))
ON CONFLICT ("key") DO UPDATE SET "value" = CASE "key"
  WHEN 'lww_clock' THEN CAST(max(CAST("value" AS INTEGER), CAST(excluded."value" AS INTEGER)) AS TEXT)
  ELSE excluded."value" END;

-- name: get_pull_cursor
-- Where the next pull starts ('' before the first pull; reset to '' by migrations that add
-- entities or columns, so their values are pulled for rows this device already has).
-- returns: cursor
SELECT "value" AS "cursor" FROM "_offgen_meta" WHERE "key" = 'pull_cursor';

-- name: apply_pulled_records
-- Applies server records. A row with local writes still queued, or in conflict, keeps its
-- local values (its queued write reaches the server later and is resolved there); a tombstone
-- marks a row deleted and never creates one; a record whose unique value another local row
-- holds waits in _offgen_clashes.
-- params: :records (a JSON array of records, as a pull page's `records`)
INSERT INTO "_offgen_inbox" ("entity", "id", "version", "deleted", "updated_at", "deleted_at", "data")
SELECT json_extract("value", '$.entity'), json_extract("value", '$.id'), json_extract("value", '$.version'),
  coalesce(json_extract("value", '$.deleted'), 0), json_extract("value", '$.updatedAt'),
  json_extract("value", '$.deletedAt'), coalesce(json_extract("value", '$.data'), '{}')
FROM json_each(:records)
ORDER BY "key";

-- name: pull_durability
-- Whether a pulled page's commit may go without waiting for the disk: in WAL mode at the
-- default synchronous = FULL. A page a power cut takes back is pulled again (its cursor is in
-- its transaction; an app crash takes nothing back), and the next commit at FULL (the sync's
-- last) makes every commit before it durable. Waiting for the disk at each page's commit cost
-- more than writing the page's rows (docs/BENCHMARKS.md).
-- returns: relax
SELECT (SELECT "journal_mode" FROM pragma_journal_mode) = 'wal'
  AND (SELECT "synchronous" FROM pragma_synchronous) = 2 AS "relax";

-- name: relax_durability
-- A pulled page's commit: consistent and atomic, not waiting for the disk (outside a
-- transaction only).
PRAGMA synchronous = NORMAL;

-- name: restore_durability
-- Back to SQLite's default: each commit waits for the disk.
PRAGMA synchronous = FULL;

-- name: begin_pulled_rows
-- Silences the queue triggers while pulled records are applied one statement each.
UPDATE "_offgen_meta" SET "value" = '1' WHERE "key" = 'applying_remote';

-- name: end_pulled_rows
-- Lets the queue triggers record local writes again.
UPDATE "_offgen_meta" SET "value" = '0' WHERE "key" = 'applying_remote';
{%- for row in rows %}

-- name: {{ row.name }}
-- Applies one pulled record of {{ row.entity }} in one write, if nothing local is in the way.
-- For a live record carrying every key its data has here. Changes one row; none when the
-- record must go through apply_pulled_records (the row has queued writes, a conflict or a
-- clash, another row holds one of its unique values, the server's row is older than this
-- device's, or a value breaks a constraint of a new row).
{%- for line in row.param_lines %}
-- params: {{ line }}
{%- endfor %}
INSERT OR IGNORE INTO {{ row.table }} ({{ row.column_list }})
VALUES ({{ row.values }})
ON CONFLICT ("{{ bk::ID.sql }}") DO UPDATE SET {{ row.assignments }}
WHERE excluded."{{ bk::VERSION.sql }}" >= {{ row.table }}."{{ bk::VERSION.sql }}";
{%- endfor %}

-- name: take_clashes
-- The records waiting for a unique clash, as a JSON array of records, to apply again.
-- returns: records
SELECT coalesce(json_group_array(json_object('entity', "entity", 'id', "id", 'version', "version",
  'deleted', "deleted", 'updatedAt', "updated_at", 'deletedAt', "deleted_at", 'data', json("data"))), '[]') AS "records"
FROM (SELECT * FROM "_offgen_clashes" ORDER BY "created_at", "entity", "id");

-- name: clear_clashes
DELETE FROM "_offgen_clashes";

-- name: unknown_pulled_records
-- Records of the last page that no table of this schema takes (a newer server): for the log.
-- returns: entity, records
SELECT "entity", count(*) AS "records" FROM "_offgen_inbox" GROUP BY "entity" ORDER BY "entity";

-- name: clear_inbox
DELETE FROM "_offgen_inbox";

-- name: set_pull_cursor
-- params: :cursor
UPDATE "_offgen_meta" SET "value" = :cursor WHERE "key" = 'pull_cursor';

-- name: set_last_synced
-- A sync pushed everything it could and pulled to the end.
-- params: :now
INSERT INTO "_offgen_meta" ("key", "value") VALUES ('last_synced_at', CAST(:now AS TEXT))
ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value";

-- name: sync_stats
-- For a status badge: queue depth (queued or in flight), its oldest entry's age, when the next
-- held-back entry is due, what needs the user, and when this device last synced.
-- params: :now
-- returns: queue_depth, oldest_pending_age_ms, next_attempt_at, failed, conflicts, clashes, notices, last_synced_at
SELECT
  (SELECT count(*) FROM "_offgen_outbox" WHERE "state" IN ('pending', 'inflight')) AS "queue_depth",
  (SELECT :now - min("created_at") FROM "_offgen_outbox" WHERE "state" IN ('pending', 'inflight')) AS "oldest_pending_age_ms",
  (SELECT min("next_attempt_at") FROM "_offgen_outbox" WHERE "state" = 'pending' AND "next_attempt_at" > :now) AS "next_attempt_at",
  (SELECT count(*) FROM "_offgen_outbox" AS o WHERE o."state" = 'failed'
     AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."mutation_id" = o."mutation_id")) AS "failed",
  (SELECT count(*) FROM "_offgen_conflicts") AS "conflicts",
  (SELECT count(*) FROM "_offgen_clashes") AS "clashes",
  (SELECT count(*) FROM "_offgen_notices") AS "notices",
  (SELECT CAST("value" AS INTEGER) FROM "_offgen_meta" WHERE "key" = 'last_synced_at' AND "value" <> '') AS "last_synced_at";

-- name: list_failed
-- Entries set aside: rejected max_attempts times, or too large to send. They hold back later
-- writes to their row.
-- returns: seq, entity, row_id, op, payload, attempts, last_error, created_at
SELECT o."seq", o."entity", o."row_id", o."op", o."payload", o."attempts", o."last_error", o."created_at"
FROM "_offgen_outbox" AS o
WHERE o."state" = 'failed'
  AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."mutation_id" = o."mutation_id")
ORDER BY o."seq";

-- name: retry_waiting
-- "Sync now": the user asked for a sync, so changes waiting out the delay after a rejection
-- are due at once (their attempts still count toward max_attempts). Run it before the sync.
UPDATE "_offgen_outbox" SET "next_attempt_at" = NULL
WHERE "state" = 'pending' AND "next_attempt_at" IS NOT NULL;

-- name: retry_failed
-- Queues a failed entry again with fresh attempts (after the cause was fixed); it is prepared
-- anew, so changes made to the row meanwhile go with it.
-- params: :seq
UPDATE "_offgen_outbox" SET "state" = 'pending', "attempts" = 0, "last_error" = NULL, "next_attempt_at" = NULL,
  "mutation_id" = NULL, "payload" = NULL
WHERE "seq" = :seq AND "state" = 'failed'
  AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."mutation_id" = "_offgen_outbox"."mutation_id");

-- name: discard_failed
-- Drops a failed entry: the change is not sent; the row keeps its local values.
-- params: :seq
DELETE FROM "_offgen_outbox"
WHERE "seq" = :seq AND "state" = 'failed'
  AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."mutation_id" = "_offgen_outbox"."mutation_id");

-- name: list_conflicts
-- Rows whose local write met a newer server version: both sides, for the app to show
-- (server_deleted: the server's row is a tombstone, which only take_server settles).
-- returns: entity, row_id, op, server_version, server_record, local_payload, message, created_at, server_deleted
SELECT "entity", "row_id", "op", "server_version", "server_record", "local_payload", "message", "created_at",
  coalesce(json_extract("server_record", '$.deleted'), 0) AS "server_deleted"
FROM "_offgen_conflicts" ORDER BY "created_at", "entity", "row_id";

-- name: resolve_conflict
-- 'keep_local' sends the local write again on top of the server's version; 'take_server'
-- drops the local writes to the row and applies the server's record. A row the server
-- deleted cannot be kept (the server takes no change to a tombstone; sent again, the change
-- would meet it again on every sync): keep_local changes nothing there.
-- params: :entity, :row_id, :resolution
UPDATE "_offgen_conflicts" SET "resolution" = :resolution
WHERE "entity" = :entity AND "row_id" = :row_id
  AND NOT (:resolution = 'keep_local' AND coalesce(json_extract("server_record", '$.deleted'), 0) = 1);

-- name: list_clashes
-- Server records waiting because a local row (local_row_id) holds one of their unique values.
-- The clash ends when the local row changes that value or is deleted (its write goes to the
-- server as usual), or when the server's row changes; each pull tries again.
-- returns: entity, id, version, data, local_row_id, message, created_at
SELECT "entity", "id", "version", "data", "local_row_id", "message", "created_at"
FROM "_offgen_clashes" ORDER BY "created_at", "entity", "id";

-- name: list_notices
-- Local changes the server replaced with newer ones or its own (lww, server_wins): what this
-- device wrote, and the server's record it now shows.
-- returns: id, entity, row_id, op, local_payload, server_record, overridden, message, created_at
SELECT "id", "entity", "row_id", "op", "local_payload", "server_record", "overridden", "message", "created_at"
FROM "_offgen_notices" ORDER BY "id";

-- name: dismiss_notice
-- params: :id
DELETE FROM "_offgen_notices" WHERE "id" = :id;

-- name: dismiss_all_notices
DELETE FROM "_offgen_notices";
