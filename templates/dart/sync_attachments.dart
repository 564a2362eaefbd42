// {{ marker }}. Do not edit.
//
// The attachment loop of {{ app }}: files attached to rows upload after their records, on a lease
// of their own, and the server's files are fetched eagerly or on demand; files no row needs
// any more are evicted after the grace period. It is the reference client's (offgen-runtime,
// client/attachments.rs) step for step: the same statements of sync_sql.dart in the same
// order, the same requests, the same answer to every HTTP status (docs/flutter.md,
// Attachments). A record never waits for its file.

part of 'sync_client.dart';

/// The path the server serves files under: `/attachments/<table>/<id>/<field>/<sha256>`.
const String attachmentPathPrefix = '{{ attachment_path_prefix }}';

/// The header of the server's answer to a HEAD that says the largest file it takes.
const String attachmentMaxBytesHeader = '{{ attachment_max_bytes_header }}';

/// When the server's files come to the device.
enum Downloads {
  /// When the app asks for one ([SyncClient.fetchAttachment]).
  onDemand('on_demand'),

  /// By the attachment loop, within the rules.
  eager('eager');

  const Downloads(this.sql);

  /// The value `set_attachment_policy` takes.
  final String sql;
}

/// The app's rules for files, kept in the database (every isolate of the app follows them):
/// [SyncDevice.setAttachmentPolicy].
final class AttachmentPolicy {
  /// The reference client's defaults: any size, any network, a week's grace, on demand.
  const AttachmentPolicy({
    this.maxBytes,
    this.meteredMaxBytes,
    this.grace = const Duration(days: 7),
    this.downloads = Downloads.onDemand,
  });

  /// The largest file uploaded or fetched at all (null: any).
  final int? maxBytes;

  /// The largest file uploaded or fetched on a metered network (0: unmetered networks only;
  /// null: any).
  final int? meteredMaxBytes;

  /// How long a file the server holds stays on the device.
  final Duration grace;

  /// Whether the server's files are fetched by the loop or only when the app asks.
  final Downloads downloads;
}

/// How one run of the attachment loop goes.
final class AttachmentOptions {
  /// Options for a run fetching into [downloadDir].
  const AttachmentOptions({
    required this.downloadDir,
    this.metered = false,
    this.downloadBatch = 20,
  });

  /// Whether the device is on a metered network now (the app knows, from
  /// `connectivity_plus` for instance; the database does not).
  final bool metered;

  /// Where fetched files are kept (made if missing): a folder of the app's own, such as
  /// `getApplicationSupportDirectory()`'s.
  final String downloadDir;

  /// Most files fetched in one run.
  final int downloadBatch;
}

/// What one run of the attachment loop did.
final class AttachmentReport {
  AttachmentReport._();

  int _uploaded = 0;
  int _alreadyThere = 0;
  int _refused = 0;
  int _setAside = 0;
  int _downloaded = 0;
  int _evicted = 0;
  int _bytesSent = 0;
  int _bytesReceived = 0;
  int _requests = 0;

  /// Files the server took.
  int get uploaded => _uploaded;

  /// Files the server held already (a retry after a lost answer): not sent again.
  int get alreadyThere => _alreadyThere;

  /// Uploads the server refused for now (due again after a delay).
  int get refused => _refused;

  /// Uploads set aside as failed (too large, the local file gone or changed).
  int get setAside => _setAside;

  /// Files fetched.
  int get downloaded => _downloaded;

  /// Local files deleted, no row needing them any more.
  int get evicted => _evicted;

  /// File bytes sent.
  int get bytesSent => _bytesSent;

  /// File bytes received.
  int get bytesReceived => _bytesReceived;

  /// HTTP requests made.
  int get requests => _requests;

  @override
  String toString() => 'AttachmentReport(uploaded: $uploaded, alreadyThere: $alreadyThere, '
      'refused: $refused, setAside: $setAside, downloaded: $downloaded, evicted: $evicted, '
      'bytesSent: $bytesSent, bytesReceived: $bytesReceived, requests: $requests)';
}

