// {{ marker }}. Do not edit.
//
// The sync client of {{ app }}: push the queue, then pull to the end, running only the statements
// of sync_sql.dart. It is offgen's reference client (offgen-runtime, client/sync.rs) step for
// step: the same statements in the same order, one transaction per step, the same answer to
// every HTTP status. offgen's tests read both syntax trees and compare them (docs/flutter.md).
//
// Every decision about the queue is made by the generated SQL and triggers; this loop only
// moves JSON between them and the server and decides what each HTTP answer means.

import 'dart:async';
import 'dart:convert';
{%- if attachments %}
import 'dart:io';
{%- endif %}
import 'dart:math';
import 'dart:typed_data';

{% if attachments -%}
import 'package:crypto/crypto.dart';
{% endif -%}
import 'package:drift/drift.dart';
import 'package:http/http.dart' as http;

import 'sync_sql.dart';
{%- if attachments %}
import 'tables.dart' show OffgenAttachment;
{%- endif %}

{% if attachments -%}
part 'sync_attachments.dart';
{% endif -%}
part 'sync_device.dart';
part 'sync_json.dart';
part 'sync_transport.dart';

/// The header that names this app's schema step on every request.
const String schemaStepHeader = '{{ schema_step_header }}';

/// The problem type of a 409 to a push: the server does not know this app's schema step yet.
const String schemaAheadProblem = '{{ schema_ahead_problem }}';

/// The problem type of a refusal: the server no longer serves this app's schema step.
const String upgradeRequiredProblem = '{{ upgrade_required_problem }}';

/// How a sync sizes its requests.
final class SyncOptions {
  /// The defaults of the reference client.
  const SyncOptions({
    this.pushBatch = 500,
    this.maxPushBytes = 8 * 1024 * 1024,
    this.pullPage = 500,
    this.lease = const Duration(seconds: 60),
  });

  /// Most mutations per push (the server takes at most 1,000).
  final int pushBatch;

  /// Most bytes per push body. Keep it at or below the server's body limit (8 MiB unless the
  /// server was configured otherwise); a change larger than this alone is set aside as failed.
  /// On a 413 the loop halves its batches by itself.
  final int maxPushBytes;

  /// Records per pull page (the server serves at most 1,000).
  final int pullPage;

  /// How long a sync may hold the database's sync lease without renewing it (it renews before
  /// every request). A sync killed mid-way blocks others for at most this long.
  final Duration lease;
}

/// What one sync did.
final class SyncReport {
  SyncReport._();

  int _pushed = 0;
  int _accepted = 0;
  int _conflicts = 0;
  int _rejected = 0;
  int _setAside = 0;
  int _pulled = 0;
  final Map<String, int> _unknown = {};
  int _bytesSent = 0;
  int _bytesReceived = 0;
  int _requests = 0;
  bool _serverBehind = false;
  int? _serverStep;

  /// Mutations sent (a retry of a batch counts again).
  int get pushed => _pushed;

  /// Results `accepted`.
  int get accepted => _accepted;

  /// Results `conflict`.
  int get conflicts => _conflicts;

  /// Results `rejected`.
  int get rejected => _rejected;

  /// Changes newly set aside as failed (rejected too often, or too large).
  int get setAside => _setAside;

  /// Records pulled and handed to the database.
  int get pulled => _pulled;

  /// Pulled records of entities this schema does not have (a newer server), by table.
  Map<String, int> get unknown => Map.unmodifiable(_unknown);

  /// Request bodies sent, in bytes.
  int get bytesSent => _bytesSent;

  /// Response bodies received, in bytes.
  int get bytesReceived => _bytesReceived;

  /// HTTP requests made (answered or not).
  int get requests => _requests;

  /// The server runs an older schema step than this app: the changes wait on the device,
  /// uncounted, and go through by themselves once the server is upgraded. Pulls go on
  /// meanwhile (in the server's shape; fields it does not send keep their values).
  bool get serverBehind => _serverBehind;

  /// The server's schema step, when it said (with [serverBehind]).
  int? get serverStep => _serverStep;

