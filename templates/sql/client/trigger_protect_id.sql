CREATE TRIGGER "{{ e.trigger_prefix }}_protect_id" BEFORE UPDATE OF "{{ bk::ID.sql }}" ON {{ e.table }}
WHEN OLD."{{ bk::ID.sql }}" IS NOT NEW."{{ bk::ID.sql }}"
BEGIN
  SELECT RAISE(ABORT, 'offgen: the id of a row never changes; create a new row instead');
END;
