CREATE TRIGGER "{{ e.trigger_prefix }}_push_result" AFTER INSERT ON "_offgen_push_results"
WHEN (SELECT "entity" FROM "_offgen_outbox" WHERE "mutation_id" = NEW."mutation_id" AND "state" = 'inflight') = {{ e.entity }}
BEGIN
  -- Done ({{ e.done_statuses }}): later entries for the row now build on the server's new version.
  UPDATE "_offgen_outbox" SET "base_version" = NEW."version"
  WHERE NEW."status" IN ({{ e.done_statuses }}) AND NEW."version" IS NOT NULL
    AND "entity" = {{ e.entity }}
    AND "row_id" = (SELECT "row_id" FROM "_offgen_outbox" WHERE "mutation_id" = NEW."mutation_id")
    AND "seq" > (SELECT "seq" FROM "_offgen_outbox" WHERE "mutation_id" = NEW."mutation_id");
  UPDATE {{ e.table }} SET "{{ bk::VERSION.sql }}" = NEW."version"
  WHERE NEW."status" = 'accepted' AND "{{ bk::VERSION.sql }}" < NEW."version"
    AND "{{ bk::ID.sql }}" = (SELECT "row_id" FROM "_offgen_outbox" WHERE "mutation_id" = NEW."mutation_id");
{%- if e.keeps_conflicts %}
  -- Conflict: both sides are kept for the user; the entry waits, and so do later writes to the row.
  INSERT OR REPLACE INTO "_offgen_conflicts" ("entity", "row_id", "mutation_id", "op", "server_version", "server_record", "local_payload", "message", "resolution", "created_at")
  SELECT "entity", "row_id", "mutation_id", "op", NEW."version", NEW."record", "payload",
    'conflict: the row changed on the server (now version ' || coalesce(NEW."version", '?') || ')', NULL, NEW."received_at"
  FROM "_offgen_outbox" WHERE NEW."status" = 'conflict' AND "mutation_id" = NEW."mutation_id";
  UPDATE "_offgen_outbox" SET "state" = 'failed', "last_error" = 'conflict'
  WHERE NEW."status" = 'conflict' AND "mutation_id" = NEW."mutation_id";
{%- else %}
  -- The server decided against this device's change on its own (all of it, or some fields):
  -- the row takes the server's outcome below, and a notice keeps what was written here.
  INSERT INTO "_offgen_notices" ("entity", "row_id", "mutation_id", "op", "local_payload", "server_record", "overridden", "message", "created_at")
  SELECT "entity", "row_id", "mutation_id", "op", coalesce("payload", '{}'), NEW."record", NEW."overridden",
    CASE WHEN NEW."status" = 'conflict' THEN {{ e.lost_message }}
      ELSE 'newer changes on the server replaced these values written here: ' || (SELECT group_concat("value", ', ') FROM json_each(NEW."overridden"))
    END,
    NEW."received_at"
  FROM "_offgen_outbox"
  WHERE "mutation_id" = NEW."mutation_id"
    AND (NEW."status" = 'conflict' OR (NEW."status" = 'accepted' AND json_array_length(coalesce(NEW."overridden", '[]')) > 0));
{%- endif %}
  DELETE FROM "_offgen_outbox" WHERE NEW."status" IN ({{ e.done_statuses }}) AND "mutation_id" = NEW."mutation_id";
  -- The server's record (a resolved conflict, or a write the server merged) is applied like a
  -- pulled one, so it never overwrites later local writes.
  INSERT INTO "_offgen_inbox" ("entity", "id", "version", "deleted", "updated_at", "deleted_at", "data")
  SELECT {{ e.entity }}, json_extract(NEW."record", '$.id'), json_extract(NEW."record", '$.version'),
    coalesce(json_extract(NEW."record", '$.deleted'), 0), json_extract(NEW."record", '$.updatedAt'),
    json_extract(NEW."record", '$.deletedAt'), coalesce(json_extract(NEW."record", '$.data'), '{}')
  WHERE NEW."status" IN ({{ e.done_statuses }}) AND NEW."record" IS NOT NULL;
  -- Rejected, so not applied, for a row deleted outright here since it was sent: nothing is
  -- left to make it again from. A rejected insert takes the row's later entries with it (the
  -- server never had the row); any other entry goes alone, and the delete behind it goes on.
  DELETE FROM "_offgen_outbox"
  WHERE NEW."status" = 'rejected' AND "entity" = {{ e.entity }}
    AND "row_id" = (SELECT "row_id" FROM "_offgen_outbox" WHERE "mutation_id" = NEW."mutation_id")
    AND NOT EXISTS (SELECT 1 FROM {{ e.table }} WHERE "{{ bk::ID.sql }}" = "_offgen_outbox"."row_id")
    AND ("mutation_id" = NEW."mutation_id"
      OR (SELECT "op" FROM "_offgen_outbox" WHERE "mutation_id" = NEW."mutation_id") = 'insert');
  -- Rejected: not applied, so the entry may change again and goes as a new mutation (new id,
  -- payload made anew) after its retry delay, which doubles with each attempt; once the
  -- attempts run out it is set aside as failed, never blocking the entries of other rows.
  UPDATE "_offgen_outbox"
  SET "attempts" = "attempts" + 1,
    "state" = CASE WHEN "attempts" + 1 >= {{ e.max_attempts }} THEN 'failed' ELSE 'pending' END,
    "last_error" = NEW."error",
    "next_attempt_at" = NEW."received_at" + ({{ e.retry_base }} << min("attempts", 20)),
    "mutation_id" = NULL, "payload" = NULL, "claim_id" = NULL, "inflight_since" = NULL
  WHERE NEW."status" = 'rejected' AND "mutation_id" = NEW."mutation_id";
  DELETE FROM "_offgen_push_results" WHERE "rowid" = NEW."rowid";
END;