  @override
  String toString() => 'SyncReport(pushed: $pushed, accepted: $accepted, '
      'conflicts: $conflicts, rejected: $rejected, setAside: $setAside, pulled: $pulled, '
      'unknown: $_unknown, bytesSent: $bytesSent, bytesReceived: $bytesReceived, '
      'requests: $requests, serverBehind: $serverBehind, serverStep: $serverStep)';
}

/// The kinds of [SyncException].
enum SyncErrorKind {
  /// Another sync holds this database (in this isolate, another one, or another process); try
  /// again later.
  busy,

  /// No response (no network, timeout, connection lost). Nothing is lost: unanswered changes
  /// go again with the same mutation ids.
  transport,

  /// The server answered the whole request with an error status (401, 403, 429, 5xx, ...); no
  /// change counted an attempt.
  refused,

  /// The server's answer was not the protocol's (a proxy's page, a wrong URL, ...).
  protocol,

  /// The device database failed.
  database,
{%- if attachments %}

  /// A file on the device could not be read, written or deleted (the attachment loop).
  file,
{%- endif %}
}

/// Why a sync stopped early. Whatever it did before is in [report] and committed: a sync can
/// stop at any point and the next one carries on.
final class SyncException implements Exception {
  SyncException._(
    this.kind,
    this.message, {
    this.status,
    this.problem,
    this.detail,
    this.retryAfter,
    this.cause,
  });

  /// What went wrong.
  final SyncErrorKind kind;

  /// For the log.
  final String message;

  /// The HTTP status, when the server refused the request.
  final int? status;

  /// The problem's `type`, if the refusal was problem+json.
  final String? problem;

  /// The problem's `detail`.
  final String? detail;

  /// `Retry-After`, when the server said when to come back.
  final Duration? retryAfter;

  /// The underlying error (a database exception), if any.
  final Object? cause;

  SyncReport? _report;

  /// What the sync did before it stopped.
  SyncReport get report => _report ?? SyncReport._();

  /// Whether the server refused the credentials (401) or the caller (403): the token provider
  /// should get a new token before the next sync.
  bool get isUnauthorized =>
      kind == SyncErrorKind.refused && (status == 401 || status == 403);

  /// Whether the server no longer serves this app's schema step: the app must be updated (its
  /// queued changes stay on the device and migrate with it).
  bool get isUpgradeRequired =>
      kind == SyncErrorKind.refused && problem == upgradeRequiredProblem;

  @override
  String toString() {
    final out = StringBuffer(message);
    if (problem != null) out.write(' ($problem)');
    if (detail != null) out.write(': $detail');
    return out.toString();
  }
}

/// Gives the bearer token for the next request, or null to send none. It is called before
/// every request and its answer is never stored.
typedef TokenProvider = FutureOr<String?> Function();

/// Syncs one device database with its server through a [SyncTransport].
///
/// One sync at a time per database: [syncNow] takes the database's sync lease (a row in
/// `_offgen_meta`, so it holds across isolates and processes too) and a second call made in
/// this isolate while one runs joins it.
final class SyncClient {
  /// A client for [device] over [transport] (usually [HttpSyncTransport]).
  SyncClient(
    this.device, {
    required this.transport,
    required this.token,
    this.options = const SyncOptions(),
  });

  /// The database this client syncs.
  final SyncDevice device;

  /// How requests reach the server.
  final SyncTransport transport;

  /// Asked for the bearer token before every request.
  final TokenProvider token;

  /// How requests are sized.
  final SyncOptions options;

  Future<SyncReport>? _running;
{%- if attachments %}
  Future<AttachmentReport>? _files;
{%- endif %}

  /// One sync: push every change that is due, then pull to the end. Stops at the first
  /// request the server does not answer with success, throwing a [SyncException]; what was
  /// done until then stays done.
  Future<SyncReport> syncNow() {
    return _running ??= _reported().whenComplete(() {
      _running = null;
    });
  }

