CREATE TRIGGER "{{ e.trigger_prefix }}_insert" AFTER INSERT ON {{ e.table }}
WHEN {{ e.guard }}
BEGIN
{%- for check in e.value_checks %}
  {{ check }}
{%- endfor %}
{%- if e.stamps %}
  {{ e.tick }}
{%- endif %}
  -- The payload is the whole row, taken when the entry is prepared for a push: later writes
  -- before that are in it without any work here. (A new row is `pending` by its column default.)
  INSERT INTO "_offgen_outbox" ("entity", "row_id", "op", "base_version", {% if e.stamps %}"stamp", {% endif %}"created_at")
  VALUES ({{ e.entity }}, NEW."{{ bk::ID.sql }}", 'insert', NULL, {% if e.stamps %}{{ e.stamp }}, {% endif %}{{ e.now }});
END;
