{#- What a push writes, in one statement (PostgreSQL: data-modifying CTEs): the rows, each
    with its place in the change stream, the audit entries and the idempotency records, each
    list a parameter of its own. The change-sequence values are drawn first and handed out in
    the order of the records' `_seq` (1, 2, ...: the batch's order), so a pull lists the rows
    as the device queued them. Changed rows are found by their ids (`= ANY`), so the plan,
    made once while the table is small, cannot be a join over the whole table. -#}
WITH "seq" AS MATERIALIZED (
  SELECT coalesce(array_agg(d."n" ORDER BY d."n"), '{}'::bigint[]) AS "v"
  FROM (SELECT nextval('"_offgen_seq"') AS "n" FROM generate_series(1, $1::integer)) AS d)
{%- for e in entities %},
"insert_{{ loop.index }}" AS (
  INSERT INTO {{ e.view.table }} ({{ e.view.columns }}, "_offgen_seq", "_offgen_xid")
  SELECT {{ e.view.values }}, s."v"[r."_seq"], pg_current_xact_id()
  FROM "seq" AS s, json_to_recordset({{ e.inserts }}::json) AS r({{ e.view.recordset }}, "_seq" integer)),
"changed_{{ loop.index }}" AS MATERIALIZED (
  SELECT * FROM json_to_recordset({{ e.updates }}::json) AS r({{ e.view.recordset }}, "_seq" integer)),
"update_{{ loop.index }}" AS (
  UPDATE {{ e.view.table }} AS t
  SET {{ e.view.assignments }}, "_offgen_seq" = s."v"[r."_seq"], "_offgen_xid" = pg_current_xact_id()
  FROM "seq" AS s, "changed_{{ loop.index }}" AS r
  WHERE t."{{ bk::ID.sql }}" = r."{{ bk::ID.sql }}" AND t."{{ bk::ID.sql }}" = ANY(ARRAY(SELECT c."{{ bk::ID.sql }}" FROM "changed_{{ loop.index }}" AS c)))
{%- endfor %},
"audit" AS (
  INSERT INTO "_offgen_audit" ("entity", "row_id", "mutation_id", "user_id", "client_id", "reason", "losing_data", "winning_version", "created_at")
  SELECT r."entity", r."rowId"::uuid, r."mutationId", r."userId", r."clientId", r."reason", r."losingData", r."winningVersion", r."createdAt"
  FROM json_to_recordset({{ audit }}::json) AS r("entity" text, "rowId" text, "mutationId" text, "userId" text, "clientId" text, "reason" text, "losingData" jsonb, "winningVersion" bigint, "createdAt" bigint)),
"results" AS (
  INSERT INTO "_offgen_mutations" ("mutation_id", "user_id", "client_id", "entity", "row_id", "result", "created_at")
  SELECT r."mutationId", r."userId", r."clientId", r."entity", r."rowId", r."result", r."createdAt"
  FROM json_to_recordset({{ results }}::json) AS r("mutationId" text, "userId" text, "clientId" text, "entity" text, "rowId" text, "result" text, "createdAt" bigint))
SELECT 1 AS "written"
