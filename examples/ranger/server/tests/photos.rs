//! Observations' photos end to end: rangers' phones (the reference client over HTTP, with a
//! faulty, slow link) attach photos, sync the records, and run the attachment loop against
//! the server on SQLite (files in a directory) and on PostgreSQL (files in moto's S3).

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use offgen_runtime::attachments::sha256_hex;
use offgen_runtime::client::{
    AttachmentOptions, AttachmentPolicy, Device, Downloads, SyncErrorKind,
};
use support::fleet::*;
use support::*;

/// A ranger's phone whose database is a file (so a second connection, as a background
/// thread of the app would open, reaches it).
fn phone_on_disk(env: &Env, token: &str, dir: &Path) -> Phone {
    let device = Device::open(dir.join("ranger.db"), &env.schema).unwrap();
    Phone::with_device(env, token, device)
}

/// Ana records an observation with a photo of `size` bytes (taken into `dir`); returns the
/// photo's bytes.
fn observe_with_photo(phone: &Phone, n: u64, size: usize, dir: &Path) -> Vec<u8> {
    let id = uuid(n);
    phone.sql(&format!(
        "INSERT INTO observations (id, ranger, kind, latitude, longitude, recorded_at, modified_at)
         VALUES ('{id}', '{ANA}', 'wildlife', -1.25, 36.75, 1700000000000, 1700000000000)"
    ));
    let bytes: Vec<u8> = (0..size)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(n as u8))
        .collect();
    let path = photo_path(dir, n);
    std::fs::write(&path, &bytes).unwrap();
    phone
        .device
        .attach("observations", &id, "photo", &path, "image/jpeg")
        .unwrap();
    bytes
}

fn photo_path(dir: &Path, n: u64) -> PathBuf {
    dir.join(format!("photo-{n}.jpg"))
}

