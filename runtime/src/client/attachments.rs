//! Attachments on the device: attaching files to rows, and the attachment loop that uploads
//! them, fetches the server's, and evicts what no row needs any more, all by the generated
//! `sync.sql` statements (docs/client.md, *Attachments*).
//!
//! The loop runs apart from the record sync, on a lease of its own: a photo uploading for
//! twenty minutes over 3G never keeps a record from syncing. Run it after a record sync (an
//! upload needs its row on the server), from a background thread or whenever the app likes.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::sync::{SyncClient, SyncError, SyncErrorKind, random_id, refused};
use super::transport::{Method, Request, Response, Transport};
use super::{ClientError, Device};
use crate::attachments::{AttachmentRef, ContentHash, MAX_BYTES_HEADER, PATH_PREFIX};
use crate::protocol::SCHEMA_STEP_HEADER;

/// The app's rules for files (kept in the database, so every process and isolate of the app
/// follows them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachmentPolicy {
    /// The largest file uploaded or fetched at all (`None`: any).
    pub max_bytes: Option<u64>,
    /// The largest file uploaded or fetched on a metered network (`Some(0)`: unmetered
    /// networks only; `None`: any).
    pub metered_max_bytes: Option<u64>,
    /// How long a file the server holds stays on the device, in ms.
    pub grace_ms: i64,
    /// Whether the server's files are fetched by the loop or only when the app asks.
    pub downloads: Downloads,
}

impl Default for AttachmentPolicy {
    fn default() -> AttachmentPolicy {
        AttachmentPolicy {
            max_bytes: None,
            metered_max_bytes: None,
            grace_ms: 7 * 86_400_000,
            downloads: Downloads::OnDemand,
        }
    }
}

/// When the server's files come to the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Downloads {
    /// When the app asks for one ([`SyncClient::fetch_attachment`]).
    OnDemand,
    /// By the attachment loop, within the rules.
    Eager,
}

/// How one run of the attachment loop goes.
#[derive(Clone, Debug)]
pub struct AttachmentOptions {
    /// Whether the device is on a metered network now (the app knows; the database does not).
    pub metered: bool,
    /// Where fetched files are kept (made if missing).
    pub download_dir: PathBuf,
    /// Most files fetched in one run.
    pub download_batch: usize,
}

impl AttachmentOptions {
    /// Options for an unmetered network, fetching into `download_dir`.
    pub fn new(download_dir: impl Into<PathBuf>) -> AttachmentOptions {
        AttachmentOptions {
            metered: false,
            download_dir: download_dir.into(),
            download_batch: 20,
        }
    }
}

/// What one run of the attachment loop did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachmentReport {
    /// Files the server took.
    pub uploaded: u64,
    /// Files the server held already (a retry after a lost answer): not sent again.
    pub already_there: u64,
    /// Uploads the server refused for now (due again after a delay).
    pub refused: u64,
    /// Uploads set aside as failed (too large, the local file gone or changed).
    pub set_aside: u64,
    /// Files fetched.
    pub downloaded: u64,
    /// Local files deleted, no row needing them any more.
    pub evicted: u64,
    /// File bytes sent.
    pub bytes_sent: u64,
    /// File bytes received.
    pub bytes_received: u64,
    /// HTTP requests made.
    pub requests: u64,
}

/// The attachment queue's numbers, for a status badge.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttachmentStats {
    /// Files waiting to upload (or uploading).
    pub pending: i64,
    /// Their bytes.
    pub pending_bytes: i64,
    /// Files uploading now.
    pub uploading: i64,
    /// Age of the oldest waiting file (ms).
    pub oldest_pending_age_ms: Option<i64>,
    /// When the next file held back by a retry delay is due.
    pub next_attempt_at: Option<i64>,
    /// Uploads set aside as failed.
    pub failed: i64,
    /// The server's files rows refer to that are not on the device.
    pub not_downloaded: i64,
    /// Bytes of files kept on the device.
    pub stored_bytes: i64,
}

