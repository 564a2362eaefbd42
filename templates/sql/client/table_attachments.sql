-- Files that rows' attachment fields refer to, and their way to and from the server: a queue
-- of its own, apart from `_offgen_outbox`, so a record never waits for its files. One row per
-- file a field of a row refers to, written by triggers: a local file the app attached
-- (`pending` until uploaded), or a server's file this device has not (`remote`). A field that
-- comes to refer to another file supersedes the old one. `local_path` is the file on the
-- device (NULL when it is not here); it is deleted only by `evict_attachment`, once the server
-- holds it (or no row needs it) and the grace period has passed, never when an upload fails.
CREATE TABLE "_offgen_attachments" (
  "seq" INTEGER NOT NULL PRIMARY KEY,
  "entity" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "field" TEXT NOT NULL,
  "sha256" TEXT NOT NULL,
  "size" INTEGER NOT NULL,
  "media_type" TEXT NOT NULL,
  "local_path" TEXT NULL,
  "state" TEXT NOT NULL DEFAULT 'pending' CHECK ("state" IN ('pending', 'uploading', 'uploaded', 'failed', 'superseded', 'remote')),
  "attempts" INTEGER NOT NULL DEFAULT 0,
  "next_attempt_at" INTEGER NULL,
  "last_error" TEXT NULL,
  "claim_id" TEXT NULL,
  "created_at" INTEGER NOT NULL,
  "confirmed_at" INTEGER NULL,
  "superseded_at" INTEGER NULL,
  "evicted_at" INTEGER NULL,
  UNIQUE ("entity", "row_id", "field", "sha256")
);
