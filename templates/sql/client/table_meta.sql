-- Sync state that must survive restarts: the pull cursor, this device's id, the attempt limit,
-- and the flag that silences the queue triggers while a server change is being applied.
CREATE TABLE "_offgen_meta" (
  "key" TEXT NOT NULL PRIMARY KEY,
  "value" TEXT NOT NULL
);