/// A file a row's field refers to, as the device has it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalAttachment {
    /// The reference.
    pub reference: AttachmentRef,
    /// Where it is on the device, if it is.
    pub local_path: Option<PathBuf>,
    /// Its queue state (`pending`, `uploading`, `uploaded`, `failed`, `remote`).
    pub state: String,
    /// Its path on the server, after `/attachments/`.
    pub remote_key: String,
    seq: i64,
}

/// An upload set aside as failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedAttachment {
    /// What [`Device::retry_failed_attachment`] and [`Device::discard_attachment`] take.
    pub seq: i64,
    /// The entity's table.
    pub entity: String,
    /// The row.
    pub row_id: String,
    /// The field (wire key).
    pub field: String,
    /// The file.
    pub reference: AttachmentRef,
    /// Where it is (it is kept).
    pub local_path: Option<PathBuf>,
    /// How often the server refused it.
    pub attempts: i64,
    /// Why.
    pub last_error: Option<String>,
}

/// The SHA-256 and size of a file, read a piece at a time.
fn hash_file(path: &Path) -> io::Result<(String, u64)> {
    let mut file = File::open(path)?;
    let mut hash = ContentHash::new();
    let mut buffer = vec![0; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            return Ok((hash.hex(), size));
        }
        hash.update(&buffer[..n]);
        size += n as u64;
    }
}

impl Device {
    /// Attaches the file at `path` to field `field` (wire key) of row `row_id` of `entity`
    /// (its table): the row's field is set to refer to it (a local write, queued like any
    /// other) and the file is queued for upload. The file is the sync's from now on: kept
    /// until the server holds it, then for the grace period, then deleted. Call it inside
    /// the transaction that makes the row, if you like: it is one statement.
    pub fn attach(
        &self,
        entity: &str,
        row_id: &str,
        field: &str,
        path: &Path,
        media_type: &str,
    ) -> Result<AttachmentRef, ClientError> {
        if !crate::attachments::is_media_type(media_type) {
            return Err(ClientError::Attachment(format!(
                "`{media_type}` is not a media type (type/subtype)"
            )));
        }
        let (sha256, size) = match hash_file(path) {
            Ok(hashed) => hashed,
            Err(e) => {
                return Err(ClientError::Attachment(format!(
                    "cannot read {}: {e}",
                    path.display()
                )));
            }
        };
        let now = self.now()?;
        let local_path = path.to_string_lossy().into_owned();
        let size_sql = i64::try_from(size).unwrap_or(i64::MAX);
        let changed = self.execute(
            "attach_file",
            &[
                (":entity", &entity),
                (":row_id", &row_id),
                (":field", &field),
                (":sha256", &sha256),
                (":size", &size_sql),
                (":media_type", &media_type),
                (":local_path", &local_path),
                (":now", &now),
            ],
        )?;
        if changed == 0 {
            return Err(ClientError::Attachment(format!(
                "{entity} has no attachment field {field}"
            )));
        }
        Ok(AttachmentRef {
            sha256,
            size,
            media_type: media_type.to_owned(),
        })
    }

    /// The file field `field` of row `row_id` refers to, as the device has it.
    pub fn attachment(
        &self,
        entity: &str,
        row_id: &str,
        field: &str,
    ) -> Result<Option<LocalAttachment>, ClientError> {
        if !self.schema().has_attachments() {
            return Ok(None);
        }
        let found = self.query(
            "find_attachment",
            &[
                (":entity", &entity),
                (":row_id", &row_id),
                (":field", &field),
            ],
            |r| {
                let size: i64 = r.get("size")?;
                Ok(LocalAttachment {
                    seq: r.get("seq")?,
                    reference: AttachmentRef {
                        sha256: r.get("sha256")?,
                        size: u64::try_from(size).unwrap_or(0),
                        media_type: r.get("media_type")?,
                    },
                    local_path: r.get::<_, Option<String>>("local_path")?.map(PathBuf::from),
                    state: r.get("state")?,
                    remote_key: r.get("remote_key")?,
                })
            },
        )?;
        Ok(found.into_iter().next())
    }

