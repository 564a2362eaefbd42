{#- What a push reads, in one statement run after the batch's mutation ids are locked: the
    stored results, the touched rows (locked on PostgreSQL, in table then id order) and the
    referenced rows that exist for the caller. Each list of ids is a parameter of its own.
    Each id is looked up by its key. Left to choose, both databases may scan the owner's
    index instead, every row the owner has (PostgreSQL's plan is made once, while tables are
    small): PostgreSQL filters by owner outside a subquery it cannot push the filter into
    (OFFSET 0), SQLite keeps the ids the outer loop (CROSS JOIN). -#}
{%- if pg -%}
SELECT 'stored' AS "part", NULL::text AS "entity", m."mutation_id" AS "{{ bk::ID.sql }}", NULL::bigint AS "{{ bk::VERSION.sql }}", NULL::bigint AS "{{ bk::UPDATED_AT.sql }}", NULL::bigint AS "{{ bk::DELETED_AT.sql }}", NULL::text AS "data", NULL::text AS "clock", m."user_id" AS "user_id", m."result" AS "result"
FROM "_offgen_mutations" AS m
WHERE m."mutation_id" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))
  AND $2::text IS NOT DISTINCT FROM $2::text AND $3::text IS NOT DISTINCT FROM $3::text
{%- for e in entities %}
UNION ALL
SELECT 'row', {{ e.name }}, l."{{ bk::ID.sql }}", l."{{ bk::VERSION.sql }}", l."{{ bk::UPDATED_AT.sql }}", l."{{ bk::DELETED_AT.sql }}", l."data", l."clock", NULL, NULL
FROM (SELECT {{ e.view.select }}
      FROM {{ e.view.table }} AS t
      WHERE t."{{ bk::ID.sql }}" = ANY(ARRAY(SELECT jsonb_array_elements_text({{ e.rows }}::jsonb)::uuid))
      ORDER BY t."{{ bk::ID.sql }}"
      FOR UPDATE) AS l
{%- endfor %}
{%- for e in entities %}
UNION ALL
SELECT 'ref', {{ e.name }}, c."{{ bk::ID.sql }}"::text, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM (SELECT * FROM {{ e.view.table }} AS c
      WHERE c."{{ bk::ID.sql }}" = ANY(ARRAY(SELECT jsonb_array_elements_text({{ e.refs }}::jsonb)::uuid))
      OFFSET 0) AS c
WHERE {{ e.view.owner_filter }}
{%- endfor %}
{%- else -%}
SELECT 'stored' AS "part", NULL AS "entity", m."mutation_id" AS "{{ bk::ID.sql }}", NULL AS "{{ bk::VERSION.sql }}", NULL AS "{{ bk::UPDATED_AT.sql }}", NULL AS "{{ bk::DELETED_AT.sql }}", NULL AS "data", NULL AS "clock", m."user_id" AS "user_id", m."result" AS "result"
FROM "_offgen_mutations" AS m
WHERE m."mutation_id" IN (SELECT "value" FROM json_each(?1))
  AND ?2 IS ?2 AND ?3 IS ?3
{%- for e in entities %}
UNION ALL
SELECT 'row', {{ e.name }}, {{ e.view.select }}, NULL, NULL
FROM json_each({{ e.rows }}) AS j CROSS JOIN {{ e.view.table }} AS t
WHERE t."{{ bk::ID.sql }}" = j."value"
{%- endfor %}
{%- for e in entities %}
UNION ALL
SELECT 'ref', {{ e.name }}, c."{{ bk::ID.sql }}", NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM json_each({{ e.refs }}) AS j CROSS JOIN {{ e.view.table }} AS c
WHERE c."{{ bk::ID.sql }}" = j."value" AND {{ e.view.owner_filter }}
{%- endfor %}
{%- endif %}
