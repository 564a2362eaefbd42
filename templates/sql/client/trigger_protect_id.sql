CREATE TRIGGER "{{ e.trigger_prefix }}_protect_id" BEFORE UPDATE OF "id" ON {{ e.table }}
WHEN OLD."id" IS NOT NEW."id"
BEGIN
  SELECT RAISE(ABORT, 'offgen: the id of a row never changes; create a new row instead');
END;