    /// Sets the app's rules for files.
    pub fn set_attachment_policy(&self, policy: &AttachmentPolicy) -> Result<(), ClientError> {
        let max = policy
            .max_bytes
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let metered = policy
            .metered_max_bytes
            .map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let downloads = match policy.downloads {
            Downloads::OnDemand => "on_demand",
            Downloads::Eager => "eager",
        };
        self.execute(
            "set_attachment_policy",
            &[
                (":max_bytes", &max),
                (":metered_max_bytes", &metered),
                (":grace_ms", &policy.grace_ms),
                (":download", &downloads),
            ],
        )?;
        Ok(())
    }

    /// The attachment queue's numbers.
    pub fn attachment_stats(&self) -> Result<AttachmentStats, ClientError> {
        if !self.schema().has_attachments() {
            return Ok(AttachmentStats::default());
        }
        let now = self.now()?;
        let stats = self.query("attachment_stats", &[(":now", &now)], |r| {
            Ok(AttachmentStats {
                pending: r.get("pending")?,
                pending_bytes: r.get("pending_bytes")?,
                uploading: r.get("uploading")?,
                oldest_pending_age_ms: r.get("oldest_pending_age_ms")?,
                next_attempt_at: r.get("next_attempt_at")?,
                failed: r.get("failed")?,
                not_downloaded: r.get("not_downloaded")?,
                stored_bytes: r.get("stored_bytes")?,
            })
        })?;
        Ok(stats.into_iter().next().unwrap_or_default())
    }

    /// Uploads set aside as failed, oldest first.
    pub fn list_failed_attachments(&self) -> Result<Vec<FailedAttachment>, ClientError> {
        if !self.schema().has_attachments() {
            return Ok(Vec::new());
        }
        self.query("list_failed_attachments", &[], |r| {
            let size: i64 = r.get("size")?;
            Ok(FailedAttachment {
                seq: r.get("seq")?,
                entity: r.get("entity")?,
                row_id: r.get("row_id")?,
                field: r.get("field")?,
                reference: AttachmentRef {
                    sha256: r.get("sha256")?,
                    size: u64::try_from(size).unwrap_or(0),
                    media_type: r.get("media_type")?,
                },
                local_path: r.get::<_, Option<String>>("local_path")?.map(PathBuf::from),
                attempts: r.get("attempts")?,
                last_error: r.get("last_error")?,
            })
        })
    }

    /// Queues a failed upload again, with fresh attempts. Returns whether there was one.
    pub fn retry_failed_attachment(&self, seq: i64) -> Result<bool, ClientError> {
        Ok(self.execute("retry_failed_attachment", &[(":seq", &seq)])? > 0)
    }

    /// Gives a failed upload up: its file is deleted after the grace period. Returns whether
    /// there was one.
    pub fn discard_attachment(&self, seq: i64) -> Result<bool, ClientError> {
        let now = self.now()?;
        Ok(self.execute("discard_attachment", &[(":seq", &seq), (":now", &now)])? > 0)
    }

    /// "Sync now": uploads and downloads waiting out a retry delay are due at once.
    pub fn retry_waiting_attachments(&self) -> Result<usize, ClientError> {
        if !self.schema().has_attachments() {
            return Ok(0);
        }
        self.execute("retry_waiting_attachments", &[])
    }
}

/// A claimed upload, as `claimed_attachment` returns it.
struct ClaimedUpload {
    remote_key: String,
    local_path: String,
    sha256: String,
    size: i64,
}

/// A due download, as `attachment_downloads_due` returns it.
struct DueDownload {
    seq: i64,
    remote_key: String,
    sha256: String,
}

