
-- Attachments ({{ fields }}): files kept apart from the records, with a queue of their own
-- (_offgen_attachments). A record refers to its file by content (SHA-256, size, media type)
-- and syncs at once; the file follows on its own, never holding a record back. Run this loop
-- apart from the record sync above, on its own lease (a long upload must not stop records
-- from syncing), after a record sync (an upload needs its row on the server):
--
--   Start:  1. acquire_attachment_lease(:holder, :now, :until) as acquire_sync_lease;
--              release_attachment_lease(:holder) at the end.
--           2. recover_attachment_uploads(): uploads a killed run left claimed go back.
--   Upload: 1. claim_attachment_upload(:claim, :now, :metered) (:metered 1 on a metered
--              network: the app's rules, set_attachment_policy, say what may go there), then
--              claimed_attachment(:claim) -> the file; none: uploads are done.
--           2. HEAD /attachments/<remote_key>: 200: the server holds it for this row (a
--              retry after a lost answer): confirm_attachment_upload(:claim, :now). A size
--              above the answer's Offgen-Attachment-Max-Bytes: set_aside_attachment(:claim,
--              :error), never sent.
--           3. PUT /attachments/<remote_key> with the file's bytes, streamed. 200, 201:
--              confirm_attachment_upload(:claim, :now). 413: set_aside_attachment. 404 (the
--              row is not on the server yet), 409 (its field refers to another file), 422 (the
--              bytes did not match the hash on the way): retry_attachment_upload(:claim,
--              :error, :now): due again after a delay that doubles, failed after max_attempts.
--              The local file no longer matching its hash: set_aside_attachment. No answer,
--              or any other status: release_attachment_upload(:claim), and stop (nothing
--              counted). Repeat.
--   Fetch:  attachment_downloads_due(:now, :metered, :limit) (only when the app asked for
--           eager downloads) -> files to fetch: GET /attachments/<remote_key> into a
--           temporary file, hash checked, then renamed into place and
--           confirm_attachment_download(:seq, :local_path, :now); 404 (not uploaded yet):
--           retry_attachment_download(:seq, :error, :now). The app fetches one on demand
--           the same way, after find_attachment(:entity, :row_id, :field).
--   Evict:  evictable_attachments(:now) -> local paths; for each, evict_attachment(:local_path,
--           :now), and delete the file only if that changed a row (the statement checks again
--           that no row still needs it). Then forget_evicted().
--   App:    attach_file(...), attachment_stats(:now), list_failed_attachments(),
--           retry_failed_attachment(:seq), discard_attachment(:seq), retry_waiting_attachments(),
--           set_attachment_policy(...)

-- name: attach_file
-- Attaches the file at :local_path (its bytes hash to :sha256, lowercase hex; the client
-- hashes it) to field :field (wire key) of row :row_id of :entity: the row's field is set to
-- refer to it by a trigger, as a local write, and the file is queued for upload. From now on
-- the file is the sync's: kept until the server holds it, then for the grace period, then
-- deleted. Changes no row when :entity has no attachment field :field; a row that does not
-- exist or is deleted is refused.
-- params: :entity, :row_id, :field, :sha256, :size, :media_type, :local_path, :now
INSERT INTO "_offgen_attachments" ("entity", "row_id", "field", "sha256", "size", "media_type", "local_path", "state", "created_at")
SELECT :entity, :row_id, :field, :sha256, :size, :media_type, :local_path, 'pending', :now
WHERE (:entity, :field) IN (VALUES {{ field_list }})
ON CONFLICT ("entity", "row_id", "field", "sha256") DO UPDATE SET "local_path" = excluded."local_path",
  "state" = 'pending', "attempts" = 0, "next_attempt_at" = NULL, "last_error" = NULL, "claim_id" = NULL,
  "superseded_at" = NULL, "evicted_at" = NULL;

