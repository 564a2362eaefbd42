-- Pulled records that could not be applied because another local row holds one of their unique
-- values (say a ranger created here with a badge number the server gave someone else). The
-- record waits here, the local row shows `conflict` with the reason, and the pull goes on; each
-- pull tries the waiting records again, so the clash ends when either row changes.
CREATE TABLE "_offgen_clashes" (
  "entity" TEXT NOT NULL,
  "id" TEXT NOT NULL,
  "version" INTEGER NOT NULL,
  "deleted" INTEGER NOT NULL,
  "updated_at" INTEGER NULL,
  "deleted_at" INTEGER NULL,
  "data" TEXT NOT NULL,
  "local_row_id" TEXT NOT NULL,
  "message" TEXT NOT NULL,
  "created_at" INTEGER NOT NULL,
  PRIMARY KEY ("entity", "id")
);
