-- The sync queue: one row per local change not yet acknowledged by the server, written by the
-- triggers in the same transaction as the change itself. A queued update records which fields
-- changed; its mutation id and payload are made from the row when the entry is prepared for a
-- push, and never change after that: a sent mutation may already be applied. `stamp` and
-- `field_stamps` (lww entities) are the edit times the server compares; `next_attempt_at`
-- holds a rejected entry back for its retry delay; `claim_id` names the sync that sent it.
CREATE TABLE "_offgen_outbox" (
  "seq" INTEGER NOT NULL PRIMARY KEY,
  "mutation_id" TEXT NULL,
  "entity" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "op" TEXT NOT NULL CHECK ("op" IN ('insert', 'update', 'delete')),
  "changed" TEXT NULL,
  "payload" TEXT NULL,
  "base_version" INTEGER NULL,
  "stamp" INTEGER NULL,
  "field_stamps" TEXT NULL,
  "created_at" INTEGER NOT NULL,
  "attempts" INTEGER NOT NULL DEFAULT 0,
  "next_attempt_at" INTEGER NULL,
  "state" TEXT NOT NULL DEFAULT 'pending' CHECK ("state" IN ('pending', 'inflight', 'failed')),
  "last_error" TEXT NULL,
  "claim_id" TEXT NULL,
  "inflight_since" INTEGER NULL
);
