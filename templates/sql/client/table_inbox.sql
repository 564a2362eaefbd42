-- Where server records are handed to SQL: each insert is applied to its entity's table by a
-- trigger and removed again. A record that stays here names an entity this schema lacks.
CREATE TABLE "_offgen_inbox" (
  "entity" TEXT NOT NULL,
  "id" TEXT NOT NULL,
  "version" INTEGER NOT NULL,
  "deleted" INTEGER NOT NULL,
  "updated_at" INTEGER NULL,
  "deleted_at" INTEGER NULL,
  "data" TEXT NOT NULL
);