-- name: acquire_attachment_lease
-- As acquire_sync_lease, for the attachment loop: uploads run on a lease of their own, so a
-- long upload never keeps records from syncing.
-- params: :holder, :now, :until
INSERT INTO "_offgen_meta" ("key", "value") VALUES ('attachment_lease', :holder || ' ' || :until)
ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value"
WHERE "value" = ''
  OR substr("value", 1, instr("value", ' ') - 1) = :holder
  OR CAST(substr("value", instr("value", ' ') + 1) AS INTEGER) < :now;

-- name: release_attachment_lease
-- params: :holder
UPDATE "_offgen_meta" SET "value" = ''
WHERE "key" = 'attachment_lease' AND substr("value", 1, instr("value", ' ') - 1) = :holder;

-- name: recover_attachment_uploads
-- Run under the lease first: uploads a killed run left claimed are due again (a retry is safe:
-- the server keeps one copy of a file, by its hash).
UPDATE "_offgen_attachments" SET "state" = 'pending', "claim_id" = NULL WHERE "state" = 'uploading';

-- name: claim_attachment_upload
-- Claims for :claim the oldest due upload the app's rules let go now: at most
-- attachment_max_bytes on any network, and at most attachment_metered_max_bytes when
-- :metered is 1 (0 there: unmetered networks only).
-- params: :claim, :now, :metered
UPDATE "_offgen_attachments" SET "state" = 'uploading', "claim_id" = :claim
WHERE "seq" = (
  SELECT a."seq" FROM "_offgen_attachments" AS a
  WHERE a."state" = 'pending' AND a."local_path" IS NOT NULL
    AND (a."next_attempt_at" IS NULL OR a."next_attempt_at" <= :now)
    AND {{ fits }}
  ORDER BY a."seq"
  LIMIT 1);

-- name: claimed_attachment
-- The upload claimed for :claim: where its bytes go (PUT /attachments/<remote_key>).
-- params: :claim
-- returns: seq, remote_key, local_path, sha256, size, media_type, attempts
SELECT "seq", {{ remote_key }} AS "remote_key", "local_path", "sha256", "size", "media_type", "attempts"
FROM "_offgen_attachments" WHERE "state" = 'uploading' AND "claim_id" = :claim;

-- name: confirm_attachment_upload
-- The server holds the file for its row: uploaded. The local file stays for the grace period.
-- params: :claim, :now
UPDATE "_offgen_attachments" SET "state" = 'uploaded', "confirmed_at" = :now, "claim_id" = NULL,
  "last_error" = NULL, "next_attempt_at" = NULL
WHERE "state" = 'uploading' AND "claim_id" = :claim;

-- name: retry_attachment_upload
-- The server refused the upload for now (:error): due again after a delay that doubles with
-- each attempt, then set aside as failed after max_attempts. The file stays.
-- params: :claim, :error, :now
UPDATE "_offgen_attachments"
SET "attempts" = "attempts" + 1,
  "state" = CASE WHEN "attempts" + 1 >= {{ max_attempts }} THEN 'failed' ELSE 'pending' END,
  "next_attempt_at" = :now + ({{ retry_base }} << min("attempts", 20)),
  "last_error" = :error, "claim_id" = NULL
WHERE "state" = 'uploading' AND "claim_id" = :claim;

-- name: set_aside_attachment
-- The upload can never succeed as it is (:error: too large for the server, the local file
-- gone or changed): failed at once, for the app to show. The file stays.
-- params: :claim, :error
UPDATE "_offgen_attachments" SET "state" = 'failed', "last_error" = :error, "claim_id" = NULL
WHERE "state" = 'uploading' AND "claim_id" = :claim;

-- name: release_attachment_upload
-- No answer, or the server could not serve: the upload is due again, nothing counted.
-- params: :claim
UPDATE "_offgen_attachments" SET "state" = 'pending', "claim_id" = NULL
WHERE "state" = 'uploading' AND "claim_id" = :claim;