/// The attachment queue's numbers, for a status badge.
final class AttachmentStats {
  AttachmentStats._(QueryRow row)
      : pending = row.read<int>('pending'),
        pendingBytes = row.read<int>('pending_bytes'),
        uploading = row.read<int>('uploading'),
        oldestPendingAge = _duration(row.readNullable<int>('oldest_pending_age_ms')),
        nextAttemptAt = _time(row.readNullable<int>('next_attempt_at')),
        failed = row.read<int>('failed'),
        notDownloaded = row.read<int>('not_downloaded'),
        storedBytes = row.read<int>('stored_bytes');

  /// Files waiting to upload (or uploading).
  final int pending;

  /// Their bytes.
  final int pendingBytes;

  /// Files uploading now.
  final int uploading;

  /// Age of the oldest waiting file.
  final Duration? oldestPendingAge;

  /// When the next file held back by a retry delay is due.
  final DateTime? nextAttemptAt;

  /// Uploads set aside as failed.
  final int failed;

  /// The server's files rows refer to that are not on the device.
  final int notDownloaded;

  /// Bytes of files kept on the device.
  final int storedBytes;

  @override
  String toString() => 'AttachmentStats(pending: $pending, pendingBytes: $pendingBytes, '
      'uploading: $uploading, oldestPendingAge: $oldestPendingAge, nextAttemptAt: '
      '$nextAttemptAt, failed: $failed, notDownloaded: $notDownloaded, storedBytes: '
      '$storedBytes)';
}

/// A file a row's field refers to, as the device has it.
final class LocalAttachment {
  LocalAttachment._(QueryRow row)
      : seq = row.read<int>('seq'),
        reference = OffgenAttachment(
          sha256: row.read<String>('sha256'),
          size: row.read<int>('size'),
          mediaType: row.read<String>('media_type'),
        ),
        localPath = row.readNullable<String>('local_path'),
        state = row.read<String>('state'),
        remoteKey = row.read<String>('remote_key');

  final int seq;

  /// The reference.
  final OffgenAttachment reference;

  /// Where it is on the device, if it is.
  final String? localPath;

  /// Its queue state (`pending`, `uploading`, `uploaded`, `failed`, `remote`).
  final String state;

  /// Its path on the server, after `/attachments/`.
  final String remoteKey;
}

/// An upload set aside as failed.
final class FailedAttachment {
  FailedAttachment._(QueryRow row)
      : seq = row.read<int>('seq'),
        entity = row.read<String>('entity'),
        rowId = row.read<String>('row_id'),
        field = row.read<String>('field'),
        reference = OffgenAttachment(
          sha256: row.read<String>('sha256'),
          size: row.read<int>('size'),
          mediaType: row.read<String>('media_type'),
        ),
        localPath = row.readNullable<String>('local_path'),
        attempts = row.read<int>('attempts'),
        lastError = row.readNullable<String>('last_error');

  /// What [SyncDevice.retryFailedAttachment] and [SyncDevice.discardAttachment] take.
  final int seq;

  /// The entity's table.
  final String entity;

  /// The row.
  final String rowId;

  /// The field (wire key).
  final String field;

  /// The file.
  final OffgenAttachment reference;

  /// Where it is (it is kept).
  final String? localPath;

  /// How often the server refused it.
  final int attempts;

  /// Why.
  final String? lastError;
}

/// A file the app cannot attach (no such field, no file, not a media type), or one the loop
/// cannot keep or delete.
final class AttachmentException implements Exception {
  /// A failure described by [message].
  const AttachmentException(this.message);

  /// What went wrong.
  final String message;

  @override
  String toString() => 'attachment: $message';
}

/// A claimed upload, as `claimed_attachment` returns it.
final class _ClaimedUpload {
  _ClaimedUpload(QueryRow row)
      : remoteKey = row.read<String>('remote_key'),
        localPath = row.read<String>('local_path'),
        sha256 = row.read<String>('sha256'),
        size = row.read<int>('size');

  final String remoteKey;
  final String localPath;
  final String sha256;
  final int size;
}

