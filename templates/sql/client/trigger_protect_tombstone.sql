CREATE TRIGGER "{{ e.trigger_prefix }}_protect_tombstone" BEFORE UPDATE ON {{ e.table }}
WHEN {{ e.guard }}
  AND OLD."{{ bk::DELETED_AT.sql }}" IS NOT NULL
  AND ({{ e.data_changed }})
BEGIN
  SELECT RAISE(ABORT, 'offgen: this row is deleted; deleted rows cannot be changed or restored');
END;
