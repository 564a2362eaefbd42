CREATE TRIGGER "{{ e.trigger_prefix }}_update" AFTER UPDATE ON {{ e.table }}
WHEN {{ e.guard }}
  AND NEW."deleted_at" IS NULL
  AND ({{ e.fields_changed }})
BEGIN
{%- for check in e.value_checks %}
  {{ check }}
{%- endfor %}
  -- Fold into the row's newest entry while it is queued and was never sent: an insert takes
  -- the whole row when claimed anyway; an update adds the fields this write changed.
  UPDATE "_offgen_outbox" SET "changed" = "changed" || {{ e.new_changed_keys }}
  WHERE "seq" = {{ e.last_entry_new }} AND "state" = 'pending' AND "inflight_since" IS NULL AND "op" = 'update';
  -- Otherwise (no entry, or the newest was sent or failed) queue a new update.
  INSERT INTO "_offgen_outbox" ("entity", "row_id", "op", "changed", "base_version", "created_at")
  SELECT {{ e.entity }}, NEW."id", 'update', {{ e.changed_keys }}, NEW."version", {{ e.now }}
  WHERE NOT EXISTS (
    SELECT 1 FROM "_offgen_outbox"
    WHERE "seq" = {{ e.last_entry_new }} AND "state" = 'pending' AND "inflight_since" IS NULL);
  UPDATE {{ e.table }} SET "sync_status" = 'pending' WHERE "id" = NEW."id" AND "sync_status" = 'synced';
END;
