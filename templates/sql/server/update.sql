{%- if pg -%}
UPDATE {{ e.table }} AS t
SET {{ e.assignments }}, "_offgen_seq" = nextval('"_offgen_seq"'), "_offgen_xid" = pg_current_xact_id()
FROM json_to_recordset($1::json) AS r({{ e.recordset }})
WHERE t."id" = r."id"
{%- else -%}
UPDATE {{ e.table }} AS t
SET {{ e.assignments }}, "_offgen_seq" = json_extract(j."value", '$._seq')
FROM jsonb_each(?1) AS j
WHERE t."id" = json_extract(j."value", '$.id')
{%- endif %}
