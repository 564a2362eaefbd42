// {{ marker }}. Do not edit.
//
// What the app asks of the sync state of {{ app }}: a status badge, the changes set aside, the
// conflicts, clashes and notices, and what to do with them. The reference client's `Device`.

part of 'sync_client.dart';

/// The status badge's numbers.
final class SyncStats {
  SyncStats._(QueryRow row)
      : queueDepth = row.read<int>('queue_depth'),
        oldestPendingAge = _duration(row.readNullable<int>('oldest_pending_age_ms')),
        nextAttemptAt = _time(row.readNullable<int>('next_attempt_at')),
        failed = row.read<int>('failed'),
        conflicts = row.read<int>('conflicts'),
        clashes = row.read<int>('clashes'),
        notices = row.read<int>('notices'),
        lastSyncedAt = _time(row.readNullable<int>('last_synced_at'));

  /// Changes queued or in flight.
  final int queueDepth;

  /// Age of the oldest of them, if any.
  final Duration? oldestPendingAge;

  /// When the next change held back by a retry delay is due.
  final DateTime? nextAttemptAt;

  /// Changes set aside: rejected too often, or too large to send.
  final int failed;

  /// Rows whose change met a newer server version (`version` entities).
  final int conflicts;

  /// Server records waiting because a local row holds one of their unique values.
  final int clashes;

  /// Local changes the server decided against on its own, not yet dismissed.
  final int notices;

  /// When a sync last pushed everything it could and pulled to the end.
  final DateTime? lastSyncedAt;

  /// What needs a person: failed changes, conflicts and clashes.
  int get needsAttention => failed + conflicts + clashes;

  @override
  String toString() => 'SyncStats(queueDepth: $queueDepth, oldestPendingAge: '
      '$oldestPendingAge, nextAttemptAt: $nextAttemptAt, failed: $failed, conflicts: '
      '$conflicts, clashes: $clashes, notices: $notices, lastSyncedAt: $lastSyncedAt)';
}

/// A change set aside as failed.
final class FailedEntry {
  FailedEntry._(QueryRow row)
      : seq = row.read<int>('seq'),
        entity = row.read<String>('entity'),
        rowId = row.read<String>('row_id'),
        op = row.read<String>('op'),
        payload = row.readNullable<String>('payload'),
        attempts = row.read<int>('attempts'),
        lastError = row.readNullable<String>('last_error'),
        createdAt = _time(row.read<int>('created_at'))!;

  /// Its queue position: what [SyncDevice.retryFailed] and [SyncDevice.discardFailed] take.
  final int seq;

  /// The entity's table.
  final String entity;

  /// The row.
  final String rowId;

  /// `insert`, `update` or `delete`.
  final String op;

  /// What was last prepared to send (JSON), if anything.
  final String? payload;

  /// How often the server rejected it.
  final int attempts;

  /// Why (`code: message`).
  final String? lastError;

  /// When the change was made.
  final DateTime createdAt;
}

/// A change that met a newer server version (policy `version`): both sides.
final class Conflict {
  Conflict._(QueryRow row)
      : entity = row.read<String>('entity'),
        rowId = row.read<String>('row_id'),
        op = row.read<String>('op'),
        serverVersion = row.readNullable<int>('server_version'),
        serverRecord = row.readNullable<String>('server_record'),
        localPayload = row.read<String>('local_payload'),
        message = row.read<String>('message'),
        createdAt = _time(row.read<int>('created_at'))!,
        serverDeleted = row.read<int>('server_deleted') != 0;

  /// The entity's table.
  final String entity;

  /// The row.
  final String rowId;

  /// The local change's op.
  final String op;

  /// The server's version.
  final int? serverVersion;

  /// The server's row is a tombstone: only `take_server` settles it (the server takes no
  /// change to a deleted row); keep the local values by writing them to a new row.
  final bool serverDeleted;

  /// The server's record (JSON, wire keys).
  final String? serverRecord;

  /// The local change (JSON, wire keys).
  final String localPayload;

  /// For the user.
  final String message;

  /// When it was found.
  final DateTime createdAt;
}

/// A server record waiting because a local row holds one of its unique values.
final class Clash {
  Clash._(QueryRow row)
      : entity = row.read<String>('entity'),
        id = row.read<String>('id'),
        version = row.read<int>('version'),
        data = row.read<String>('data'),
        localRowId = row.read<String>('local_row_id'),
        message = row.read<String>('message'),
        createdAt = _time(row.read<int>('created_at'))!;

  /// The entity's table.
  final String entity;

  /// The server row's id.
  final String id;

  /// Its version.
  final int version;

  /// Its fields (JSON, wire keys).
  final String data;

  /// The local row holding the value: change that value or delete the row to end the clash.
  final String localRowId;

  /// For the user.
  final String message;

