-- Files uploaded for attachment fields: for which row's field a file (named by its SHA-256)
-- was uploaded, by whom, when. The bytes are in the object store once per hash; a row's file
-- is served only after it was uploaded for that row, so knowing a hash gives no file.
CREATE TABLE IF NOT EXISTS "_offgen_attachments" (
  "entity" TEXT NOT NULL,
  "row_id" TEXT NOT NULL,
  "field" TEXT NOT NULL,
  "sha256" TEXT NOT NULL,
  "size" INTEGER NOT NULL,
  "media_type" TEXT NOT NULL,
  "user_id" TEXT NOT NULL,
  "uploaded_at" INTEGER NOT NULL,
  PRIMARY KEY ("entity", "row_id", "field", "sha256")
);
