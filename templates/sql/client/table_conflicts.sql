-- Writes the server refused because the row had moved on (conflict policy `version`): the
-- server's record and the local change, kept side by side until the app resolves them.
CREATE TABLE "_offgen_conflicts" (
  "entity" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "mutation_id" TEXT NOT NULL,
  "op" TEXT NOT NULL,
  "server_version" INTEGER NULL,
  "server_record" TEXT NULL,
  "local_payload" TEXT NOT NULL,
  "message" TEXT NOT NULL,
  "resolution" TEXT NULL CHECK ("resolution" IN ('keep_local', 'take_server')),
  "created_at" INTEGER NOT NULL,
  PRIMARY KEY ("entity", "row_id")
);
