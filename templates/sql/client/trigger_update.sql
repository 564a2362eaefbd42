CREATE TRIGGER "{{ e.trigger_prefix }}_update" AFTER UPDATE ON {{ e.table }}
WHEN {{ e.guard }}
  AND NEW."deleted_at" IS NULL
  AND ({{ e.fields_changed }})
BEGIN
  -- Fold into the row's newest entry while it is still pending: an insert resends the whole
  -- row; an update sends every field changed by either write.
  UPDATE "_offgen_outbox"
  SET "payload" = CASE "op" WHEN 'insert' THEN {{ e.full_new }} ELSE {{ e.merged_payload }} END
  WHERE "seq" = {{ e.last_entry_new }} AND "state" = 'pending';
  -- Otherwise (no entry, or the newest one is already in flight or failed) queue a new update.
  INSERT INTO "_offgen_outbox" ("mutation_id", "entity", "row_id", "op", "payload", "base_version", "created_at")
  SELECT {{ e.uuid }}, {{ e.entity }}, NEW."id", 'update', {{ e.changed_payload }}, NEW."version", {{ e.now }}
  WHERE NOT EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "seq" = {{ e.last_entry_new }} AND "state" = 'pending');
  UPDATE {{ e.table }} SET "sync_status" = 'pending' WHERE "id" = NEW."id" AND "sync_status" = 'synced';
END;
