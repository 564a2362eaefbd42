{%- if pg -%}
SELECT "record", "cursor_xid", "cursor_seq"
FROM (
{%- for e in entities %}
  (SELECT {{ e.record }} AS "record", t."_offgen_xid"::text AS "cursor_xid", t."_offgen_seq" AS "cursor_seq", t."_offgen_xid" AS "xid"
   -- Rows are chosen and limited first; their JSON is built for the page only.
   FROM (SELECT * FROM {{ e.table }} AS c
         WHERE (c."_offgen_xid", c."_offgen_seq") > ($1::xid8, $2)
           AND c."_offgen_xid" < pg_snapshot_xmin(pg_current_snapshot())
           AND {{ e.owner_filter }}
         ORDER BY c."_offgen_xid", c."_offgen_seq"
         LIMIT $3) AS t)
{%- if !loop.last %}
  UNION ALL
{%- endif %}
{%- endfor %}
) AS changes
WHERE $4::text IS NOT DISTINCT FROM $4::text AND $5::text IS NOT DISTINCT FROM $5::text
ORDER BY "xid", "cursor_seq"
LIMIT $3
{%- else -%}
SELECT "record", "cursor_seq"
FROM (
{%- for e in entities %}
  SELECT {{ e.record }} AS "record", t."_offgen_seq" AS "cursor_seq"
  -- Rows are chosen and limited first; their JSON is built for the page only.
  FROM (SELECT * FROM {{ e.table }} AS c
        WHERE c."_offgen_seq" > ?1 AND {{ e.owner_filter }}
        ORDER BY c."_offgen_seq"
        LIMIT ?2) AS t
{%- if !loop.last %}
  UNION ALL
{%- endif %}
{%- endfor %}
) AS changes
WHERE ?3 IS ?3 AND ?4 IS ?4
ORDER BY "cursor_seq"
LIMIT ?2
{%- endif %}