-- name: attachment_downloads_due
-- With eager downloads (set_attachment_policy), the server's files no row here has yet, that
-- the app's rules let come now, oldest first, at most :limit. Files this device evicted are
-- fetched again only on demand.
-- params: :now, :metered, :limit
-- returns: seq, remote_key, sha256, size, media_type
SELECT a."seq", {{ remote_key_a }} AS "remote_key", a."sha256", a."size", a."media_type"
FROM "_offgen_attachments" AS a
WHERE a."state" = 'remote' AND a."local_path" IS NULL AND a."evicted_at" IS NULL
  AND (a."next_attempt_at" IS NULL OR a."next_attempt_at" <= :now)
  AND coalesce((SELECT "value" FROM "_offgen_meta" WHERE "key" = 'attachment_download'), 'on_demand') = 'eager'
  AND {{ fits }}
ORDER BY a."seq"
LIMIT :limit;

-- name: confirm_attachment_download
-- The file of :seq is at :local_path now, its hash checked: kept for the grace period.
-- params: :seq, :local_path, :now
UPDATE "_offgen_attachments" SET "local_path" = :local_path, "confirmed_at" = :now, "evicted_at" = NULL,
  "attempts" = 0, "next_attempt_at" = NULL, "last_error" = NULL
WHERE "seq" = :seq AND "local_path" IS NULL;

-- name: retry_attachment_download
-- The file could not be fetched yet (:error; not uploaded yet, most often): due again after a
-- delay that doubles with each attempt (no limit: it comes when its device uploads it).
-- params: :seq, :error, :now
UPDATE "_offgen_attachments"
SET "attempts" = "attempts" + 1, "next_attempt_at" = :now + ({{ retry_base }} << min("attempts", 10)),
  "last_error" = :error
WHERE "seq" = :seq;

-- name: find_attachment
-- The file field :field of row :row_id refers to now: where it is on this device, if it is
-- (local_path, its own or a copy of the same bytes kept for another row), and where it is on
-- the server (remote_key).
-- params: :entity, :row_id, :field
-- returns: seq, sha256, size, media_type, state, local_path, remote_key
SELECT a."seq", a."sha256", a."size", a."media_type", a."state",
  coalesce(a."local_path", (SELECT b."local_path" FROM "_offgen_attachments" AS b
    WHERE b."sha256" = a."sha256" AND b."local_path" IS NOT NULL ORDER BY b."seq" LIMIT 1)) AS "local_path",
  {{ remote_key_a }} AS "remote_key"
FROM "_offgen_attachments" AS a
WHERE a."entity" = :entity AND a."row_id" = :row_id AND a."field" = :field AND a."state" <> 'superseded'
ORDER BY a."seq" DESC
LIMIT 1;

