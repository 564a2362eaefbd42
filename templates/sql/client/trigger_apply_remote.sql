CREATE TRIGGER "{{ e.trigger_prefix }}_apply_remote" AFTER INSERT ON "_offgen_inbox"
WHEN NEW."entity" = {{ e.entity }}
BEGIN
  -- Silence this table's queue triggers while the server's row is written.
  UPDATE "_offgen_meta" SET "value" = '1' WHERE "key" = 'applying_remote';
  -- A row with local writes still queued, or in conflict, keeps its local values.
  INSERT INTO {{ e.table }} ({{ e.column_list }})
  SELECT {{ e.decoded_values }}
  WHERE NEW."deleted" = 0
    AND NOT EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id")
    AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id")
  ON CONFLICT ("id") DO UPDATE SET {{ e.upsert_assignments }}
  WHERE excluded."version" >= {{ e.table }}."version";
  -- A tombstone only marks a row this device has; it never creates one.
  UPDATE {{ e.table }}
  SET "deleted_at" = coalesce(NEW."deleted_at", {{ e.now }}), "version" = NEW."version",
    "updated_at" = coalesce(NEW."updated_at", "updated_at"), "sync_status" = 'synced', "sync_error" = NULL
  WHERE "id" = NEW."id" AND NEW."deleted" = 1 AND "version" <= NEW."version"
    AND NOT EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id")
    AND NOT EXISTS (SELECT 1 FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."id");
  UPDATE "_offgen_meta" SET "value" = '0' WHERE "key" = 'applying_remote';
  DELETE FROM "_offgen_inbox" WHERE "rowid" = NEW."rowid";
END;
