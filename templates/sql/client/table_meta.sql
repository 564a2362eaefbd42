-- Sync state that must survive restarts: this device's id, the pull cursor, the attempt limit
-- and retry delay, the clock correction learned from the server, the sync lease, and the flag
-- that silences the queue triggers while a server change is being applied.
CREATE TABLE "_offgen_meta" (
  "key" TEXT NOT NULL PRIMARY KEY,
  "value" TEXT NOT NULL
);
