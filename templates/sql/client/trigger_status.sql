CREATE TRIGGER "{{ e.trigger_prefix }}_status_{{ suffix }}" AFTER {{ event }} ON {{ source }}
WHEN {{ row }}."entity" = {{ e.entity }}
BEGIN
  UPDATE {{ e.table }}
  SET "{{ bk::SYNC_STATUS.sql }}" = CASE
      WHEN EXISTS (SELECT 1 FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."{{ row_key }}") THEN 'conflict'
      WHEN EXISTS (SELECT 1 FROM "_offgen_clashes" WHERE "entity" = {{ e.entity }} AND "local_row_id" = {{ row }}."{{ row_key }}") THEN 'conflict'
      WHEN EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."{{ row_key }}" AND "state" = 'failed') THEN 'failed'
      WHEN EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."{{ row_key }}" AND "state" = 'inflight') THEN 'syncing'
      WHEN EXISTS (SELECT 1 FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."{{ row_key }}") THEN 'pending'
      ELSE 'synced'
    END,
    "{{ bk::SYNC_ERROR.sql }}" = coalesce(
      (SELECT "message" FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."{{ row_key }}"),
      (SELECT "message" FROM "_offgen_clashes" WHERE "entity" = {{ e.entity }} AND "local_row_id" = {{ row }}."{{ row_key }}" ORDER BY "id" LIMIT 1),
      (SELECT "last_error" FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."{{ row_key }}" AND "state" = 'failed' ORDER BY "seq" LIMIT 1))
  WHERE "{{ bk::ID.sql }}" = {{ row }}."{{ row_key }}";
END;
