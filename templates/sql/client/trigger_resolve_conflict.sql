CREATE TRIGGER "{{ e.trigger_prefix }}_resolve_conflict" AFTER UPDATE OF "resolution" ON "_offgen_conflicts"
WHEN NEW."entity" = {{ e.entity }} AND NEW."resolution" IS NOT NULL
BEGIN
  -- keep_local: resend the local write on top of the server's version.
  UPDATE {{ e.table }} SET "{{ bk::VERSION.sql }}" = NEW."server_version"
  WHERE NEW."resolution" = 'keep_local' AND "{{ bk::ID.sql }}" = NEW."row_id" AND NEW."server_version" IS NOT NULL;
  UPDATE "_offgen_outbox" SET "base_version" = NEW."server_version"
  WHERE NEW."resolution" = 'keep_local' AND "entity" = {{ e.entity }} AND "row_id" = NEW."row_id";
  UPDATE "_offgen_outbox" SET "state" = 'pending', "attempts" = 0, "last_error" = NULL
  WHERE NEW."resolution" = 'keep_local' AND "mutation_id" = NEW."mutation_id";
  -- take_server: drop the local writes and take the server's record.
  DELETE FROM "_offgen_outbox"
  WHERE NEW."resolution" = 'take_server' AND "entity" = {{ e.entity }} AND "row_id" = NEW."row_id";
  DELETE FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = NEW."row_id";
  INSERT INTO "_offgen_inbox" ("entity", "id", "version", "deleted", "updated_at", "deleted_at", "data")
  SELECT {{ e.entity }}, NEW."row_id", json_extract(NEW."server_record", '$.version'),
    coalesce(json_extract(NEW."server_record", '$.deleted'), 0), json_extract(NEW."server_record", '$.updatedAt'),
    json_extract(NEW."server_record", '$.deletedAt'), coalesce(json_extract(NEW."server_record", '$.data'), '{}')
  WHERE NEW."resolution" = 'take_server' AND NEW."server_record" IS NOT NULL;
END;