  /// When it was found.
  final DateTime createdAt;
}

/// A local change the server replaced (lww: with newer values; server_wins: with its own).
final class Notice {
  Notice._(QueryRow row)
      : id = row.read<int>('id'),
        entity = row.read<String>('entity'),
        rowId = row.read<String>('row_id'),
        op = row.read<String>('op'),
        localPayload = row.read<String>('local_payload'),
        serverRecord = row.readNullable<String>('server_record'),
        overridden = _stringList(row.readNullable<String>('overridden')),
        message = row.read<String>('message'),
        createdAt = _time(row.read<int>('created_at'))!;

  /// What [SyncDevice.dismissNotice] takes.
  final int id;

  /// The entity's table.
  final String entity;

  /// The row.
  final String rowId;

  /// The local change's op.
  final String op;

  /// What this device wrote (JSON, wire keys).
  final String localPayload;

  /// The server's record the row now shows (JSON), if the server sent it.
  final String? serverRecord;

  /// The wire keys whose local values lost (empty: the whole change lost).
  final List<String> overridden;

  /// For the user.
  final String message;

  /// When it happened.
  final DateTime createdAt;
}

/// How the app settles a conflict.
enum Resolution {
  /// Send the local change again, on top of the server's version.
  keepLocal('keep_local'),

  /// Drop the local changes to the row and take the server's record.
  takeServer('take_server');

  const Resolution(this.sql);

  /// The value `resolve_conflict` takes.
  final String sql;
}

/// A device database as the sync sees it: the generated database class of the app, whose
/// triggers queue every write, plus the statements the app needs for a sync status badge and
/// an inbox of what needs a person.
final class SyncDevice {
  /// The sync side of [database] (the app's generated database class).
  SyncDevice(GeneratedDatabase database) : _database = database;

  final GeneratedDatabase _database;

  /// The tables whose changes can change [stats].
  static const List<String> statsTables = [
    '_offgen_outbox',
    '_offgen_conflicts',
    '_offgen_clashes',
    '_offgen_notices',
    '_offgen_meta',
  ];

  /// Runs a statement of sync_sql.dart; returns how many rows it changed.
  Future<int> _execute(SyncStatement statement, Map<String, Object?> params) async {
    final changed = await _database.customUpdate(
      statement.sql,
      variables: _variables(statement, params),
    );
    // Streams of the written table and, through the triggers Drift knows from sync.drift,
    // of the tables they write, refresh.
    final writes = statement.writes;
    if (writes != null) _database.notifyUpdates({TableUpdate(writes)});
    return changed;
  }

  /// Applies a pulled page's records (each as its JSON text) in page order, as the reference
  /// client's `apply_pulled` does: each that fits its entity's pulled-row statement through
  /// it, the others through applyPulledRecords, consecutive ones together. The database ends
  /// as applyPulledRecords of the whole page would leave it. Returns how many went through a
  /// pulled-row statement. Runs inside the page's transaction.
  Future<int> _applyPulled(List<String> records) async {
    final held = <String>[];
    var silenced = false;
    var applied = 0;
    for (final record in records) {
      final row = _PulledRow.bind(record);
      if (row != null) {
        if (!held.isEmpty) {
          // applyPulledRecords runs as ever: with the queue triggers listening.
          if (silenced) {
            await _execute(SyncSql.endPulledRows, const {});
            silenced = false;
          }
          await _applyHeld(held);
        }
        if (!silenced) {
          await _execute(SyncSql.beginPulledRows, const {});
          silenced = true;
        }
        if (await _executePulledRow(row) == 0) {
          held.add(record);
        } else {
          applied += 1;
        }
      } else {
        held.add(record);
      }
    }
    if (silenced) {
      await _execute(SyncSql.endPulledRows, const {});
    }
    if (!held.isEmpty) {
      await _applyHeld(held);
    }
    // Streams of the tables written row by row refresh once a page, not once a record.
    _database.notifyUpdates({
      for (final row in pulledRowStatements.values) TableUpdate(row.statement.writes!),
    });
    return applied;
  }

  /// Applies [held] through applyPulledRecords, and empties it.
  Future<void> _applyHeld(List<String> held) async {
    final records = '[${held.join(',')}]';
    held.clear();
    await _execute(SyncSql.applyPulledRecords, {'records': records});
  }

  /// Runs a record's pulled-row statement, bound by [_PulledRow.bind]; returns how many rows
  /// it changed.
  Future<int> _executePulledRow(_PulledRow row) {
    return _database.customUpdate(
      row.statement.sql,
      variables: [for (final value in row.values) Variable<Object>(value)],
    );
  }

  /// Runs a statement of sync_sql.dart; returns its rows.
  Future<List<QueryRow>> _query(SyncStatement statement, Map<String, Object?> params) {
    return _database
        .customSelect(statement.sql, variables: _variables(statement, params))
        .get();
  }

