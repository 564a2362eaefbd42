-- Where push results are handed to SQL: each insert is applied to its outbox entry and row by a
-- trigger and removed again. A result that stays here names no entry in flight.
CREATE TABLE "_offgen_push_results" (
  "mutation_id" TEXT NOT NULL,
  "status" TEXT NOT NULL,
  "version" INTEGER NULL,
  "record" TEXT NULL,
  "error" TEXT NULL,
  "overridden" TEXT NULL,
  "received_at" INTEGER NOT NULL
);
