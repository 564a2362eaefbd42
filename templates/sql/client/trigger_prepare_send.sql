CREATE TRIGGER "{{ e.trigger_prefix }}_prepare_send" AFTER UPDATE OF "mutation_id" ON "_offgen_outbox"
WHEN NEW."entity" = {{ e.entity }} AND OLD."mutation_id" IS NULL AND NEW."mutation_id" IS NOT NULL
BEGIN
  -- The entry got its mutation id: fix its payload from the row as it is now. From here on
  -- the entry never changes, so a retry after a lost response is the very same mutation.
  UPDATE "_offgen_outbox"
  SET "payload" = CASE NEW."op"
      WHEN 'delete' THEN '{}'
      WHEN 'insert' THEN coalesce((SELECT {{ e.row_payload }} FROM {{ e.table }} WHERE {{ e.table }}."{{ bk::ID.sql }}" = NEW."row_id"), '{}')
      ELSE coalesce((SELECT {{ e.changed_payload }} FROM {{ e.table }} WHERE {{ e.table }}."{{ bk::ID.sql }}" = NEW."row_id"), '{}')
    END
  WHERE "seq" = NEW."seq";
END;