/// Reads a file for an upload, hashing what it reads: whether the file still holds the bytes
/// its reference names is known when the upload ends.
struct HashingReader<R> {
    inner: R,
    hash: ContentHash,
    read: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

/// One run of the attachment loop: the device, its lease, and what it did.
struct FileRun<'d, 'c, T> {
    client: &'c SyncClient<T>,
    device: &'d mut Device,
    options: &'c AttachmentOptions,
    holder: String,
    report: AttachmentReport,
}

impl<T: Transport> SyncClient<T> {
    /// One run of the attachment loop: upload every due file the app's rules let go on this
    /// network, fetch the server's files (with eager downloads), and evict local files no row
    /// needs any more. Stops at the first request the server does not answer (nothing is
    /// counted against a file then); whatever it did until then stays done. On a schema
    /// without attachment fields it does nothing.
    pub fn sync_attachments(
        &self,
        device: &mut Device,
        options: &AttachmentOptions,
    ) -> Result<AttachmentReport, SyncError> {
        if !device.schema().has_attachments() {
            return Ok(AttachmentReport::default());
        }
        let fail = |kind| SyncError {
            kind,
            report: Box::default(),
        };
        let holder = random_id(device).map_err(|e| fail(SyncErrorKind::Client(e)))?;
        let mut run = FileRun {
            client: self,
            device,
            options,
            holder,
            report: AttachmentReport::default(),
        };
        match run.renew_lease() {
            Ok(true) => {}
            Ok(false) => return Err(fail(SyncErrorKind::Busy)),
            Err(e) => return Err(fail(SyncErrorKind::Client(e))),
        }
        let outcome = run.run();
        let released = run
            .device
            .execute("release_attachment_lease", &[(":holder", &run.holder)]);
        let report = std::mem::take(&mut run.report);
        // A run that stopped early says why; what it did until then is in the queue (and
        // in attachment_stats), as the error's report is the record sync's.
        match (outcome, released) {
            (Ok(()), Ok(_)) => Ok(report),
            (Err(kind), _) => Err(SyncError {
                kind,
                report: Box::default(),
            }),
            (Ok(()), Err(e)) => Err(SyncError {
                kind: SyncErrorKind::Client(e),
                report: Box::default(),
            }),
        }
    }

    /// Fetches the file field `field` of row `row_id` refers to, if the device does not hold
    /// it: into `dir`, its hash checked. Returns where it is. The server answers 404 until
    /// the file's device has uploaded it (a [`SyncErrorKind::Refused`]; try again later).
    pub fn fetch_attachment(
        &self,
        device: &mut Device,
        entity: &str,
        row_id: &str,
        field: &str,
        dir: &Path,
    ) -> Result<PathBuf, SyncError> {
        let fail = |kind| SyncError {
            kind,
            report: Box::default(),
        };
        let found = device
            .attachment(entity, row_id, field)
            .map_err(|e| fail(SyncErrorKind::Client(e)))?;
        let Some(found) = found else {
            return Err(fail(SyncErrorKind::Client(ClientError::Attachment(
                format!("{entity} row {row_id}'s {field} refers to no file"),
            ))));
        };
        let local = found.local_path.clone();
        if let Some(local) = local
            && exists(&local)
        {
            return Ok(local);
        }
        let options = AttachmentOptions::new(dir);
        let mut run = FileRun {
            client: self,
            device,
            options: &options,
            holder: String::new(),
            report: AttachmentReport::default(),
        };
        let due = DueDownload {
            seq: found.seq,
            remote_key: found.remote_key.clone(),
            sha256: found.reference.sha256.clone(),
        };
        let fetched = run.download(&due).map_err(fail)?;
        let Some(fetched) = fetched else {
            return Err(fail(SyncErrorKind::Refused {
                status: 404,
                problem: None,
                detail: Some("the file has not been uploaded yet".to_owned()),
                retry_after: None,
            }));
        };
        Ok(fetched)
    }
}

impl<T: Transport> FileRun<'_, '_, T> {
    fn run(&mut self) -> Result<(), SyncErrorKind> {
        self.device
            .execute("recover_attachment_uploads", &[])
            .map_err(SyncErrorKind::Client)?;
        self.upload()?;
        self.fetch()?;
        self.evict()
    }

    fn now(&self) -> Result<i64, SyncErrorKind> {
        self.device.now().map_err(SyncErrorKind::Client)
    }