  Future<SyncReport> _reported() async {
    final report = SyncReport._();
    try {
      return await _sync(report);
    } on SyncException catch (e) {
      e._report ??= report;
      rethrow;
    } on TransportException catch (e, stack) {
      Error.throwWithStackTrace(
        SyncException._(SyncErrorKind.transport, 'no response: ${e.message}')
          .._report = report,
        stack,
      );
    } on FormatException catch (e, stack) {
      Error.throwWithStackTrace(
        SyncException._(
          SyncErrorKind.protocol,
          'unexpected answer from the server: ${e.message}',
        ).._report = report,
        stack,
      );
    } catch (e, stack) {
      Error.throwWithStackTrace(
        SyncException._(SyncErrorKind.database, 'device database: $e', cause: e)
          .._report = report,
        stack,
      );
    }
  }
{% if attachments %}
  /// One run of the attachment loop, apart from [syncNow] and on a lease of its own (a photo
  /// uploading for twenty minutes never keeps a record from syncing): upload every due file
  /// the app's rules let go on this network, fetch the server's files (with eager
  /// downloads), and evict local files no row needs any more. Run it after [syncNow] (an
  /// upload needs its row on the server). Stops at the first request the server does not
  /// answer, throwing a [SyncException]; whatever it did until then stays done. A second
  /// call made while one runs joins it.
  Future<AttachmentReport> syncAttachments(AttachmentOptions options) {
    return _files ??= _guarded(() => _syncAttachments(options, AttachmentReport._()))
        .whenComplete(() {
      _files = null;
    });
  }

  /// Fetches the file field [field] (wire key) of row [rowId] of [entity] refers to, if the
  /// device does not hold it: into [dir], its hash checked. Returns where it is. The server
  /// answers 404 until the file's device has uploaded it (a [SyncException] of kind
  /// `refused`; try again later).
  Future<String> fetchAttachment(String entity, String rowId, String field, String dir) {
    return _guarded(() => _fetchAttachment(entity, rowId, field, dir));
  }

  /// [work], its failures as [SyncException]s.
  Future<R> _guarded<R>(Future<R> Function() work) async {
    try {
      return await work();
    } on SyncException {
      rethrow;
    } on TransportException catch (e, stack) {
      Error.throwWithStackTrace(
        SyncException._(SyncErrorKind.transport, 'no response: ${e.message}'),
        stack,
      );
    } on AttachmentException catch (e, stack) {
      Error.throwWithStackTrace(SyncException._(SyncErrorKind.file, e.message), stack);
    } on FileSystemException catch (e, stack) {
      Error.throwWithStackTrace(
        SyncException._(SyncErrorKind.file, 'attachment: $e', cause: e),
        stack,
      );
    } catch (e, stack) {
      Error.throwWithStackTrace(
        SyncException._(SyncErrorKind.database, 'device database: $e', cause: e),
        stack,
      );
    }
  }

  Future<AttachmentReport> _syncAttachments(
    AttachmentOptions options,
    AttachmentReport report,
  ) async {
    final holder = _randomId();
    final run = _FileRun(this, options, holder, report);
    if (!await run.renewLease()) {
      throw SyncException._(
        SyncErrorKind.busy,
        'another attachment sync is running on this database',
      );
    }
    try {
      await run.run();
    } finally {
      await run.device._execute(SyncSql.releaseAttachmentLease, {'holder': run.holder});
    }
    return report;
  }

  Future<String> _fetchAttachment(String entity, String rowId, String field, String dir) async {
    final found = await device.attachment(entity, rowId, field);
    if (found == null) {
      throw AttachmentException('$entity row $rowId\'s $field refers to no file');
    }
    final local = found.localPath;
    if (local != null && _exists(local)) {
      return local;
    }
    final run = _FileRun(this, AttachmentOptions(downloadDir: dir), '', AttachmentReport._());
    final due = _DueDownload(found.seq, found.remoteKey, found.reference.sha256);
    final fetched = await run.download(due);
    if (fetched == null) {
      throw SyncException._(
        SyncErrorKind.refused,
        'the server answered 404',
        status: 404,
        detail: 'the file has not been uploaded yet',
      );
    }
    return fetched;
  }
{% endif %}
  Future<SyncReport> _sync(SyncReport report) async {
    final holder = _randomId();
    final run = _Run(this, holder, report);
    if (!await run.renewLease()) {
      throw SyncException._(
        SyncErrorKind.busy,
        'another sync is running on this database',
      );
    }
    try {
      await run.run();
    } finally {
      await run.device._execute(SyncSql.releaseSyncLease, {'holder': run.holder});
    }
    return report;
  }
}