/// A due download, as `attachment_downloads_due` returns it.
final class _DueDownload {
  _DueDownload(this.seq, this.remoteKey, this.sha256);

  final int seq;
  final String remoteKey;
  final String sha256;
}

/// A file's SHA-256 (lowercase hex) and size.
final class _Hashed {
  _Hashed(this.sha256, this.size);

  final String sha256;
  final int size;
}

/// Collects the digest a chunked SHA-256 conversion ends with.
final class _DigestSink implements Sink<Digest> {
  Digest? _digest;

  @override
  void add(Digest data) {
    _digest = data;
  }

  @override
  void close() {}
}

/// Hashes bytes as they pass: what a file held when it was read or written is known once
/// the transfer ends.
final class _Hashing {
  _Hashing() {
    _input = sha256.startChunkedConversion(_output);
  }

  final _DigestSink _output = _DigestSink();
  late final ByteConversionSink _input;
  int length = 0;
  bool _closed = false;

  /// [chunks], hashed on their way through.
  Stream<List<int>> through(Stream<List<int>> chunks) {
    return chunks.map((chunk) {
      _input.add(chunk);
      length += chunk.length;
      return chunk;
    });
  }

  /// The hash of every byte that passed (lowercase hex).
  String get hex {
    if (!_closed) {
      _closed = true;
      _input.close();
    }
    return _output._digest.toString();
  }
}

/// Writes a download into a file, hashing what it writes.
final class _HashingFile implements StreamConsumer<List<int>> {
  _HashingFile(File file) : _sink = file.openWrite();

  final IOSink _sink;
  final _Hashing hash = _Hashing();
  bool _closed = false;

  /// Bytes written.
  int get written => hash.length;

  @override
  Future<void> addStream(Stream<List<int>> stream) => _sink.addStream(hash.through(stream));

  @override
  Future<void> close() async {
    if (_closed) return;
    _closed = true;
    await _sink.close();
  }

  /// Closes the file; the hash of what was written.
  Future<String> finish() async {
    await close();
    return hash.hex;
  }
}

/// The SHA-256 and size of the file at [path], read a piece at a time.
Future<_Hashed> _hashFile(String path) async {
  final hash = _Hashing();
  await for (final _ in hash.through(File(path).openRead())) {}
  return _Hashed(hash.hex, hash.length);
}

/// A file's bytes, a piece at a time, from a file already opened (so a file gone before the
/// upload starts is known before the request is made).
Stream<List<int>> _chunks(RandomAccessFile file) async* {
  try {
    while (true) {
      final chunk = await file.read(64 * 1024);
      if (chunk.isEmpty) break;
      yield chunk;
    }
  } finally {
    await file.close();
  }
}

/// Whether `type/subtype` (the server checks media types fully).
bool _isMediaType(String mediaType) =>
    RegExp(r'^[^/\s]+/[^/\s]+$').hasMatch(mediaType);

/// Whether a file is at [path].
bool _exists(String path) => File(path).existsSync();

/// The largest file the server takes, as its answer to a HEAD says.
int? _serverMaxBytes(SyncResponse asked) {
  final value = asked.header(attachmentMaxBytesHeader)?.trim();
  return value == null ? null : int.tryParse(value);
}

/// The problem's type and detail, for the queue's `last_error`.
String _problemLine(SyncResponse response) {
  final problem = _problem(response);
  final type = problem?['type'];
  final detail = problem?['detail'];
  final code = type is String ? type.split('/').last : 'refused';
  return '$code: ${response.status} ${detail is String ? detail : ''}';
}

/// One run of the attachment loop: the device, its lease, and what it did.
final class _FileRun {
  _FileRun(this.client, this.options, this.holder, this.report);

  final SyncClient client;
  final AttachmentOptions options;
  final String holder;
  final AttachmentReport report;

  SyncDevice get device => client.device;

  Future<void> run() async {
    await device._execute(SyncSql.recoverAttachmentUploads, const {});
    await upload();
    await fetch();
    await evict();
  }

  Future<int> now() => device.now();

