CREATE TRIGGER "{{ a.trigger_prefix }}_{{ suffix }}" AFTER {{ event }} ON {{ a.table }}
{%- if !update %}
WHEN {{ a.any_reference_set }}
{%- endif %}
BEGIN
{%- for f in a.fields %}
{%- if update %}
  -- {{ f.key }} now refers to another file (or none): the one it referred to is superseded,
  -- and one it referred to before comes back.
  UPDATE "_offgen_attachments" SET "state" = 'superseded', "superseded_at" = {{ a.now }}, "claim_id" = NULL
  WHERE "entity" = {{ a.entity }} AND "row_id" = NEW."id" AND "field" = {{ f.key }} AND "state" <> 'superseded'
    AND "sha256" IS NOT {{ f.sha256 }};
  UPDATE "_offgen_attachments" SET "state" = CASE WHEN "local_path" IS NULL THEN 'remote' ELSE 'pending' END,
    "superseded_at" = NULL, "attempts" = 0, "next_attempt_at" = NULL, "last_error" = NULL
  WHERE "entity" = {{ a.entity }} AND "row_id" = NEW."id" AND "field" = {{ f.key }} AND "state" = 'superseded'
    AND "sha256" = {{ f.sha256 }};
{%- endif %}
  -- A file this device holds (under any row) is uploaded for this row too; one it does not
  -- is the server's, fetched when the app asks for it.
  INSERT INTO "_offgen_attachments" ("entity", "row_id", "field", "sha256", "size", "media_type", "local_path", "state", "created_at")
  SELECT {{ a.entity }}, NEW."id", {{ f.key }}, {{ f.sha256 }}, {{ f.size }}, {{ f.media_type }}, "p"."path",
    CASE WHEN "p"."path" IS NULL THEN 'remote' ELSE 'pending' END, {{ a.now }}
  FROM (SELECT (SELECT "local_path" FROM "_offgen_attachments" WHERE "sha256" = {{ f.sha256 }} AND "local_path" IS NOT NULL ORDER BY "seq" LIMIT 1) AS "path") AS "p"
  WHERE {{ f.is_reference }}
  ON CONFLICT ("entity", "row_id", "field", "sha256") DO NOTHING;
{%- endfor %}
END;
