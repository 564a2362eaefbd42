-- Change order for pulls: every write draws a value.
CREATE SEQUENCE "_offgen_seq";

-- Mutations that changed the database, with their results: a retried mutation gets its first
-- result back instead of being applied twice. Pruned after the retention period.
CREATE TABLE "_offgen_mutations" (
  "mutation_id" text NOT NULL PRIMARY KEY,
  "user_id" text NOT NULL,
  "client_id" text NOT NULL,
  "entity" text NULL,
  "row_id" text NULL,
  "result" text NULL,
  "created_at" bigint NOT NULL
);

CREATE INDEX "_offgen_mutations_created_at" ON "_offgen_mutations" ("created_at");

-- Every value that lost to another (lww, server_wins), kept so an admin can list and restore
-- it (/admin/audit).
CREATE TABLE "_offgen_audit" (
  "id" bigserial NOT NULL PRIMARY KEY,
  "entity" text NOT NULL,
  "row_id" uuid NOT NULL,
  "mutation_id" text NOT NULL,
  "user_id" text NOT NULL,
  "client_id" text NOT NULL,
  "reason" text NOT NULL,
  "losing_data" jsonb NOT NULL,
  "winning_version" bigint NOT NULL,
  "created_at" bigint NOT NULL
);

-- The admin endpoints list a row's or an entity's entries newest first.
CREATE INDEX "_offgen_audit_row" ON "_offgen_audit" ("entity", "row_id", "id");

CREATE INDEX "_offgen_audit_entity" ON "_offgen_audit" ("entity", "id");
