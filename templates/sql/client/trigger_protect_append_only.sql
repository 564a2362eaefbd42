CREATE TRIGGER "{{ e.trigger_prefix }}_{{ suffix }}" BEFORE {{ event }} ON {{ e.table }}
WHEN {{ e.guard }}
  AND {{ condition }}
  AND NOT EXISTS (
    SELECT 1 FROM "_offgen_outbox"
    WHERE "entity" = {{ e.entity }} AND "row_id" = OLD."id" AND "op" = 'insert'
      AND ("mutation_id" IS NULL OR "state" = 'failed'))
BEGIN
  -- Append-only rows are facts once the server may have them: a row is changed or deleted
  -- only while its insert is still queued and the server has applied nothing of it (never
  -- sent, or set aside: rejected, or too large). Any later change would be refused by the
  -- server and leave this device showing what no one else has.
  SELECT RAISE(ABORT, {{ e.append_only_message }});
END;
