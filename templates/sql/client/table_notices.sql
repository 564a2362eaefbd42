-- Local changes the server decided against on its own (`lww` and `server_wins` entities): the
-- row already shows the server's outcome, and this keeps what this device had written, for the
-- app to show until the user dismisses it.
CREATE TABLE "_offgen_notices" (
  "id" INTEGER NOT NULL PRIMARY KEY,
  "entity" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "mutation_id" TEXT NOT NULL,
  "op" TEXT NOT NULL,
  "local_payload" TEXT NOT NULL,
  "server_record" TEXT NULL,
  "overridden" TEXT NULL,
  "message" TEXT NOT NULL,
  "created_at" INTEGER NOT NULL
);
