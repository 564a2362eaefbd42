CREATE TRIGGER "{{ e.trigger_prefix }}_update" AFTER UPDATE ON {{ e.table }}
WHEN {{ e.guard }}
  AND NEW."{{ bk::DELETED_AT.sql }}" IS NULL
  AND ({{ e.fields_changed }})
BEGIN
{%- for check in e.value_checks %}
  {{ check }}
{%- endfor %}
{%- if e.stamps %}
  {{ e.tick }}
{%- endif %}
  -- Fold into the row's newest entry while it is queued and was never sent: an insert takes
  -- the whole row when prepared anyway; an update adds the fields this write changed.
  UPDATE "_offgen_outbox" SET "changed" = "changed" || {{ e.new_changed_keys }}
{%- if e.stamps %},
    "stamp" = {{ e.stamp }}, "field_stamps" = {{ e.folded_field_stamps }}
{%- endif %}
  WHERE "seq" = {{ e.last_entry_new }} AND "state" = 'pending' AND "mutation_id" IS NULL AND "op" = 'update';
{%- if e.append_only %}
  -- An append-only row changes only while its insert waits unsent or set aside (the
  -- append_only_update trigger refuses any other change): the insert, made from the row when
  -- it is prepared, carries this change; there is nothing else to queue.
{%- else %}
  -- Otherwise (no entry, or the newest was sent or failed) queue a new update.
  INSERT INTO "_offgen_outbox" ("entity", "row_id", "op", "changed", "base_version", {% if e.stamps %}"stamp", "field_stamps", {% endif %}"created_at")
  SELECT {{ e.entity }}, NEW."{{ bk::ID.sql }}", 'update', {{ e.changed_keys }}, NEW."{{ bk::VERSION.sql }}", {% if e.stamps %}{{ e.stamp }}, {{ e.new_field_stamps }}, {% endif %}{{ e.now }}
  WHERE NOT EXISTS (
    SELECT 1 FROM "_offgen_outbox"
    WHERE "seq" = {{ e.last_entry_new }} AND "state" = 'pending' AND "mutation_id" IS NULL);
{%- endif %}
  -- A rejected entry waiting out its retry delay is due at once: this edit may be the fix.
  UPDATE "_offgen_outbox" SET "next_attempt_at" = NULL
  WHERE "seq" = {{ e.last_entry_new }} AND "state" = 'pending' AND "mutation_id" IS NULL AND "next_attempt_at" IS NOT NULL;
  UPDATE {{ e.table }} SET "{{ bk::SYNC_STATUS.sql }}" = 'pending' WHERE "{{ bk::ID.sql }}" = NEW."{{ bk::ID.sql }}" AND "{{ bk::SYNC_STATUS.sql }}" = 'synced';
END;