  /// Takes or renews the attachment lease; false when another run holds it.
  Future<bool> renewLease() async {
    final now = await device.now();
    final until = now + client.options.lease.inMilliseconds;
    final changed = await device._execute(
      SyncSql.acquireAttachmentLease,
      {'holder': holder, 'now': now, 'until': until},
    );
    return changed == 1;
  }

  Future<void> keepLease() async {
    if (!await renewLease()) {
      throw SyncException._(
        SyncErrorKind.busy,
        'another attachment sync took over this database',
      );
    }
  }

  Future<void> upload() async {
    final metered = options.metered ? 1 : 0;
    while (true) {
      await keepLease();
      final claim = _randomId();
      final now = await this.now();
      await device._execute(
        SyncSql.claimAttachmentUpload,
        {'claim': claim, 'now': now, 'metered': metered},
      );
      final rows = await device._query(SyncSql.claimedAttachment, {'claim': claim});
      final claimed = [for (final row in rows) _ClaimedUpload(row)];
      if (claimed.isEmpty) {
        return;
      }
      await uploadOne(claim, claimed[0]);
    }
  }

  /// One claimed file: asked after (a retry after a lost answer costs one small request),
  /// then sent.
  Future<void> uploadOne(String claim, _ClaimedUpload file) async {
    final path = '$attachmentPathPrefix/${file.remoteKey}';
    final request = await build('HEAD', path);
    report._requests += 1;
    final SyncResponse asked;
    try {
      asked = await client.transport.send(request);
    } on TransportException catch (e) {
      await release(claim);
      throw SyncException._(SyncErrorKind.transport, 'no response: ${e.message}');
    }
    if (asked.status == 200) {
      report._alreadyThere += 1;
      return confirm(claim);
    }
    if (asked.status != 404) {
      await release(claim);
      throw _refused(asked);
    }
    final size = file.size;
    final max = _serverMaxBytes(asked);
    if (max != null && size > max) {
      final error = 'too-large: the file is $size bytes, and the server takes at most $max';
      return setAside(claim, error);
    }
    final RandomAccessFile opened;
    try {
      opened = await File(file.localPath).open();
    } on FileSystemException catch (e) {
      final error = 'missing: the local file ${file.localPath} cannot be read: ${e.message}';
      return setAside(claim, error);
    }
    final reader = _Hashing();
    final put = await build('PUT', path);
    report._requests += 1;
    final sent = client.transport.upload(put, reader.through(_chunks(opened)), size);
    final SyncResponse response;
    try {
      response = await sent;
    } on TransportException catch (e) {
      await release(claim);
      throw SyncException._(SyncErrorKind.transport, 'no response: ${e.message}');
    }
    final localMatches = reader.length == size && reader.hex == file.sha256;
    // Counted once answered (a run that stops reports nothing).
    report._bytesSent += reader.length;
    if (response.status == 200 || response.status == 201) {
      report._uploaded += 1;
      await confirm(claim);
    } else if (response.status == 413) {
      final error = 'too-large: the server refused the file of $size bytes';
      await setAside(claim, error);
    } else if ((response.status == 400 || response.status == 422) && !localMatches) {
      // The bytes read were not the file's: the local file changed since it was attached.
      // Sending it again would change nothing.
      final error =
          'changed: the local file ${file.localPath} no longer holds the attached bytes';
      await setAside(claim, error);
    } else if (response.status == 400 ||
        response.status == 404 ||
        response.status == 409 ||
        response.status == 410 ||
        response.status == 422) {
      // The row is not on the server yet, refers to another file, or the bytes changed on
      // the way: again later.
      report._refused += 1;
      final error = _problemLine(response);
      final now = await this.now();
      await device._execute(
        SyncSql.retryAttachmentUpload,
        {'claim': claim, 'error': error, 'now': now},
      );
    } else {
      await release(claim);
      throw _refused(response);
    }
  }

  Future<void> confirm(String claim) async {
    final now = await this.now();
    await device._execute(SyncSql.confirmAttachmentUpload, {'claim': claim, 'now': now});
  }

