{%- if pg -%}
INSERT INTO {{ e.table }} ({{ e.columns }}, "_offgen_seq", "_offgen_xid")
SELECT {{ e.values }}, nextval('"_offgen_seq"'), pg_current_xact_id()
FROM json_to_recordset($1::json) AS r({{ e.recordset }})
{%- else -%}
INSERT INTO {{ e.table }} ({{ e.columns }}, "_offgen_seq")
SELECT {{ e.values }}, json_extract(j."value", '$._seq')
FROM jsonb_each(?1) AS j
{%- endif %}