fn queue_states(phone: &Phone) -> Vec<(String, i64)> {
    let conn = phone.device.connection();
    let mut statement = conn
        .prepare("SELECT state, attempts FROM _offgen_attachments ORDER BY seq")
        .unwrap();
    statement
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

e2e!(
    forty_photos_on_a_slow_link_never_hold_a_record_back,
    |env: Env| {
        let dir = tempfile::tempdir().unwrap();
        let mut phone = phone_on_disk(&env, ANA_TOKEN, dir.path());
        for n in 1..=40 {
            observe_with_photo(&phone, n, 20_000, dir.path());
        }
        assert_eq!(phone.device.attachment_stats().unwrap().pending, 40);
        // Signal: the records go first, all of them, before any photo.
        phone.synced();
        let records = || env.server_count("SELECT count(*) FROM observations");
        assert_eq!(records(), 40);
        assert!(env.stored_files().is_empty(), "no photo before the records");

        // The photos go over a slow link (20 kB/s: a second each), from a background thread
        // with its own connection, as an app runs the loop.
        phone.net.throttle_uploads(Some(20_000));
        let net = phone.net.clone();
        let files = dir.path().to_owned();
        let schema = env.schema.clone();
        let background = std::thread::spawn(move || {
            let mut device = Device::open(files.join("ranger.db"), &schema).unwrap();
            let client =
                offgen_runtime::client::SyncClient::new(net, || Some(ANA_TOKEN.to_owned()));
            client.sync_attachments(&mut device, &AttachmentOptions::new(files.join("fetched")))
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        while phone.net.uploaded_bytes() == 0 {
            assert!(Instant::now() < deadline, "no upload started");
            std::thread::sleep(Duration::from_millis(5));
        }
        // While the first photo is on its way, five more observations are made and synced:
        // the upload holds no lease the records need.
        for n in 41..=45 {
            observe_with_photo(&phone, n, 20_000, dir.path());
        }
        phone.synced();
        assert_eq!(records(), 45);
        assert!(
            env.stored_files().is_empty(),
            "every record reached the server before the first photo finished"
        );
        // Signal lost mid-photo: the loop stops, nothing counted, no file touched.
        phone.net.drop_uploads(true);
        let stopped = background.join().unwrap().expect_err("the link dropped");
        assert!(
            matches!(stopped.kind, SyncErrorKind::Transport(_)),
            "{stopped}"
        );
        let states = queue_states(&phone);
        assert_eq!(states.len(), 45);
        assert!(
            states
                .iter()
                .all(|(state, attempts)| *attempts == 0 && state != "failed"),
            "{states:?}"
        );
        assert!((1..=45).all(|n| photo_path(dir.path(), n).exists()));

        // Signal back, fast: every photo goes, once each.
        phone.net.drop_uploads(false);
        phone.net.throttle_uploads(None);
        let report = phone.sync_files(&dir.path().join("fetched")).unwrap();
        assert_eq!(report.uploaded + report.already_there, 45, "{report:?}");
        assert_eq!(env.stored_files().len(), 45);
        assert_eq!(phone.device.attachment_stats().unwrap().pending, 0);
    }
);

e2e!(
    an_upload_cut_off_or_changed_on_the_way_goes_again_and_is_stored_once,
    |env: Env| {
        let dir = tempfile::tempdir().unwrap();
        let mut phone = phone_on_disk(&env, ANA_TOKEN, dir.path());
        let fetched = dir.path().join("fetched");
        let first = observe_with_photo(&phone, 1, 300_000, dir.path());
        phone.synced();

        // The link drops half-way: no answer, nothing stored, nothing counted.
        phone.net.plan_uploads(&[UploadFault::CutAfter(150_000)]);
        let stopped = phone.sync_files(&fetched).expect_err("cut off");
        assert!(
            matches!(stopped.kind, SyncErrorKind::Transport(_)),
            "{stopped}"
        );
        assert!(env.stored_files().is_empty());
        assert_eq!(queue_states(&phone), [("pending".to_owned(), 0)]);
        // The next run sends it again: one object.
        let report = phone.sync_files(&fetched).unwrap();
        assert_eq!(report.uploaded, 1);
        assert_eq!(env.stored_files(), [(sha256_hex(&first), 300_000)]);

        // A bit flips on the way: the server refuses the bytes, the phone tries again later.
        let second = observe_with_photo(&phone, 2, 100_000, dir.path());
        phone.synced();
        phone.net.plan_uploads(&[UploadFault::Corrupt(4_321)]);
        let report = phone.sync_files(&fetched).unwrap();
        assert_eq!((report.uploaded, report.refused), (0, 1), "{report:?}");
        let error: String = phone
            .value("SELECT last_error FROM _offgen_attachments WHERE state = 'pending'")
            .as_str()
            .unwrap()
            .to_owned();
        assert!(error.starts_with("digest-mismatch"), "{error}");
        assert_eq!(env.stored_files().len(), 1, "nothing of the bad bytes kept");
        // Not due before its delay; "Sync now" makes it due.
        assert_eq!(phone.sync_files(&fetched).unwrap().uploaded, 0);
        phone.device.retry_waiting_attachments().unwrap();
        assert_eq!(phone.sync_files(&fetched).unwrap().uploaded, 1);
        let mut expected = vec![
            (sha256_hex(&first), 300_000),
            (sha256_hex(&second), 100_000),
        ];
        expected.sort();
        assert_eq!(env.stored_files(), expected);
        // A retry after a lost answer is not sent again: the server says it has it.
        phone
            .device
            .connection()
            .execute_batch("UPDATE _offgen_attachments SET state = 'pending'")
            .unwrap();
        let report = phone.sync_files(&fetched).unwrap();
        assert_eq!(
            (report.already_there, report.bytes_sent),
            (2, 0),
            "{report:?}"
        );
    }
);

e2e!(
    photos_stay_until_the_server_has_them_and_the_grace_period_is_over,
    |env: Env| {
        let dir = tempfile::tempdir().unwrap();
        let mut phone = phone_on_disk(&env, ANA_TOKEN, dir.path());
        let fetched = dir.path().join("fetched");
        let day = 86_400_000;
        let t0 = 1_800_000_000_000_i64;
        phone.device.set_fixed_clock(Some(t0)).unwrap();
        observe_with_photo(&phone, 1, 10_000, dir.path());
        phone.synced();
        // Made after the sync: its record is not on the server, so its upload is refused.
        observe_with_photo(&phone, 2, 10_000, dir.path());
        let report = phone.sync_files(&fetched).unwrap();
        assert_eq!((report.uploaded, report.refused), (1, 1), "{report:?}");
        // Within the grace period both stay.
        phone.device.set_fixed_clock(Some(t0 + 6 * day)).unwrap();
        phone.sync_files(&fetched).unwrap();
        assert!(photo_path(dir.path(), 1).exists() && photo_path(dir.path(), 2).exists());
        // After it, only the confirmed one goes; the other is still refused (no record yet),
        // and kept, however long.
        phone.device.set_fixed_clock(Some(t0 + 8 * day)).unwrap();
        let report = phone.sync_files(&fetched).unwrap();
        assert_eq!(report.evicted, 1, "{report:?}");
        assert!(!photo_path(dir.path(), 1).exists());
        assert!(photo_path(dir.path(), 2).exists());
        for _ in 0..5 {
            phone.device.retry_waiting_attachments().unwrap();
            phone.sync_files(&fetched).unwrap();
        }
        assert_eq!(phone.device.attachment_stats().unwrap().failed, 1);
        phone.device.set_fixed_clock(Some(t0 + 400 * day)).unwrap();
        phone.sync_files(&fetched).unwrap();
        assert!(
            photo_path(dir.path(), 2).exists(),
            "a failed upload keeps its file"
        );
        // The evicted photo is fetched again when the app shows it.
        let path = phone
            .client
            .fetch_attachment(
                &mut phone.device,
                "observations",
                &uuid(1),
                "photo",
                &fetched,
            )
            .unwrap();
        assert_eq!(std::fs::read(path).unwrap().len(), 10_000);
    }
);

e2e!(
    another_phone_of_the_ranger_fetches_her_photos_on_demand_or_eagerly,
    |env: Env| {
        let dir = tempfile::tempdir().unwrap();
        let mut phone = phone_on_disk(&env, ANA_TOKEN, dir.path());
        let bytes = observe_with_photo(&phone, 1, 50_000, dir.path());
        phone.synced();

        // Her tablet pulls the record: the reference, not the bytes.
        let tablet_dir = tempfile::tempdir().unwrap();
        let mut tablet = phone_on_disk(&env, ANA_TOKEN, tablet_dir.path());
        tablet.synced();
        let found = tablet
            .device
            .attachment("observations", &uuid(1), "photo")
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.state.as_str(), found.local_path.clone()),
            ("remote", None)
        );
        // Not uploaded yet: asked again later.
        let early = tablet
            .client
            .fetch_attachment(
                &mut tablet.device,
                "observations",
                &uuid(1),
                "photo",
                tablet_dir.path(),
            )
            .expect_err("not uploaded yet");
        assert!(
            matches!(early.kind, SyncErrorKind::Refused { status: 404, .. }),
            "{early}"
        );
        phone.sync_files(&dir.path().join("fetched")).unwrap();
        let path = tablet
            .client
            .fetch_attachment(
                &mut tablet.device,
                "observations",
                &uuid(1),
                "photo",
                tablet_dir.path(),
            )
            .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), bytes);

        // A third phone fetches the server's photos by itself, within its rules.
        let third_dir = tempfile::tempdir().unwrap();
        let mut third = phone_on_disk(&env, ANA_TOKEN, third_dir.path());
        third
            .device
            .set_attachment_policy(&AttachmentPolicy {
                downloads: Downloads::Eager,
                ..AttachmentPolicy::default()
            })
            .unwrap();
        third.synced();
        let report = third.sync_files(&third_dir.path().join("fetched")).unwrap();
        assert_eq!(report.downloaded, 1, "{report:?}");
        let found = third
            .device
            .attachment("observations", &uuid(1), "photo")
            .unwrap()
            .unwrap();
        assert_eq!(std::fs::read(found.local_path.unwrap()).unwrap(), bytes);

        // Ben's phone never sees her observation, nor can ask for its photo.
        let mut ben = Phone::new(&env, BEN_TOKEN);
        ben.synced();
        assert!(
            ben.device
                .attachment("observations", &uuid(1), "photo")
                .unwrap()
                .is_none()
        );
    }
);

mod oversize {
    use super::*;

    fn set_aside(backend: Backend) {
        let env = Env::start_with_files(backend, &RANGER, 64 * 1024);
        let dir = tempfile::tempdir().unwrap();
        let mut phone = phone_on_disk(&env, ANA_TOKEN, dir.path());
        observe_with_photo(&phone, 1, 100 * 1024, dir.path());
        phone.synced();
        let report = phone.sync_files(&dir.path().join("fetched")).unwrap();
        assert_eq!((report.set_aside, report.bytes_sent), (1, 0), "{report:?}");
        let failed = phone.device.list_failed_attachments().unwrap();
        assert!(
            failed[0]
                .last_error
                .as_deref()
                .unwrap_or("")
                .starts_with("too-large"),
            "{failed:?}"
        );
        assert!(failed[0].local_path.as_ref().unwrap().exists());
        // The record synced all the same.
        assert_eq!(env.server_count("SELECT count(*) FROM observations"), 1);
    }

    #[test]
    fn sqlite() {
        set_aside(Backend::Sqlite)
    }

    #[test]
    fn postgres() {
        set_aside(Backend::Postgres)
    }
}
