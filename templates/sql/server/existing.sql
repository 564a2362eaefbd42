{%- if pg -%}
SELECT c."id"::text AS "id" FROM {{ e.table }} AS c
WHERE c."id" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)::uuid)) AND {{ e.owner_filter }}
{%- else -%}
SELECT c."id" AS "id" FROM {{ e.table }} AS c
WHERE c."id" IN (SELECT "value" FROM json_each(?1)) AND {{ e.owner_filter }}
{%- endif %}
