-- Files uploaded for attachment fields: for which row's field a file (named by its SHA-256)
-- was uploaded, by whom, when. The bytes are in the object store once per hash; a row's file
-- is served only after it was uploaded for that row, so knowing a hash gives no file.
CREATE TABLE IF NOT EXISTS "_offgen_attachments" (
  "entity" text NOT NULL,
  "row_id" text NOT NULL,
  "field" text NOT NULL,
  "sha256" text NOT NULL,
  "size" bigint NOT NULL,
  "media_type" text NOT NULL,
  "user_id" text NOT NULL,
  "uploaded_at" bigint NOT NULL,
  PRIMARY KEY ("entity", "row_id", "field", "sha256")
);