  /// The device's clock (epoch ms): the system clock, or the fixed one tests set.
  Future<int> now() async {
    final rows = await _query(SyncSql.deviceNow, const {});
    return rows.first.read<int>('now');
  }

  /// This device's id, sent with every push.
  Future<String> clientId() async {
    final rows = await _query(SyncSql.getClientId, const {});
    return rows.first.read<String>('client_id');
  }

  /// The numbers for a status badge.
  Future<SyncStats> stats() async {
    final now = await this.now();
    final rows = await _query(SyncSql.syncStats, {'now': now});
    return SyncStats._(rows.first);
  }

  /// [stats] now and after every change to the queue, and every [refresh] (ages grow, and a
  /// sync in another isolate writes through a connection whose changes this one's streams do
  /// not see).
  Stream<SyncStats> watchStats({Duration? refresh = const Duration(seconds: 30)}) {
    return _watch(stats, statsTables, refresh);
  }

  /// Makes changes waiting out a retry delay (after the server rejected them) due at once,
  /// for a "Sync now" button: call it, then [SyncClient.syncNow]. Their attempts still
  /// count. Returns how many were waiting.
  Future<int> retryWaiting() async {
    return await _execute(SyncSql.retryWaiting, const {});
  }

  /// Changes set aside as failed, oldest first.
  Future<List<FailedEntry>> listFailed() async {
    final rows = await _query(SyncSql.listFailed, const {});
    return [for (final row in rows) FailedEntry._(row)];
  }

  /// Queues a failed change again, with fresh attempts. Returns whether there was one.
  Future<bool> retryFailed(int seq) async {
    return await _execute(SyncSql.retryFailed, {'seq': seq}) > 0;
  }

  /// Drops a failed change: it is not sent; the row keeps its local values.
  Future<bool> discardFailed(int seq) async {
    return await _execute(SyncSql.discardFailed, {'seq': seq}) > 0;
  }

  /// Conflicts waiting for the app, oldest first.
  Future<List<Conflict>> listConflicts() async {
    final rows = await _query(SyncSql.listConflicts, const {});
    return [for (final row in rows) Conflict._(row)];
  }

  /// Settles a conflict. Returns whether there was one.
  Future<bool> resolveConflict(String entity, String rowId, Resolution resolution) async {
    return await _execute(
          SyncSql.resolveConflict,
          {'entity': entity, 'row_id': rowId, 'resolution': resolution.sql},
        ) >
        0;
  }

  /// Server records waiting for a unique clash, oldest first.
  Future<List<Clash>> listClashes() async {
    final rows = await _query(SyncSql.listClashes, const {});
    return [for (final row in rows) Clash._(row)];
  }

  /// Notices of local changes the server replaced, oldest first.
  Future<List<Notice>> listNotices() async {
    final rows = await _query(SyncSql.listNotices, const {});
    return [for (final row in rows) Notice._(row)];
  }

  /// Dismisses one notice. Returns whether there was one.
  Future<bool> dismissNotice(int id) async {
    return await _execute(SyncSql.dismissNotice, {'id': id}) > 0;
  }

  /// Dismisses every notice; returns how many.
  Future<int> dismissAllNotices() {
    return _execute(SyncSql.dismissAllNotices, const {});
  }
{% if attachments %}
  /// The tables whose changes can change [attachmentStats].
  static const List<String> attachmentTables = ['_offgen_attachments', '_offgen_meta'];

  /// Attaches the file at [path] to field [field] (wire key) of row [rowId] of [entity]
  /// (its table): the row's field is set to refer to it (a local write, queued like any
  /// other) and the file is queued for upload. The file is the sync's from now on: kept
  /// until the server holds it, then for the grace period, then deleted. Hand over a copy
  /// in the app's own folder (not the camera's temporary file). Throws
  /// [AttachmentException] for a field that is no attachment field, a file that cannot be
  /// read, or a media type that is not `type/subtype`.
  Future<OffgenAttachment> attachFile(
    String entity,
    String rowId,
    String field,
    String path,
    String mediaType,
  ) async {
    if (!_isMediaType(mediaType)) {
      throw AttachmentException('`$mediaType` is not a media type (type/subtype)');
    }
    final _Hashed hashed;
    try {
      hashed = await _hashFile(path);
    } on FileSystemException catch (e) {
      throw AttachmentException('cannot read $path: ${e.message}');
    }
    final now = await this.now();
    final changed = await _execute(SyncSql.attachFile, {
      'entity': entity,
      'row_id': rowId,
      'field': field,
      'sha256': hashed.sha256,
      'size': hashed.size,
      'media_type': mediaType,
      'local_path': path,
      'now': now,
    });
    if (changed == 0) {
      throw AttachmentException('$entity has no attachment field $field');
    }
    return OffgenAttachment(sha256: hashed.sha256, size: hashed.size, mediaType: mediaType);
  }