    fn renew_lease(&mut self) -> Result<bool, ClientError> {
        let now = self.device.now()?;
        let lease_ms = i64::try_from(self.client.options.lease.as_millis()).unwrap_or(i64::MAX);
        let until = now.saturating_add(lease_ms);
        let changed = self.device.execute(
            "acquire_attachment_lease",
            &[
                (":holder", &self.holder),
                (":now", &now),
                (":until", &until),
            ],
        )?;
        Ok(changed == 1)
    }

    fn keep_lease(&mut self) -> Result<(), SyncErrorKind> {
        match self.renew_lease() {
            Ok(true) => Ok(()),
            Ok(false) => Err(SyncErrorKind::Busy),
            Err(e) => Err(SyncErrorKind::Client(e)),
        }
    }

    fn upload(&mut self) -> Result<(), SyncErrorKind> {
        let metered = i64::from(self.options.metered);
        loop {
            self.keep_lease()?;
            let claim = random_id(self.device).map_err(SyncErrorKind::Client)?;
            let now = self.now()?;
            self.device
                .execute(
                    "claim_attachment_upload",
                    &[(":claim", &claim), (":now", &now), (":metered", &metered)],
                )
                .map_err(SyncErrorKind::Client)?;
            let claimed = self
                .device
                .query("claimed_attachment", &[(":claim", &claim)], |r| {
                    Ok(ClaimedUpload {
                        remote_key: r.get("remote_key")?,
                        local_path: r.get("local_path")?,
                        sha256: r.get("sha256")?,
                        size: r.get("size")?,
                    })
                })
                .map_err(SyncErrorKind::Client)?;
            if claimed.is_empty() {
                return Ok(());
            }
            self.upload_one(&claim, &claimed[0])?;
        }
    }

    /// One claimed file: asked after (a retry after a lost answer costs one small request),
    /// then sent.
    fn upload_one(&mut self, claim: &str, file: &ClaimedUpload) -> Result<(), SyncErrorKind> {
        let path = format!("{PATH_PREFIX}/{}", file.remote_key);
        let request = self.build(Method::Head, &path);
        self.report.requests += 1;
        let asked = match self.client.transport.send(request) {
            Ok(asked) => asked,
            Err(e) => {
                self.release(claim)?;
                return Err(SyncErrorKind::Transport(e));
            }
        };
        if asked.status == 200 {
            self.report.already_there += 1;
            return self.confirm(claim);
        }
        if asked.status != 404 {
            self.release(claim)?;
            return Err(refused(&asked));
        }
        let size = u64::try_from(file.size).unwrap_or(0);
        let max = server_max_bytes(&asked);
        if let Some(max) = max
            && size > max
        {
            let error =
                format!("too-large: the file is {size} bytes, and the server takes at most {max}");
            return self.set_aside(claim, &error);
        }
        let opened = match File::open(&file.local_path) {
            Ok(opened) => opened,
            Err(e) => {
                let error = format!(
                    "missing: the local file {} cannot be read: {e}",
                    file.local_path
                );
                return self.set_aside(claim, &error);
            }
        };
        let mut reader = HashingReader {
            inner: opened,
            hash: ContentHash::new(),
            read: 0,
        };
        let request = self.build(Method::Put, &path);
        self.report.requests += 1;
        let sent = self.client.transport.upload(request, &mut reader, size);
        let local_matches = reader.read == size && reader.hash.hex() == file.sha256;
        let response = match sent {
            Ok(response) => response,
            Err(e) => {
                self.release(claim)?;
                return Err(SyncErrorKind::Transport(e));
            }
        };
        // Counted once answered (a run that stops reports nothing).
        self.report.bytes_sent += reader.read;
        match response.status {
            200 | 201 => {
                self.report.uploaded += 1;
                self.confirm(claim)
            }
            413 => {
                let error = format!("too-large: the server refused the file of {size} bytes");
                self.set_aside(claim, &error)
            }
            // The bytes read were not the file's: the local file changed since it was
            // attached. Sending it again would change nothing.
            400 | 422 if !local_matches => {
                let error = format!(
                    "changed: the local file {} no longer holds the attached bytes",
                    file.local_path
                );
                self.set_aside(claim, &error)
            }
            // The row is not on the server yet, refers to another file, or the bytes changed
            // on the way: again later.
            400 | 404 | 409 | 410 | 422 => {
                self.report.refused += 1;
                let error = problem_line(&response);
                let now = self.now()?;
                self.device
                    .execute(
                        "retry_attachment_upload",
                        &[(":claim", &claim), (":error", &error), (":now", &now)],
                    )
                    .map(|_| ())
                    .map_err(SyncErrorKind::Client)
            }
            _ => {
                self.release(claim)?;
                Err(refused(&response))
            }
        }
    }

