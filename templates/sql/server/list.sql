{%- if pg -%}
SELECT {{ e.select }}
FROM (SELECT * FROM {{ e.table }} AS c
      WHERE c."deleted_at" IS NULL AND ($1 = '' OR c."id" > $1::uuid) AND {{ e.owner_filter }}
      ORDER BY c."id"
      LIMIT $2) AS t
ORDER BY t."id"
{%- else -%}
SELECT {{ e.select }}
FROM (SELECT * FROM {{ e.table }} AS c
      WHERE c."deleted_at" IS NULL AND c."id" > ?1 AND {{ e.owner_filter }}
      ORDER BY c."id"
      LIMIT ?2) AS t
ORDER BY t."id"
{%- endif %}
