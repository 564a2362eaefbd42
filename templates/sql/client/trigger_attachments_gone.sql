CREATE TRIGGER "{{ a.trigger_prefix }}_{{ suffix }}" AFTER {{ event }} ON {{ a.table }}
{%- if soft %}
WHEN OLD."{{ bk::DELETED_AT.sql }}" IS NULL AND NEW."{{ bk::DELETED_AT.sql }}" IS NOT NULL
{%- endif %}
BEGIN
  -- A deleted row needs none of its files: they are kept for the grace period, then evicted.
  UPDATE "_offgen_attachments" SET "state" = 'superseded', "superseded_at" = {{ a.now }}, "claim_id" = NULL
  WHERE "entity" = {{ a.entity }} AND "row_id" = {{ row }}."{{ bk::ID.sql }}" AND "state" <> 'superseded';
END;