-- name: evictable_attachments
-- Local files no row needs any more: every row holding one is uploaded (or the server's) for
-- longer than the grace period, or superseded for that long. Never a file waiting to be
-- uploaded, being uploaded, or failed.
-- params: :now
-- returns: local_path
SELECT DISTINCT a."local_path" FROM "_offgen_attachments" AS a
WHERE a."local_path" IS NOT NULL AND ({{ evictable_a }})
  AND NOT EXISTS (SELECT 1 FROM "_offgen_attachments" AS b
    WHERE b."local_path" = a."local_path" AND NOT ({{ evictable_b }}))
ORDER BY a."local_path";

-- name: evict_attachment
-- Marks the file at :local_path evicted, checking again that no row needs it; delete the file
-- only when this changed a row (so a file attached again meanwhile is never deleted).
-- params: :local_path, :now
UPDATE "_offgen_attachments" SET "local_path" = NULL, "evicted_at" = :now
WHERE "local_path" = :local_path
  AND NOT EXISTS (SELECT 1 FROM "_offgen_attachments" AS b
    WHERE b."local_path" = :local_path AND NOT ({{ evictable_b }}));

-- name: forget_evicted
-- Superseded files that are gone from the device are forgotten.
DELETE FROM "_offgen_attachments" WHERE "state" = 'superseded' AND "local_path" IS NULL;

-- name: attachment_stats
-- For a status badge: files waiting to upload (and their bytes), the oldest one's age, when
-- the next held-back one is due, failed ones, the server's files not here, and the bytes the
-- device keeps.
-- params: :now
-- returns: pending, pending_bytes, uploading, oldest_pending_age_ms, next_attempt_at, failed, not_downloaded, stored_bytes
SELECT
  (SELECT count(*) FROM "_offgen_attachments" WHERE "state" IN ('pending', 'uploading')) AS "pending",
  (SELECT coalesce(sum("size"), 0) FROM "_offgen_attachments" WHERE "state" IN ('pending', 'uploading')) AS "pending_bytes",
  (SELECT count(*) FROM "_offgen_attachments" WHERE "state" = 'uploading') AS "uploading",
  (SELECT :now - min("created_at") FROM "_offgen_attachments" WHERE "state" IN ('pending', 'uploading')) AS "oldest_pending_age_ms",
  (SELECT min("next_attempt_at") FROM "_offgen_attachments" WHERE "state" = 'pending' AND "next_attempt_at" > :now) AS "next_attempt_at",
  (SELECT count(*) FROM "_offgen_attachments" WHERE "state" = 'failed') AS "failed",
  (SELECT count(*) FROM "_offgen_attachments" WHERE "state" = 'remote' AND "local_path" IS NULL) AS "not_downloaded",
  (SELECT coalesce(sum("size"), 0) FROM (SELECT DISTINCT "local_path", "size" FROM "_offgen_attachments" WHERE "local_path" IS NOT NULL)) AS "stored_bytes";

-- name: list_failed_attachments
-- Uploads set aside: refused max_attempts times, too large for the server, or their local
-- file gone or changed. Their files stay until retried or discarded.
-- returns: seq, entity, row_id, field, sha256, size, media_type, local_path, attempts, last_error, created_at
SELECT "seq", "entity", "row_id", "field", "sha256", "size", "media_type", "local_path", "attempts", "last_error", "created_at"
FROM "_offgen_attachments" WHERE "state" = 'failed' ORDER BY "seq";

-- name: retry_failed_attachment
-- Queues a failed upload again with fresh attempts.
-- params: :seq
UPDATE "_offgen_attachments" SET "state" = 'pending', "attempts" = 0, "last_error" = NULL, "next_attempt_at" = NULL
WHERE "seq" = :seq AND "state" = 'failed' AND "local_path" IS NOT NULL;

-- name: discard_attachment
-- Gives up a failed upload: the file is no longer needed, and is deleted after the grace period
-- like a superseded one (the row still refers to it; the server never got it).
-- params: :seq, :now
UPDATE "_offgen_attachments" SET "state" = 'superseded', "superseded_at" = :now
WHERE "seq" = :seq AND "state" = 'failed';

-- name: retry_waiting_attachments
-- "Sync now": uploads and downloads waiting out a retry delay are due at once.
UPDATE "_offgen_attachments" SET "next_attempt_at" = NULL
WHERE "state" IN ('pending', 'remote') AND "next_attempt_at" IS NOT NULL;

-- name: set_attachment_policy
-- The app's rules: :max_bytes (largest file uploaded or fetched at all; NULL: any),
-- :metered_max_bytes (largest on a metered network; 0: unmetered only; NULL: any), :grace_ms
-- (how long a file the server holds stays on the device), :download ('on_demand' or 'eager').
-- params: :max_bytes, :metered_max_bytes, :grace_ms, :download
INSERT INTO "_offgen_meta" ("key", "value") VALUES
  ('attachment_max_bytes', coalesce(CAST(:max_bytes AS TEXT), '')),
  ('attachment_metered_max_bytes', coalesce(CAST(:metered_max_bytes AS TEXT), '')),
  ('attachment_grace_ms', CAST(:grace_ms AS TEXT)),
  ('attachment_download', :download)
ON CONFLICT ("key") DO UPDATE SET "value" = excluded."value";
