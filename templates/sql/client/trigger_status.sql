CREATE TRIGGER "{{ e.trigger_prefix }}_status_{{ suffix }}" AFTER {{ event }} ON {{ source }}
WHEN {{ row }}."entity" = {{ e.entity }}
BEGIN
  UPDATE {{ e.table }}
  SET "sync_status" = CASE
      WHEN EXISTS (SELECT 1 FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."row_id") THEN 'conflict'
      WHEN EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."row_id" AND "state" = 'failed') THEN 'failed'
      WHEN EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."row_id" AND "state" = 'inflight') THEN 'syncing'
      WHEN EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."row_id") THEN 'pending'
      ELSE 'synced'
    END,
    "sync_error" = coalesce(
      (SELECT "message" FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."row_id"),
      (SELECT "last_error" FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."row_id" AND "state" = 'failed' ORDER BY "seq" LIMIT 1))
  WHERE "id" = {{ row }}."row_id";
END;
