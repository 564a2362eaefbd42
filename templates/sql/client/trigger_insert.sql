CREATE TRIGGER "{{ e.trigger_prefix }}_insert" AFTER INSERT ON {{ e.table }}
WHEN {{ e.guard }}
BEGIN
  INSERT INTO "_offgen_outbox" ("mutation_id", "entity", "row_id", "op", "payload", "base_version", "created_at")
  VALUES ({{ e.uuid }}, {{ e.entity }}, NEW."id", 'insert', {{ e.full_new }}, NULL, {{ e.now }});
  UPDATE {{ e.table }} SET "sync_status" = 'pending' WHERE "id" = NEW."id" AND "sync_status" = 'synced';
END;