/// A claimed outbox entry, as `claimed_entries` returns it.
final class _Claimed {
  _Claimed(QueryRow row)
      : mutationId = row.read<String>('mutation_id'),
        entity = row.read<String>('entity'),
        rowId = row.read<String>('row_id'),
        op = row.read<String>('op'),
        payload = row.read<String>('payload'),
        baseVersion = row.readNullable<int>('base_version'),
        stamp = row.readNullable<int>('stamp'),
        fieldStamps = row.readNullable<String>('field_stamps');

  final String mutationId;
  final String entity;
  final String rowId;
  final String op;
  final String payload;
  final int? baseVersion;
  final int? stamp;
  final String? fieldStamps;
}

/// One sync in progress: the device, its lease and what it did so far.
final class _Run {
  _Run(this.client, this.holder, this.report);

  final SyncClient client;
  final String holder;
  final SyncReport report;

  SyncDevice get device => client.device;

  Future<void> run() async {
    await device._execute(SyncSql.recoverInflight, const {});
    final failedBefore = (await device.stats()).failed;
    try {
      await push();
    } finally {
      final failedAfter = (await device.stats()).failed;
      report._setAside = max(0, failedAfter - failedBefore);
    }
    await pull();
    final now = await this.now();
    await device._execute(SyncSql.setLastSynced, {'now': now});
  }

  Future<int> now() => device.now();

  /// Takes or renews the lease; false when another sync holds it.
  Future<bool> renewLease() async {
    final now = await device.now();
    final until = now + client.options.lease.inMilliseconds;
    final changed = await device._execute(
      SyncSql.acquireSyncLease,
      {'holder': holder, 'now': now, 'until': until},
    );
    return changed == 1;
  }

  Future<void> keepLease() async {
    if (!await renewLease()) {
      // The lease ran out and another sync took it: stop, leaving the queue to it.
      throw SyncException._(
        SyncErrorKind.busy,
        'another sync took over this database',
      );
    }
  }

  Future<void> push() async {
    final options = client.options;
    var limit = max(options.pushBatch, 1);
    var maxBytes = options.maxPushBytes;
    while (true) {
      await keepLease();
      final claim = _randomId();
      final entries = await this.claim(claim, limit, maxBytes);
      if (entries.isEmpty) {
        return;
      }
      final clientId = await device.clientId();
      final body = _pushBody(clientId, entries);
      report._pushed += entries.length;
      final SyncResponse response;
      try {
        response = await send('POST', '/sync/push', body);
      } on TransportException catch (e) {
        await release(claim);
        throw SyncException._(SyncErrorKind.transport, 'no response: ${e.message}');
      }
      if (response.status == 200) {
        await applyResults(response);
      } else if (response.status == 413 && entries.length > 1) {
        // The server's limit is below ours: halve the batches and go on.
        await release(claim);
        limit = max(entries.length ~/ 2, 1);
        maxBytes = max(maxBytes ~/ 2, 1024);
      } else if (response.status == 409 && _problemType(response) == schemaAheadProblem) {
        // The server does not know this app's schema step yet: nothing is counted against
        // the changes; they wait for the server's upgrade.
        await release(claim);
        report._serverBehind = true;
        report._serverStep = _problemServerStep(response);
        return;
      } else if (response.status == 413) {
        final error = 'too-large: the server refused this change as too large '
            '(${_entriesLength(entries)} bytes in one push)';
        await device._execute(
          SyncSql.setAsideClaimed,
          {'claim': claim, 'error': error},
        );
      } else {
        await release(claim);
        throw _refused(response);
      }
    }
  }

  /// Prepares, sets aside what can never be sent, and claims a batch, in one transaction.
  Future<List<_Claimed>> claim(String claim, int limit, int maxBytes) async {
    final now = await this.now();
    return inTransaction(() async {
      await device._execute(SyncSql.prepareBatch, {'now': now, 'limit': limit});
      await device._execute(SyncSql.setAsideOversized, {'max_bytes': maxBytes});
      await device._execute(
        SyncSql.claimBatch,
        {'now': now, 'limit': limit, 'max_bytes': maxBytes, 'claim': claim},
      );
      final rows = await device._query(SyncSql.claimedEntries, {'claim': claim});
      return [for (final row in rows) _Claimed(row)];
    });
  }

