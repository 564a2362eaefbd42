{%- if pg -%}
SELECT {{ e.select }}
FROM {{ e.table }} AS t
WHERE t."id" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::uuid))
ORDER BY t."id"
FOR UPDATE
{%- else -%}
SELECT {{ e.select }}
FROM {{ e.table }} AS t
WHERE t."id" IN (SELECT "value" FROM json_each(?1))
ORDER BY t."id"
{%- endif %}