    fn confirm(&mut self, claim: &str) -> Result<(), SyncErrorKind> {
        let now = self.now()?;
        self.device
            .execute(
                "confirm_attachment_upload",
                &[(":claim", &claim), (":now", &now)],
            )
            .map(|_| ())
            .map_err(SyncErrorKind::Client)
    }

    fn set_aside(&mut self, claim: &str, error: &str) -> Result<(), SyncErrorKind> {
        self.report.set_aside += 1;
        self.device
            .execute(
                "set_aside_attachment",
                &[(":claim", &claim), (":error", &error)],
            )
            .map(|_| ())
            .map_err(SyncErrorKind::Client)
    }

    fn release(&mut self, claim: &str) -> Result<(), SyncErrorKind> {
        self.device
            .execute("release_attachment_upload", &[(":claim", &claim)])
            .map(|_| ())
            .map_err(SyncErrorKind::Client)
    }

    /// With eager downloads, the server's files within the rules.
    fn fetch(&mut self) -> Result<(), SyncErrorKind> {
        let metered = i64::from(self.options.metered);
        let limit = i64::try_from(self.options.download_batch).unwrap_or(i64::MAX);
        let now = self.now()?;
        let due = self
            .device
            .query(
                "attachment_downloads_due",
                &[(":now", &now), (":metered", &metered), (":limit", &limit)],
                |r| {
                    Ok(DueDownload {
                        seq: r.get("seq")?,
                        remote_key: r.get("remote_key")?,
                        sha256: r.get("sha256")?,
                    })
                },
            )
            .map_err(SyncErrorKind::Client)?;
        for file in &due {
            self.keep_lease()?;
            self.download(file)?;
        }
        Ok(())
    }

    /// Fetches one file into the download folder: to a temporary file, hash checked, then
    /// renamed into place (`<sha256>`). `None` when the server does not have it yet.
    fn download(&mut self, file: &DueDownload) -> Result<Option<PathBuf>, SyncErrorKind> {
        let dir = &self.options.download_dir;
        let local = |e: io::Error| {
            SyncErrorKind::Client(ClientError::Attachment(format!(
                "cannot write into {}: {e}",
                dir.display()
            )))
        };
        std::fs::create_dir_all(dir).map_err(local)?;
        let target = dir.join(&file.sha256);
        let temporary = dir.join(format!("{}.part", file.sha256));
        let mut sink = HashingWriter {
            inner: File::create(&temporary).map_err(local)?,
            hash: ContentHash::new(),
            written: 0,
        };
        let path = format!("{PATH_PREFIX}/{}", file.remote_key);
        let request = self.build(Method::Get, &path);
        self.report.requests += 1;
        let received = self.client.transport.download(request, &mut sink);
        let response = match received {
            Ok(response) => response,
            Err(e) => {
                let _ = std::fs::remove_file(&temporary);
                return Err(SyncErrorKind::Transport(e));
            }
        };
        self.report.bytes_received += sink.written;
        if response.status != 200 {
            let _ = std::fs::remove_file(&temporary);
            if response.status == 404 {
                let error = problem_line(&response);
                let now = self.now()?;
                self.device
                    .execute(
                        "retry_attachment_download",
                        &[(":seq", &file.seq), (":error", &error), (":now", &now)],
                    )
                    .map_err(SyncErrorKind::Client)?;
                return Ok(None);
            }
            return Err(refused(&response));
        }
        let hash = sink.finish();
        if hash != file.sha256 {
            let _ = std::fs::remove_file(&temporary);
            return Err(SyncErrorKind::Protocol(format!(
                "the file {} came with other bytes",
                file.sha256
            )));
        }
        std::fs::rename(&temporary, &target).map_err(local)?;
        let now = self.now()?;
        let local_path = target.to_string_lossy().into_owned();
        self.device
            .execute(
                "confirm_attachment_download",
                &[
                    (":seq", &file.seq),
                    (":local_path", &local_path),
                    (":now", &now),
                ],
            )
            .map_err(SyncErrorKind::Client)?;
        self.report.downloaded += 1;
        Ok(Some(target))
    }

