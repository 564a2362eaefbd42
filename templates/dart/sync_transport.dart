// {{ marker }}. Do not edit.
//
// How the device of {{ app }} reaches its server: a [SyncTransport] sends one request and returns
// the response. [HttpSyncTransport] is the real one, over package:http; tests and apps with
// their own networking implement the interface.

part of 'sync_client.dart';

/// One request, as the client builds it.
final class SyncRequest {
  /// A request.
  const SyncRequest(this.method, this.path, this.headers, this.body);

  /// `GET` or `POST`{% if attachments %} (`HEAD`, `PUT` for files){% endif %}.
  final String method;

  /// Path and query, from the server's base: `/sync/pull?cursor=&limit=500`.
  final String path;

  /// Headers (`Authorization` among them when the token provider gave a token).
  final Map<String, String> headers;

  /// The body (empty for a GET).
  final Uint8List body;
}

/// One response: every status is an answer the sync loop handles.
final class SyncResponse {
  /// A response.
  const SyncResponse(this.status, this.headers, this.body);

  /// HTTP status code.
  final int status;

  /// Headers.
  final Map<String, String> headers;

  /// The body.
  final Uint8List body;

  /// A header's value, by case-insensitive name.
  String? header(String name) {
    final lower = name.toLowerCase();
    for (final entry in headers.entries) {
      if (entry.key.toLowerCase() == lower) return entry.value;
    }
    return null;
  }
}

/// No response: the request may or may not have reached the server.
final class TransportException implements Exception {
  /// A failure described by [message].
  const TransportException(this.message);

  /// What happened, for the log.
  final String message;

  @override
  String toString() => 'no response: $message';
}

/// Sends requests to the server. Implementations must not retry on their own: the sync loop
/// decides what a failure means for the queue.
{%- if attachments %}
///
/// Extend it to keep the file transfers' defaults (which hold a file in memory); a real
/// transport streams them, as [HttpSyncTransport] does.
abstract class SyncTransport {
  /// A transport.
  const SyncTransport();

  /// Sends one request and waits for its response; throws [TransportException] when there is
  /// none.
  Future<SyncResponse> send(SyncRequest request);

  /// Sends a request whose body ([length] bytes) comes from [body] as it goes: an
  /// attachment's upload, the file's bytes as they are (no multipart form). The default
  /// collects it and calls [send]. An error reading [body] is a [TransportException] (the
  /// request did not go whole).
  Future<SyncResponse> upload(SyncRequest request, Stream<List<int>> body, int length) async {
    final bytes = BytesBuilder(copy: false);
    try {
      await for (final chunk in body) {
        bytes.add(chunk);
      }
    } on Exception catch (e) {
      throw TransportException('reading the body: $e');
    }
    return send(SyncRequest(request.method, request.path, request.headers, bytes.takeBytes()));
  }

  /// Sends a request and writes a successful (2xx) response's body into [sink] as it comes,
  /// returning the response without it: an attachment's download. Other responses come back
  /// whole. The default calls [send].
  Future<SyncResponse> download(SyncRequest request, StreamConsumer<List<int>> sink) async {
    final response = await send(request);
    if (response.status < 200 || response.status >= 300) return response;
    await sink.addStream(Stream.value(response.body));
    return SyncResponse(response.status, response.headers, Uint8List(0));
  }
}
{%- else %}
abstract interface class SyncTransport {
  /// Sends one request and waits for its response; throws [TransportException] when there is
  /// none.
  Future<SyncResponse> send(SyncRequest request);
}
{%- endif %}

/// HTTP over package:http, with a timeout for a whole request and its response, and a limit
/// on the response's size.
{%- if attachments %} A file transfer takes as long as the link needs: only the wait for
/// the answer once the body is sent, and every pause in a download, are limited
/// ([transferTimeout]).
final class HttpSyncTransport extends SyncTransport {
{%- else %}
final class HttpSyncTransport implements SyncTransport {
{%- endif %}
  /// A transport to the server at [baseUrl] (`https://sync.example.org`).
  HttpSyncTransport(
    String baseUrl, {
    http.Client? client,
    this.timeout = const Duration(seconds: 60),
    this.maxResponseBytes = 64 * 1024 * 1024,
{%- if attachments %}
    this.transferTimeout = const Duration(seconds: 120),
{%- endif %}
  })  : _base = baseUrl.endsWith('/') ? baseUrl.substring(0, baseUrl.length - 1) : baseUrl,
        _client = client ?? http.Client();

