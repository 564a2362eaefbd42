CREATE TRIGGER "{{ e.trigger_prefix }}_apply_remote" AFTER INSERT ON "_offgen_inbox"
WHEN NEW."entity" = {{ e.entity }}
BEGIN
  -- Silence this table's queue triggers while the server's row is written.
  UPDATE "_offgen_meta" SET "value" = '1' WHERE "key" = 'applying_remote';
{%- if !e.uniques.is_empty() %}
  -- A newer version of a record that waits for a clash replaces it (and may clash no more).
  DELETE FROM "_offgen_clashes" WHERE "entity" = {{ e.entity }} AND "id" = NEW."id" AND "version" <= NEW."version";
{%- for unique in e.uniques %}
  -- {{ unique.fields }} must be unique. A local tombstone the server already has gives way
  -- (nothing of it is still to be sent); any other local row holding these values keeps them,
  -- and the record waits in _offgen_clashes while the local row shows the clash.
  DELETE FROM {{ e.table }}
  WHERE NEW."deleted" = 0 AND "{{ bk::ID.sql }}" <> NEW."id" AND "{{ bk::DELETED_AT.sql }}" IS NOT NULL AND {{ unique.matches }}
    AND NOT EXISTS (SELECT 1 FROM "_offgen_outbox" AS o WHERE o."entity" = {{ e.entity }} AND o."row_id" = {{ e.table }}."{{ bk::ID.sql }}")
    AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" AS c WHERE c."entity" = {{ e.entity }} AND c."row_id" = {{ e.table }}."{{ bk::ID.sql }}");
  INSERT OR IGNORE INTO "_offgen_clashes" ("entity", "id", "version", "deleted", "updated_at", "deleted_at", "data", "local_row_id", "message", "created_at")
  SELECT {{ e.entity }}, NEW."id", NEW."version", NEW."deleted", NEW."updated_at", NEW."deleted_at", NEW."data", {{ e.table }}."{{ bk::ID.sql }}",
    {{ unique.message }} || NEW."id", {{ e.now }}
  FROM {{ e.table }}
  WHERE NEW."deleted" = 0 AND {{ e.table }}."{{ bk::ID.sql }}" <> NEW."id" AND {{ unique.matches }}
    AND NOT EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id")
    AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id")
    AND NOT EXISTS (SELECT 1 FROM {{ e.table }} AS mine WHERE mine."{{ bk::ID.sql }}" = NEW."id" AND mine."{{ bk::VERSION.sql }}" > NEW."version")
  LIMIT 1;
{%- endfor %}
{%- endif %}
{%- if e.keeps_conflicts %}
  -- A row in conflict keeps its local values, but the conflict's server side becomes this
  -- newer version: take_server then takes the newest, and keep_local rebases on it.
  UPDATE "_offgen_conflicts"
  SET "server_version" = NEW."version",
    "server_record" = json_object('entity', NEW."entity", 'id', NEW."id", 'version', NEW."version",
      'deleted', json(CASE WHEN NEW."deleted" = 1 THEN 'true' ELSE 'false' END), 'updatedAt', NEW."updated_at",
      'deletedAt', NEW."deleted_at", 'data', CASE WHEN NEW."deleted" = 1 THEN NULL ELSE json(NEW."data") END),
    "message" = 'conflict: the row changed on the server (now version ' || NEW."version" || ')'
  WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id" AND coalesce("server_version", -1) < NEW."version";
{%- endif %}
  -- A row with local writes still queued, or in conflict, keeps its local values.
  INSERT INTO {{ e.table }} ({{ e.column_list }})
  SELECT {{ e.decoded_values }}
  WHERE NEW."deleted" = 0
    AND NOT EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id")
    AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id")
{%- if !e.uniques.is_empty() %}
    AND NOT EXISTS (SELECT 1 FROM "_offgen_clashes" WHERE "entity" = {{ e.entity }} AND "id" = NEW."id")
{%- endif %}
  ON CONFLICT ("{{ bk::ID.sql }}") DO UPDATE SET {{ e.upsert_assignments }}
  WHERE excluded."{{ bk::VERSION.sql }}" >= {{ e.table }}."{{ bk::VERSION.sql }}";
  -- A tombstone only marks a row this device has; it never creates one.
  UPDATE {{ e.table }}
  SET "{{ bk::DELETED_AT.sql }}" = coalesce(NEW."deleted_at", {{ e.now }}), "{{ bk::VERSION.sql }}" = NEW."version",
    "{{ bk::UPDATED_AT.sql }}" = coalesce(NEW."updated_at", "{{ bk::UPDATED_AT.sql }}"), "{{ bk::SYNC_STATUS.sql }}" = 'synced', "{{ bk::SYNC_ERROR.sql }}" = NULL
  WHERE "{{ bk::ID.sql }}" = NEW."id" AND NEW."deleted" = 1 AND "{{ bk::VERSION.sql }}" <= NEW."version"
    AND NOT EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id")
    AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id");
  UPDATE "_offgen_meta" SET "value" = '0' WHERE "key" = 'applying_remote';
  DELETE FROM "_offgen_inbox" WHERE "rowid" = NEW."rowid";
END;