  Future<void> release(String claim) async {
    await device._execute(SyncSql.releaseInflight, {'claim': claim});
  }

  Future<void> applyResults(SyncResponse response) async {
    final answer = _PushAnswer.parse(response.body);
    final statuses = _resultStatuses(answer.results);
    for (final result in statuses) {
      if (result.status == 'accepted') {
        report._accepted += 1;
      } else if (result.status == 'conflict') {
        report._conflicts += 1;
      } else if (result.status == 'rejected') {
        report._rejected += 1;
      } else {
        throw SyncException._(
          SyncErrorKind.protocol,
          'unexpected answer from the server: push result status `${result.status}`',
        );
      }
    }
    final now = await this.now();
    final results = answer.results;
    final serverTime = answer.serverTime;
    await inTransaction(() async {
      await device._execute(
        SyncSql.applyPushResults,
        {'results': results, 'now': now},
      );
      await device._execute(SyncSql.clearPushResults, const {});
      if (serverTime != null) {
        await device._execute(
          SyncSql.setClock,
          {'server_time': serverTime, 'now': now},
        );
      }
    });
  }

  Future<void> pull() async {
    // Each next page is asked for before the current one is applied, so that the server and
    // the network work while the device does.
    await keepLease();
    final cursors = await device._query(SyncSql.getPullCursor, const {});
    final cursor = cursors.isEmpty ? '' : cursors.first.read<String>('cursor');
    final durability = await device._query(SyncSql.pullDurability, const {});
    final relax = durability.any((row) => row.read<bool>('relax'));
    final limit = client.options.pullPage.clamp(1, 1000);
    final path = '/sync/pull?cursor=${Uri.encodeComponent(cursor)}&limit=$limit';
    var response = await send('GET', path, null);
    while (true) {
      if (response.status != 200) {
        throw _refused(response);
      }
      final page = _PullPage.parse(response.body);
      final records = _elementTexts(page.records);
      final count = records.length;
      final now = await this.now();
      final next = page.cursor;
      final serverTime = page.serverTime;
      Future<SyncResponse>? ahead;
      if (page.hasMore) {
        await keepLease();
        final path = '/sync/pull?cursor=${Uri.encodeComponent(next)}&limit=$limit';
        ahead = send('GET', path, null);
        // Awaited once this page is applied; should applying it fail first, the answer is
        // not wanted, and its failure is no unhandled error.
        unawaited(ahead.then<void>((_) {}, onError: (Object _) {}));
      }
      if (relax) {
        await device._execute(SyncSql.relaxDurability, const {});
      }
      final List<MapEntry<String, int>> unknown;
      try {
        unknown = await inTransaction(() async {
          await device._applyPulled(records);
          // Records waiting for a unique clash are tried again after every page: the page may
          // have changed the local row that held them back.
          final held = await device._query(SyncSql.takeClashes, const {});
          await device._execute(SyncSql.clearClashes, const {});
          for (final heldRecords in held) {
            await device._execute(
              SyncSql.applyPulledRecords,
              {'records': heldRecords.read<String>('records')},
            );
          }
          final unknown = await device._query(SyncSql.unknownPulledRecords, const {});
          await device._execute(SyncSql.clearInbox, const {});
          await device._execute(SyncSql.setPullCursor, {'cursor': next});
          if (serverTime != null) {
            await device._execute(
              SyncSql.setClock,
              {'server_time': serverTime, 'now': now},
            );
          }
          return [
            for (final row in unknown)
              MapEntry(row.read<String>('entity'), row.read<int>('records')),
          ];
        });
      } finally {
        if (relax) {
          await device._execute(SyncSql.restoreDurability, const {});
        }
      }
      report._pulled += count;
      for (final entry in unknown) {
        report._unknown.update(
          entry.key,
          (total) => total + entry.value,
          ifAbsent: () => entry.value,
        );
      }
      if (ahead == null) {
        return;
      }
      response = await ahead;
    }
  }