  final String _base;
  final http.Client _client;

  /// The longest a request and its response may take.
  final Duration timeout;

  /// The largest response body taken.
  final int maxResponseBytes;
{%- if attachments %}

  /// The longest a file transfer waits for the answer once its body is sent, and the longest
  /// pause in a download's body.
  final Duration transferTimeout;
{%- endif %}

  @override
  Future<SyncResponse> send(SyncRequest request) async {
    final outgoing = http.Request(request.method, Uri.parse('$_base${request.path}'));
    outgoing.headers.addAll(request.headers);
    if (request.body.isNotEmpty) outgoing.bodyBytes = request.body;
    try {
      return await _exchange(outgoing).timeout(timeout);
    } on TransportException {
      rethrow;
    } on Exception catch (e) {
      // Socket, TLS, timeout and client errors alike: there is no answer to act on.
      throw TransportException('$e');
    }
  }

  Future<SyncResponse> _exchange(http.BaseRequest request) async {
    return _collect(await _client.send(request));
  }

  Future<SyncResponse> _collect(http.StreamedResponse response) async {
    final body = BytesBuilder(copy: false);
    await for (final chunk in response.stream) {
      body.add(chunk);
      if (body.length > maxResponseBytes) {
        throw TransportException('the response exceeds $maxResponseBytes bytes');
      }
    }
    return SyncResponse(response.statusCode, response.headers, body.takeBytes());
  }
{% if attachments %}
  @override
  Future<SyncResponse> upload(SyncRequest request, Stream<List<int>> body, int length) async {
    final sent = Completer<void>();
    final outgoing = _RawBody(
      request.method,
      Uri.parse('$_base${request.path}'),
      body.transform(StreamTransformer<List<int>, List<int>>.fromHandlers(
        handleDone: (sink) {
          if (!sent.isCompleted) sent.complete();
          sink.close();
        },
      )),
      length,
    );
    outgoing.headers.addAll(request.headers);
    try {
      final answer = _exchange(outgoing);
      // The body goes at the link's pace; the answer is waited for once it is sent (or comes
      // early: the server refuses a file as soon as it knows).
      await Future.any([sent.future, answer]);
      return await answer.timeout(transferTimeout);
    } on TransportException {
      rethrow;
    } on Exception catch (e) {
      throw TransportException('$e');
    }
  }

  @override
  Future<SyncResponse> download(SyncRequest request, StreamConsumer<List<int>> sink) async {
    final outgoing = http.Request(request.method, Uri.parse('$_base${request.path}'));
    outgoing.headers.addAll(request.headers);
    try {
      final response = await _client.send(outgoing).timeout(transferTimeout);
      if (response.statusCode < 200 || response.statusCode >= 300) {
        return await _collect(response);
      }
      await sink.addStream(response.stream.timeout(transferTimeout));
      return SyncResponse(response.statusCode, response.headers, Uint8List(0));
    } on TransportException {
      rethrow;
    } on Exception catch (e) {
      throw TransportException('the download broke off: $e');
    }
  }
{% endif %}
  /// Closes the underlying client.
  void close() => _client.close();
}
{%- if attachments %}

/// A request whose body is a stream of [contentLength] bytes sent as they are: the raw body
/// of an attachment's PUT (package:http's multipart requests would wrap it in a form).
final class _RawBody extends http.BaseRequest {
  _RawBody(super.method, super.url, this._body, int length) {
    contentLength = length;
  }

  final Stream<List<int>> _body;

  @override
  http.ByteStream finalize() {
    super.finalize();
    return http.ByteStream(_body);
  }
}
{%- endif %}
