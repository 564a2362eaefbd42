CREATE TRIGGER "{{ e.trigger_prefix }}_insert" AFTER INSERT ON {{ e.table }}
WHEN {{ e.guard }}
BEGIN
{%- for check in e.value_checks %}
  {{ check }}
{%- endfor %}
  -- The payload is the whole row, taken when the entry is first claimed: later writes before
  -- that are in it without any work here. (A new row is `pending` by its column default.)
  INSERT INTO "_offgen_outbox" ("entity", "row_id", "op", "base_version", "created_at")
  VALUES ({{ e.entity }}, NEW."id", 'insert', NULL, {{ e.now }});
END;
