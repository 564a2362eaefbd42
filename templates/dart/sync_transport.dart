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

  /// `GET` or `POST`.
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
abstract interface class SyncTransport {
  /// Sends one request and waits for its response; throws [TransportException] when there is
  /// none.
  Future<SyncResponse> send(SyncRequest request);
}

/// HTTP over package:http, with a timeout for a whole request and its response, and a limit
/// on the response's size.
final class HttpSyncTransport implements SyncTransport {
  /// A transport to the server at [baseUrl] (`https://sync.example.org`).
  HttpSyncTransport(
    String baseUrl, {
    http.Client? client,
    this.timeout = const Duration(seconds: 60),
    this.maxResponseBytes = 64 * 1024 * 1024,
  })  : _base = baseUrl.endsWith('/') ? baseUrl.substring(0, baseUrl.length - 1) : baseUrl,
        _client = client ?? http.Client();

  final String _base;
  final http.Client _client;

  /// The longest a request and its response may take.
  final Duration timeout;

  /// The largest response body taken.
  final int maxResponseBytes;

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

  Future<SyncResponse> _exchange(http.Request request) async {
    final response = await _client.send(request);
    final body = BytesBuilder(copy: false);
    await for (final chunk in response.stream) {
      body.add(chunk);
      if (body.length > maxResponseBytes) {
        throw TransportException('the response exceeds $maxResponseBytes bytes');
      }
    }
    return SyncResponse(response.statusCode, response.headers, body.takeBytes());
  }

  /// Closes the underlying client.
  void close() => _client.close();
}