  Future<void> setAside(String claim, String error) async {
    report._setAside += 1;
    await device._execute(SyncSql.setAsideAttachment, {'claim': claim, 'error': error});
  }

  Future<void> release(String claim) async {
    await device._execute(SyncSql.releaseAttachmentUpload, {'claim': claim});
  }

  /// With eager downloads, the server's files within the rules.
  Future<void> fetch() async {
    final metered = options.metered ? 1 : 0;
    final limit = options.downloadBatch;
    final now = await this.now();
    final rows = await device._query(
      SyncSql.attachmentDownloadsDue,
      {'now': now, 'metered': metered, 'limit': limit},
    );
    final due = [
      for (final row in rows)
        _DueDownload(row.read<int>('seq'), row.read<String>('remote_key'),
            row.read<String>('sha256')),
    ];
    for (final file in due) {
      await keepLease();
      await download(file);
    }
  }

  /// Fetches one file into the download folder: to a temporary file, hash checked, then
  /// renamed into place (`<sha256>`). Null when the server does not have it yet.
  Future<String?> download(_DueDownload file) async {
    final dir = Directory(options.downloadDir);
    await dir.create(recursive: true);
    final target = '${dir.path}/${file.sha256}';
    final temporary = File('$target.part');
    final sink = _HashingFile(temporary);
    final path = '$attachmentPathPrefix/${file.remoteKey}';
    final request = await build('GET', path);
    report._requests += 1;
    final received = client.transport.download(request, sink);
    final SyncResponse response;
    try {
      response = await received;
    } on TransportException catch (e) {
      await sink.close();
      await discard(temporary);
      throw SyncException._(SyncErrorKind.transport, 'no response: ${e.message}');
    }
    report._bytesReceived += sink.written;
    final hash = await sink.finish();
    if (response.status != 200) {
      await discard(temporary);
      if (response.status == 404) {
        final error = _problemLine(response);
        final now = await this.now();
        await device._execute(
          SyncSql.retryAttachmentDownload,
          {'seq': file.seq, 'error': error, 'now': now},
        );
        return null;
      }
      throw _refused(response);
    }
    if (hash != file.sha256) {
      await discard(temporary);
      throw SyncException._(
        SyncErrorKind.protocol,
        'the file ${file.sha256} came with other bytes',
      );
    }
    await temporary.rename(target);
    final now = await this.now();
    await device._execute(
      SyncSql.confirmAttachmentDownload,
      {'seq': file.seq, 'local_path': target, 'now': now},
    );
    report._downloaded += 1;
    return target;
  }

  /// Deletes a download's temporary file, if it is there.
  Future<void> discard(File temporary) async {
    try {
      await temporary.delete();
    } on FileSystemException {
      // Never made, or gone: nothing to delete.
    }
  }

  /// Deletes the local files no row needs any more (never one waiting to upload).
  Future<void> evict() async {
    final now = await this.now();
    final rows = await device._query(SyncSql.evictableAttachments, {'now': now});
    final paths = [for (final row in rows) row.read<String>('local_path')];
    for (final path in paths) {
      // Marked first, checking again that no row needs it; deleted only then.
      final marked = await device._execute(
        SyncSql.evictAttachment,
        {'local_path': path, 'now': now},
      );
      if (marked > 0) {
        try {
          await File(path).delete();
          report._evicted += 1;
        } on PathNotFoundException {
          // Gone already: nothing to delete.
        } on FileSystemException catch (e) {
          throw AttachmentException('cannot remove $path: ${e.message}');
        }
      }
    }
    await device._execute(SyncSql.forgetEvicted, const {});
  }

  /// A request with the headers every file request carries (the token asked for now).
  Future<SyncRequest> build(String method, String path) async {
    final headers = {schemaStepHeader: '${clientMigrations.length}'};
    if (method == 'PUT') {
      headers['Content-Type'] = 'application/octet-stream';
    }
    final token = await client.token();
    if (token != null) {
      headers['Authorization'] = 'Bearer $token';
    }
    return SyncRequest(method, path, headers, Uint8List(0));
  }
}