  /// Runs [work] in one transaction of the device's database: all of it or none.
  Future<R> inTransaction<R>(Future<R> Function() work) {
    return device._database.transaction(work);
  }

  Future<SyncResponse> send(String method, String path, String? body) async {
    final headers = {'Accept': 'application/json'};
    if (method == 'POST') {
      headers['Content-Type'] = 'application/json';
    }
    headers[schemaStepHeader] = '${clientMigrations.length}';
    final token = await client.token();
    if (token != null) {
      headers['Authorization'] = 'Bearer $token';
    }
    final bytes = body == null ? Uint8List(0) : utf8.encode(body);
    report._requests += 1;
    report._bytesSent += bytes.length;
    final response = await client.transport.send(
      SyncRequest(method, path, headers, bytes),
    );
    report._bytesReceived += response.body.length;
    return response;
  }
}

/// The push request body. Payloads and field stamps go in as the text the triggers made, so
/// every value reaches the server exactly as the device stored it.
String _pushBody(String clientId, List<_Claimed> entries) {
  final out = StringBuffer('{"clientId":${jsonEncode(clientId)},"mutations":[');
  var first = true;
  for (final entry in entries) {
    if (!first) out.write(',');
    first = false;
    out.write('{"mutationId":${jsonEncode(entry.mutationId)}');
    out.write(',"entity":${jsonEncode(entry.entity)}');
    out.write(',"id":${jsonEncode(entry.rowId)}');
    out.write(',"op":${jsonEncode(entry.op)}');
    final baseVersion = entry.baseVersion;
    if (baseVersion != null) out.write(',"baseVersion":$baseVersion');
    out.write(',"data":${_checkedJson(entry.payload, 'a queued payload')}');
    final stamp = entry.stamp;
    if (stamp != null) out.write(',"stamp":$stamp');
    final fieldStamps = entry.fieldStamps;
    if (fieldStamps != null) {
      out.write(',"fieldStamps":${_checkedJson(fieldStamps, 'a queued field stamp list')}');
    }
    out.write('}');
  }
  out.write(']}');
  return out.toString();
}

int _entriesLength(List<_Claimed> entries) {
  var total = 0;
  for (final entry in entries) {
    total += entry.payload.length + (entry.fieldStamps?.length ?? 0);
  }
  return total;
}

/// The problem+json body of a response, if it is one.
Map<Object?, Object?>? _problem(SyncResponse response) {
  try {
    final body = jsonDecode(utf8.decode(response.body));
    return body is Map ? body : null;
  } on FormatException {
    return null;
  }
}

/// The problem's `type`, if the response is problem+json.
String? _problemType(SyncResponse response) {
  final type = _problem(response)?['type'];
  return type is String ? type : null;
}

/// The server's schema step, as a schema-ahead problem names it.
int? _problemServerStep(SyncResponse response) {
  final step = _problem(response)?['serverStep'];
  return step is int ? step : null;
}

/// The whole request refused: the status, the problem's type and detail, and `Retry-After`.
SyncException _refused(SyncResponse response) {
  String? problem;
  String? detail;
  try {
    final body = jsonDecode(utf8.decode(response.body));
    if (body is Map) {
      final type = body['type'];
      final text = body['detail'];
      problem = type is String ? type : null;
      detail = text is String ? text : null;
    }
  } on FormatException {
    // Not problem+json (a proxy's page): the status says enough.
  }
  final retryAfter = response.header('retry-after')?.trim();
  final seconds = retryAfter != null && RegExp(r'^[0-9]{1,9}$').hasMatch(retryAfter)
      ? int.parse(retryAfter)
      : null;
  return SyncException._(
    SyncErrorKind.refused,
    'the server answered ${response.status}',
    status: response.status,
    problem: problem,
    detail: detail,
    retryAfter: seconds == null ? null : Duration(seconds: seconds),
  );
}

final Random _random = Random.secure();