    /// Deletes the local files no row needs any more (never one waiting to upload).
    fn evict(&mut self) -> Result<(), SyncErrorKind> {
        let now = self.now()?;
        let paths: Vec<String> = self
            .device
            .query("evictable_attachments", &[(":now", &now)], |r| r.get(0))
            .map_err(SyncErrorKind::Client)?;
        for path in &paths {
            // Marked first, checking again that no row needs it; deleted only then.
            let marked = self
                .device
                .execute(
                    "evict_attachment",
                    &[(":local_path", &path), (":now", &now)],
                )
                .map_err(SyncErrorKind::Client)?;
            if marked > 0 {
                match std::fs::remove_file(path) {
                    Ok(()) => self.report.evicted += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(SyncErrorKind::Client(ClientError::Attachment(format!(
                            "cannot delete {path}: {e}"
                        ))));
                    }
                }
            }
        }
        self.device
            .execute("forget_evicted", &[])
            .map(|_| ())
            .map_err(SyncErrorKind::Client)
    }

    /// A request with the headers every file request carries (the token asked for now).
    fn build(&self, method: Method, path: &str) -> Request {
        let step = self.device.schema().step().to_string();
        let headers: Vec<(String, String)> = [
            Some((SCHEMA_STEP_HEADER.to_owned(), step)),
            (method == Method::Put).then(|| {
                (
                    "Content-Type".to_owned(),
                    "application/octet-stream".to_owned(),
                )
            }),
            (self.client.token)()
                .map(|token| ("Authorization".to_owned(), format!("Bearer {token}"))),
        ]
        .into_iter()
        .flatten()
        .collect();
        Request {
            method,
            path: path.to_owned(),
            headers,
            body: Vec::new(),
        }
    }
}

/// The largest file the server takes, as its answer to a HEAD says.
fn server_max_bytes(asked: &Response) -> Option<u64> {
    asked
        .header(MAX_BYTES_HEADER)
        .and_then(|v| v.trim().parse::<u64>().ok())
}

/// Whether a file is at `path`.
fn exists(path: &Path) -> bool {
    path.exists()
}

/// Writes a download, hashing what it writes.
struct HashingWriter<W> {
    inner: W,
    hash: ContentHash,
    written: u64,
}

impl<W> HashingWriter<W> {
    /// Closes the file; the hash of what was written.
    fn finish(self) -> String {
        self.hash.hex()
    }
}

impl<W: io::Write> io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The problem's type and detail, for the queue's `last_error`.
fn problem_line(response: &Response) -> String {
    #[derive(serde::Deserialize)]
    struct Body {
        #[serde(default, rename = "type")]
        problem: Option<String>,
        #[serde(default)]
        detail: Option<String>,
    }
    let body: Option<Body> = serde_json::from_slice(&response.body).ok();
    let code = body
        .as_ref()
        .and_then(|b| b.problem.as_deref())
        .and_then(|t| t.rsplit('/').next())
        .unwrap_or("refused")
        .to_owned();
    let detail = body.and_then(|b| b.detail).unwrap_or_default();
    format!("{code}: {} {detail}", response.status)
}
