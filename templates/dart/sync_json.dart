// {{ marker }}. Do not edit.
//
// Reading the server's answers. The arrays the database takes (`results`, `records`) are handed
// over as the exact text the server sent: decoding and encoding them again would rewrite their
// numbers (a 20-digit integer inside a `json` field would come back as a double).

part of 'sync_client.dart';

/// A push answer: its `results` as sent, and the server's clock.
final class _PushAnswer {
  _PushAnswer._(this.results, this.serverTime);

  factory _PushAnswer.parse(Uint8List body) {
    final object = _JsonObject.parse(body, 'push response');
    return _PushAnswer._(object.raw('results'), object.integerOrNull('serverTime'));
  }

  final String results;
  final int? serverTime;
}

/// One pull page: its `records` as sent, where the next page starts, and the server's clock.
final class _PullPage {
  _PullPage._(this.records, this.cursor, this.hasMore, this.serverTime);

  factory _PullPage.parse(Uint8List body) {
    final object = _JsonObject.parse(body, 'pull page');
    return _PullPage._(
      object.raw('records'),
      object.string('cursor'),
      object.boolean('hasMore'),
      object.integerOrNull('serverTime'),
    );
  }

  final String records;
  final String cursor;
  final bool hasMore;
  final int? serverTime;
}

/// The status of one push result.
final class _ResultStatus {
  _ResultStatus(this.status);

  final String status;
}

List<_ResultStatus> _resultStatuses(String results) {
  final list = jsonDecode(results);
  if (list is! List) throw const FormatException('push results: not an array');
  return [
    for (final result in list)
      if (result is Map && result['status'] is String)
        _ResultStatus(result['status'] as String)
      else
        throw const FormatException('push results: a result without a status'),
  ];
}

int _arrayLength(String text, String what) {
  final list = jsonDecode(text);
  if (list is! List) throw FormatException('$what: not an array');
  return list.length;
}

/// [text] unchanged, once it is known to be JSON.
String _checkedJson(String text, String what) {
  try {
    jsonDecode(text);
  } on FormatException catch (e) {
    throw FormatException('$what is not JSON: ${e.message}');
  }
  return text;
}

/// A JSON object: its members decoded, and the exact text of each.
final class _JsonObject {
  _JsonObject._(this._what, this._decoded, this._texts);

  factory _JsonObject.parse(Uint8List body, String what) {
    final String text;
    final Object? decoded;
    try {
      text = utf8.decode(body);
      decoded = jsonDecode(text);
    } on FormatException catch (e) {
      throw FormatException('$what: ${e.message}');
    }
    if (decoded is! Map<String, Object?>) throw FormatException('$what: not a JSON object');
    return _JsonObject._(what, decoded, _memberTexts(text));
  }

  final String _what;
  final Map<String, Object?> _decoded;
  final Map<String, String> _texts;

  String raw(String key) =>
      _texts[key] ?? (throw FormatException('$_what: no `$key`'));

  String string(String key) {
    final value = _decoded[key];
    if (value is String) return value;
    throw FormatException('$_what: `$key` is not a string');
  }

  bool boolean(String key) {
    final value = _decoded[key];
    if (value is bool) return value;
    throw FormatException('$_what: `$key` is not true or false');
  }

  int? integerOrNull(String key) {
    final value = _decoded[key];
    if (value == null || value is int) return value as int?;
    throw FormatException('$_what: `$key` is not an integer');
  }
}

/// The exact text of each member of the JSON object [text], which is known to be valid JSON
/// (jsonDecode read it first): a later duplicate key wins, as it does for jsonDecode.
Map<String, String> _memberTexts(String text) {
  final members = <String, String>{};
  var i = _skipSpace(text, 0) + 1; // past `{`
  while (true) {
    i = _skipSpace(text, i);
    if (text.codeUnitAt(i) == 0x7D) break; // `}`: an empty object
    final keyEnd = _valueEnd(text, i);
    final key = jsonDecode(text.substring(i, keyEnd)) as String;
    i = _skipSpace(text, keyEnd) + 1; // past `:`
    i = _skipSpace(text, i);
    final valueEnd = _valueEnd(text, i);
    members[key] = text.substring(i, valueEnd);
    i = _skipSpace(text, valueEnd);
    if (text.codeUnitAt(i) == 0x7D) break; // `}`
    i += 1; // past `,`
  }
  return members;
}

int _skipSpace(String text, int i) {
  while (i < text.length) {
    final c = text.codeUnitAt(i);
    if (c != 0x20 && c != 0x09 && c != 0x0A && c != 0x0D) break;
    i += 1;
  }
  return i;
}

/// Where the JSON value starting at [start] ends.
int _valueEnd(String text, int start) {
  final first = text.codeUnitAt(start);
  if (first == 0x22) return _stringEnd(text, start);
  if (first == 0x7B || first == 0x5B) {
    var depth = 0;
    var i = start;
    while (true) {
      final c = text.codeUnitAt(i);
      if (c == 0x22) {
        i = _stringEnd(text, i);
        continue;
      }
      if (c == 0x7B || c == 0x5B) {
        depth += 1;
      } else if (c == 0x7D || c == 0x5D) {
        depth -= 1;
        if (depth == 0) return i + 1;
      }
      i += 1;
    }
  }
  // A number, true, false or null: up to the next delimiter.
  var i = start;
  while (i < text.length) {
    final c = text.codeUnitAt(i);
    if (c == 0x2C || c == 0x7D || c == 0x5D || c == 0x20 || c == 0x09 || c == 0x0A || c == 0x0D) {
      break;
    }
    i += 1;
  }
  return i;
}

/// Where the JSON string starting at [start] (its opening quote) ends.
int _stringEnd(String text, int start) {
  var i = start + 1;
  while (true) {
    final c = text.codeUnitAt(i);
    if (c == 0x5C) {
      i += 2; // an escape: the next unit is never the closing quote
    } else if (c == 0x22) {
      return i + 1;
    } else {
      i += 1;
    }
  }
}
