{%- if pg -%}
SELECT {{ e.select }}
FROM (SELECT * FROM {{ e.table }} AS c
      WHERE c."{{ bk::DELETED_AT.sql }}" IS NULL AND ($1 = '' OR c."{{ bk::ID.sql }}" > $1::uuid) AND {{ e.owner_filter }}
      ORDER BY c."{{ bk::ID.sql }}"
      LIMIT $2) AS t
ORDER BY t."id"
{%- else -%}
SELECT {{ e.select }}
FROM (SELECT * FROM {{ e.table }} AS c
      WHERE c."{{ bk::DELETED_AT.sql }}" IS NULL AND c."{{ bk::ID.sql }}" > ?1 AND {{ e.owner_filter }}
      ORDER BY c."{{ bk::ID.sql }}"
      LIMIT ?2) AS t
ORDER BY t."id"
{%- endif %}
