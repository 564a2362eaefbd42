CREATE TRIGGER "{{ e.trigger_prefix }}_{{ suffix }}" {{ event }} ON {{ e.table }}
WHEN {{ e.guard }}
  AND {{ condition }}
BEGIN
{%- if e.stamps %}
  {{ e.tick }}
{%- endif %}
{%- if e.append_only %}
  -- An append-only row is deleted only before the server has applied any of it (the
  -- append_only_delete trigger refuses any other delete): its queued insert, unsent or set
  -- aside, goes with it, and there is nothing to send.
  DELETE FROM "_offgen_conflicts" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."{{ bk::ID.sql }}";
  DELETE FROM "_offgen_outbox" WHERE "entity" = {{ e.entity }} AND "row_id" = {{ row }}."{{ bk::ID.sql }}";
{%- else %}
  -- A queued update that was never sent becomes the delete.
  UPDATE "_offgen_outbox" SET "op" = 'delete', "changed" = NULL{% if e.stamps %}, "stamp" = {{ e.stamp }}, "field_stamps" = NULL{% endif %}
  WHERE "seq" = {{ last_entry }} AND "state" = 'pending' AND "mutation_id" IS NULL AND "op" = 'update';
  -- No such entry to fold into: queue the delete.
  INSERT INTO "_offgen_outbox" ("entity", "row_id", "op", "base_version", {% if e.stamps %}"stamp", {% endif %}"created_at")
  SELECT {{ e.entity }}, {{ row }}."{{ bk::ID.sql }}", 'delete', {{ row }}."{{ bk::VERSION.sql }}", {% if e.stamps %}{{ e.stamp }}, {% endif %}{{ e.now }}
  WHERE NOT EXISTS (
    SELECT 1 FROM "_offgen_outbox"
    WHERE "seq" = {{ last_entry }} AND "state" = 'pending' AND "mutation_id" IS NULL);
{%- if row == "NEW" %}
  UPDATE {{ e.table }} SET "{{ bk::SYNC_STATUS.sql }}" = 'pending' WHERE "{{ bk::ID.sql }}" = NEW."{{ bk::ID.sql }}" AND "{{ bk::SYNC_STATUS.sql }}" = 'synced';
{%- endif %}
  -- The server never saw a row whose insert was never sent: nothing to send at all.
  DELETE FROM "_offgen_outbox"
  WHERE "seq" = {{ last_entry }} AND "state" = 'pending' AND "mutation_id" IS NULL AND "op" = 'insert';
{%- endif %}
END;
