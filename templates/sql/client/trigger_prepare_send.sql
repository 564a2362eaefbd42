CREATE TRIGGER "{{ e.trigger_prefix }}_prepare_send" AFTER UPDATE OF "state" ON "_offgen_outbox"
WHEN NEW."entity" = {{ e.entity }} AND NEW."state" = 'inflight' AND NEW."payload" IS NULL
BEGIN
  -- First claim: fix the mutation's id and payload from the row as it is now. From here on
  -- the entry never changes, so a retry after a lost response is the very same mutation.
  UPDATE "_offgen_outbox"
  SET "mutation_id" = coalesce("mutation_id", {{ e.uuid }}),
    "payload" = CASE NEW."op"
      WHEN 'delete' THEN '{}'
      WHEN 'insert' THEN coalesce((SELECT {{ e.row_payload }} FROM {{ e.table }} WHERE {{ e.table }}."id" = NEW."row_id"), '{}')
      ELSE coalesce((SELECT {{ e.changed_payload }} FROM {{ e.table }} WHERE {{ e.table }}."id" = NEW."row_id"), '{}')
    END
  WHERE "seq" = NEW."seq";
END;
