{%- if pg -%}
INSERT INTO {{ e.table }} ({{ e.columns }}, "_offgen_seq", "_offgen_xid")
SELECT {{ e.values }}, nextval('"_offgen_seq"'), pg_current_xact_id()
FROM jsonb_to_recordset($1::jsonb) AS r({{ e.recordset }})
{%- else -%}
INSERT INTO {{ e.table }} ({{ e.columns }}, "_offgen_seq")
SELECT {{ e.values }}, json_extract(j."value", '$._seq')
FROM json_each(?1) AS j
{%- endif %}