  /// The file field [field] of row [rowId] refers to, as the device has it.
  Future<LocalAttachment?> attachment(String entity, String rowId, String field) async {
    final rows = await _query(
      SyncSql.findAttachment,
      {'entity': entity, 'row_id': rowId, 'field': field},
    );
    return rows.isEmpty ? null : LocalAttachment._(rows.first);
  }

  /// Sets the app's rules for files.
  Future<void> setAttachmentPolicy(AttachmentPolicy policy) async {
    await _execute(SyncSql.setAttachmentPolicy, {
      'max_bytes': policy.maxBytes,
      'metered_max_bytes': policy.meteredMaxBytes,
      'grace_ms': policy.grace.inMilliseconds,
      'download': policy.downloads.sql,
    });
  }

  /// The attachment queue's numbers.
  Future<AttachmentStats> attachmentStats() async {
    final now = await this.now();
    final rows = await _query(SyncSql.attachmentStats, {'now': now});
    return AttachmentStats._(rows.first);
  }

  /// [attachmentStats] now and after every change to the attachment queue, and every
  /// [refresh].
  Stream<AttachmentStats> watchAttachmentStats({
    Duration? refresh = const Duration(seconds: 30),
  }) {
    return _watch(attachmentStats, attachmentTables, refresh);
  }

  /// Uploads set aside as failed, oldest first.
  Future<List<FailedAttachment>> listFailedAttachments() async {
    final rows = await _query(SyncSql.listFailedAttachments, const {});
    return [for (final row in rows) FailedAttachment._(row)];
  }

  /// Queues a failed upload again, with fresh attempts. Returns whether there was one.
  Future<bool> retryFailedAttachment(int seq) async {
    return await _execute(SyncSql.retryFailedAttachment, {'seq': seq}) > 0;
  }

  /// Gives a failed upload up: its file is deleted after the grace period. Returns whether
  /// there was one.
  Future<bool> discardAttachment(int seq) async {
    final now = await this.now();
    return await _execute(SyncSql.discardAttachment, {'seq': seq, 'now': now}) > 0;
  }

  /// "Sync now": uploads and downloads waiting out a retry delay are due at once.
  Future<int> retryWaitingAttachments() async {
    return await _execute(SyncSql.retryWaitingAttachments, const {});
  }
{% endif %}
  /// [listFailed], [listConflicts], [listClashes] or [listNotices] as a stream, like
  /// [watchStats]: `device.watch(device.listConflicts)`.
  Stream<T> watch<T>(
    Future<T> Function() read, {
    Duration? refresh = const Duration(seconds: 30),
  }) {
    return _watch(read, statsTables, refresh);
  }

  Stream<T> _watch<T>(Future<T> Function() read, List<String> tables, Duration? refresh) {
    late final StreamController<T> controller;
    StreamSubscription<Object?>? updates;
    Timer? timer;
    var reading = false;
    var again = false;
    Future<void> emit() async {
      if (reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          final value = await read();
          if (!controller.isClosed) controller.add(value);
        } while (again);
      } catch (error, stack) {
        if (!controller.isClosed) controller.addError(error, stack);
      } finally {
        reading = false;
      }
    }

    controller = StreamController<T>(
      onListen: () {
        final query = TableUpdateQuery.allOf([
          for (final table in tables) TableUpdateQuery.onTableName(table),
        ]);
        updates = _database.tableUpdates(query).listen((_) => emit());
        if (refresh != null) timer = Timer.periodic(refresh, (_) => emit());
        emit();
      },
      onCancel: () async {
        timer?.cancel();
        await updates?.cancel();
      },
    );
    return controller.stream;
  }
}

/// The statement's parameters in binding order (the SQL numbers them `?1`, `?2`, ...); a
/// missing or unknown name is a mistake in this file, reported before anything runs.
List<Variable<Object>> _variables(SyncStatement statement, Map<String, Object?> params) {
  for (final name in params.keys) {
    if (!statement.params.contains(name)) {
      throw ArgumentError.value(name, 'params', '${statement.name} takes no such parameter');
    }
  }
  return [
    for (final name in statement.params)
      if (params.containsKey(name))
        Variable<Object>(params[name])
      else
        throw ArgumentError.value(name, 'params', '${statement.name} needs it'),
  ];
}

Duration? _duration(int? ms) => ms == null ? null : Duration(milliseconds: ms);

DateTime? _time(int? ms) =>
    ms == null ? null : DateTime.fromMillisecondsSinceEpoch(ms, isUtc: true);

List<String> _stringList(String? json) {
  if (json == null) return const [];
  final value = jsonDecode(json);
  return value is List ? [for (final item in value) '$item'] : const [];
}