/// A random id for a sync's lease and claims (hex, no spaces: the lease keeps `holder until`).
String _randomId() {
  final out = StringBuffer();
  for (var i = 0; i < 16; i++) {
    out.write(_random.nextInt(256).toRadixString(16).padLeft(2, '0'));
  }
  return out.toString();
}

/// Syncs on a timer and on demand, backing off after failures: the loop an app starts once.
///
/// After a success the next sync is due after [interval], or sooner when an entry held back by
/// its retry delay falls due. After a failure it waits the server's `Retry-After`, or a delay
/// that doubles from [minBackoff] up to [maxBackoff] (with jitter, so a fleet coming back
/// online does not arrive at once). Failures never cost a queued change an attempt.
final class SyncScheduler {
  /// A scheduler for [client]; [start] begins it.
  SyncScheduler(
    this.client, {
    this.interval = const Duration(minutes: 5),
    this.minBackoff = const Duration(seconds: 10),
    this.maxBackoff = const Duration(minutes: 30),
    this.onSynced,
    this.onError,
{%- if attachments %}
    this.attachments,
    this.onFilesSynced,
{%- endif %}
  });

  /// The client that syncs.
  final SyncClient client;

  /// Time between syncs while all goes well.
  final Duration interval;

  /// The first delay after a failure.
  final Duration minBackoff;

  /// The longest delay after failures.
  final Duration maxBackoff;

  /// Called with each sync's report.
  final void Function(SyncReport report)? onSynced;

  /// Called with each failed sync's exception (check [SyncException.isUnauthorized]).
  final void Function(SyncException error)? onError;
{%- if attachments %}

  /// The options of the attachment loop now (whether the network is metered, where fetched
  /// files go), or null to run no attachment loop: asked after every successful sync, which
  /// then starts [SyncClient.syncAttachments] without waiting for it, so files never hold
  /// the next record sync back.
  final FutureOr<AttachmentOptions?> Function()? attachments;

  /// Called with each run of the attachment loop's report (its failures go to [onError]).
  final void Function(AttachmentReport report)? onFilesSynced;
{%- endif %}

  Timer? _timer;
  bool _started = false;
  int _failures = 0;

  /// Starts syncing now and then on schedule.
  void start() {
    if (_started) return;
    _started = true;
    _schedule(Duration.zero);
  }

  /// Stops the schedule (a sync under way finishes).
  void stop() {
    _started = false;
    _timer?.cancel();
    _timer = null;
  }

  /// Syncs as soon as possible (after a local write, or when the network comes back).
  void syncSoon() {
    if (_started) _schedule(Duration.zero);
  }

  void _schedule(Duration delay) {
    _timer?.cancel();
    _timer = Timer(delay, _tick);
  }

  Future<void> _tick() async {
    if (!_started) return;
    Duration next;
    try {
      final report = await client.syncNow();
      _failures = 0;
      onSynced?.call(report);
{%- if attachments %}
      final files = await attachments?.call();
      if (files != null) unawaited(_syncFiles(files));
{%- endif %}
      next = interval;
      final stats = await client.device.stats();
      final due = stats.nextAttemptAt;
      if (due != null) {
        final wait = due.difference(DateTime.now().toUtc());
        if (wait < next) next = wait.isNegative ? Duration.zero : wait;
      }
    } on SyncException catch (e) {
      _failures += 1;
      onError?.call(e);
      next = e.retryAfter ?? _backoff();
      if (next > maxBackoff) next = maxBackoff;
    }
    if (_started) _schedule(next);
  }
{% if attachments %}
  Future<void> _syncFiles(AttachmentOptions options) async {
    try {
      onFilesSynced?.call(await client.syncAttachments(options));
    } on SyncException catch (e) {
      // Each file keeps its own retry delay in the queue; the next sync tries again.
      if (e.kind != SyncErrorKind.busy) onError?.call(e);
    }
  }
{% endif %}
  Duration _backoff() {
    final exponent = min(_failures - 1, 20);
    final base = minBackoff.inMilliseconds * pow(2, exponent);
    final capped = min(base.toDouble(), maxBackoff.inMilliseconds.toDouble());
    final jitter = 0.8 + _random.nextDouble() * 0.4;
    return Duration(milliseconds: (capped * jitter).round());
  }
}
