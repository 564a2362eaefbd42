CREATE TRIGGER "{{ e.trigger_prefix }}_{{ suffix }}" {{ event }} ON {{ e.table }}
WHEN {{ e.guard }}
  AND {{ condition }}
BEGIN
  -- A pending update becomes the delete.
  UPDATE "_offgen_outbox" SET "op" = 'delete', "payload" = '{}'
  WHERE "seq" = {{ last_entry }} AND "state" = 'pending' AND "op" = 'update';
  -- No pending entry to fold into: queue the delete.
  INSERT INTO "_offgen_outbox" ("mutation_id", "entity", "row_id", "op", "payload", "base_version", "created_at")
  SELECT {{ e.uuid }}, {{ e.entity }}, {{ row }}."id", 'delete', '{}', {{ row }}."version", {{ e.now }}
  WHERE NOT EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "seq" = {{ last_entry }} AND "state" = 'pending');
{%- if row == "NEW" %}
  UPDATE {{ e.table }} SET "sync_status" = 'pending' WHERE "id" = NEW."id" AND "sync_status" = 'synced';
{%- endif %}
  -- The server never saw a row whose insert is still pending: nothing to send at all.
  DELETE FROM "_offgen_outbox" WHERE "seq" = {{ last_entry }} AND "state" = 'pending' AND "op" = 'insert';
END;
