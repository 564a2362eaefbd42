{%- if pg -%}
SELECT t."id"::text AS "id" FROM {{ e.table }} AS t
WHERE t."id" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::uuid))
{%- else -%}
SELECT t."id" AS "id" FROM {{ e.table }} AS t
WHERE t."id" IN (SELECT "value" FROM json_each(?1))
{%- endif %}
