-- Change order for pulls: writes are serialised, so a counter bumped by each write orders
-- changes by commit.
CREATE TABLE "_offgen_counter" (
  "id" INTEGER NOT NULL PRIMARY KEY CHECK ("id" = 1),
  "value" INTEGER NOT NULL
);

INSERT INTO "_offgen_counter" ("id", "value") VALUES (1, 0);

-- Mutations that changed the database, with their results: a retried mutation gets its first
-- result back instead of being applied twice. Pruned after the retention period.
CREATE TABLE "_offgen_mutations" (
  "mutation_id" TEXT NOT NULL PRIMARY KEY,
  "user_id" TEXT NOT NULL,
  "client_id" TEXT NOT NULL,
  "entity" TEXT NULL,
  "row_id" TEXT NULL,
  "result" TEXT NULL,
  "created_at" INTEGER NOT NULL
);

CREATE INDEX "_offgen_mutations_created_at" ON "_offgen_mutations" ("created_at");

-- Every value that lost to another (lww, server_wins), kept so an admin can list and restore
-- it (/admin/audit).
CREATE TABLE "_offgen_audit" (
  "id" INTEGER NOT NULL PRIMARY KEY,
  "entity" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "mutation_id" TEXT NOT NULL,
  "user_id" TEXT NOT NULL,
  "client_id" TEXT NOT NULL,
  "reason" TEXT NOT NULL,
  "losing_data" TEXT NOT NULL,
  "winning_version" INTEGER NOT NULL,
  "created_at" INTEGER NOT NULL
);

-- The admin endpoints list a row's or an entity's entries newest first.
CREATE INDEX "_offgen_audit_row" ON "_offgen_audit" ("entity", "row_id", "id");

CREATE INDEX "_offgen_audit_entity" ON "_offgen_audit" ("entity", "id");
