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

/// `offgen_real_json(x)`: the shortest JSON number text that reads back as [value]; integers
/// as their text; null for null. Dart's `double.toString()` is that shortest text (`1.0`,
/// `-0.0`, `5e-324`, `1e+21`), always valid JSON for a finite double.
Object? offgenRealJson(Object? value) {
  if (value == null) return null;
  // A REAL column keeps whole numbers it can as integers: their text is exact.
  if (value is int) return value.toString();
  if (value is double) {
    if (!value.isFinite) throw ArgumentError('offgen_real_json: not a finite number');
    return value.toString();
  }
  throw ArgumentError('offgen_real_json: not a number');
}

final RegExp _jsonNumber = RegExp(r'^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$');

/// `offgen_real(text)`: the correctly rounded double of a JSON number's text; null for null
/// and for JSON `null`. Dart's `double.parse` rounds correctly; the grammar check keeps out
/// what it takes beyond JSON (`Infinity`, `NaN`, ` 1`, `.5`).
Object? offgenReal(Object? value) {
  if (value == null) return null;
  if (value is double) return value;
  if (value is int) return value.toDouble();
  if (value is String) {
    if (value == 'null') return null;
    if (_jsonNumber.hasMatch(value)) {
      final parsed = double.parse(value);
      if (parsed.isFinite) return parsed;
    }
    throw ArgumentError('offgen_real: not a finite JSON number');
  }
  throw ArgumentError('offgen_real: not a JSON number');
}

/// The texts of the elements of the JSON array [text], which is known to be valid JSON.
List<String> _elementTexts(String text) {
  final out = <String>[];
  var i = _skipSpace(text, 0);
  if (i >= text.length || text.codeUnitAt(i) != 0x5B) {
    throw const FormatException('pull records: not an array');
  }
  i = _skipSpace(text, i + 1);
  if (text.codeUnitAt(i) == 0x5D) return out; // `]`: an empty array
  while (true) {
    final end = _valueEnd(text, i);
    out.add(text.substring(i, end));
    i = _skipSpace(text, end);
    if (text.codeUnitAt(i) != 0x2C) return out; // not `,`: the `]`
    i = _skipSpace(text, i + 1);
  }
}

/// The members of the JSON object [text] (known to be valid JSON), in order, each key and
/// value as its text (the key's quotes included); null when [text] is not an object.
List<(String, String)>? _rawMembers(String text) {
  var i = _skipSpace(text, 0);
  if (i >= text.length || text.codeUnitAt(i) != 0x7B) return null;
  final members = <(String, String)>[];
  i = _skipSpace(text, i + 1);
  if (text.codeUnitAt(i) == 0x7D) return members; // `}`: an empty object
  while (true) {
    final keyEnd = _stringEnd(text, i);
    final key = text.substring(i, keyEnd);
    i = _skipSpace(text, _skipSpace(text, keyEnd) + 1); // past `:`
    final valueEnd = _valueEnd(text, i);
    members.add((key, text.substring(i, valueEnd)));
    i = _skipSpace(text, valueEnd);
    if (text.codeUnitAt(i) != 0x2C) return members; // not `,`: the `}`
    i = _skipSpace(text, i + 1);
  }
}

final RegExp _jsonInteger = RegExp(r'^-?[0-9]+$');

/// The value `json_extract` gives for the JSON text [raw] (null, 1 or 0, an integer, a
/// string's text), or [_notBound] where that takes more than this reads: a fraction or an
/// exponent (SQLite's own number reading decodes those), an integer beyond 64 bits, an object
/// or array (SQLite re-renders them), a string with a `\u` escape (SQLite keeps a lone
/// surrogate as bytes a Dart string cannot hold).
Object? _pulledValue(String raw) {
  if (raw == 'null') return null;
  if (raw == 'true') return 1;
  if (raw == 'false') return 0;
  final first = raw.codeUnitAt(0);
  if (first == 0x22) {
    return raw.contains(r'\u') ? _notBound : jsonDecode(raw) as String;
  }
  if (_jsonInteger.hasMatch(raw)) return int.tryParse(raw) ?? _notBound;
  return _notBound;
}

/// A `real` field's value: the double [offgenReal] reads from the number's text.
Object? _pulledReal(String raw) {
  try {
    return offgenReal(raw);
  } on ArgumentError {
    return _notBound;
  }
}

/// What [_pulledValue] and [_pulledReal] give for a value they do not bind.
const Object _notBound = _NotBound();

final class _NotBound {
  const _NotBound();
}

/// The record envelope's members a pulled-row statement reads.
const List<String> _envelopeKeys = [
  '"entity"',
  '"id"',
  '"version"',
  '"deleted"',
  '"updatedAt"',
  '"data"',
];

/// A pulled record bound to its entity's pulled-row statement: the statement and the values
/// of its parameters, in order.
final class _PulledRow {
  _PulledRow._(this.statement, this.values);

  /// [record] (its JSON text) bound to its entity's pulled-row statement, if it fits one: a
  /// live record of an entity that has one, whose id is a string, version an integer,
  /// updatedAt an integer or absent, and whose data holds every key the statement takes,
  /// each decodable here (the reference client's `PulledRows::bind`). Null: the record goes
  /// through applyPulledRecords.
  static _PulledRow? bind(String record) {
    final members = _rawMembers(record);
    if (members == null) return null;
    final envelope = List<String?>.filled(_envelopeKeys.length, null);
    for (final (key, value) in members) {
      final at = _envelopeKeys.indexOf(key);
      if (at < 0) {
        if (key.contains(r'\')) return null; // it could spell one of them
        continue;
      }
      if (envelope[at] != null) return null;
      envelope[at] = value;
    }
    final [entity, id, version, deleted, updatedAt, data] = envelope;
    if (entity == null || id == null || version == null || data == null) return null;
    final entityName = _pulledValue(entity);
    final idText = _pulledValue(id);
    final versionNumber = _pulledValue(version);
    if (entityName is! String || idText is! String || versionNumber is! int) return null;
    // Absent and null are both false to the pull triggers; anything else but false is theirs.
    if (deleted != null && deleted != 'false' && deleted != 'null') return null;
    final updated = updatedAt == null ? null : _pulledValue(updatedAt);
    if (updated != null && updated is! int) return null;
    final row = pulledRowStatements[entityName];
    if (row == null) return null;
    final fields = _rawMembers(data);
    if (fields == null) return null;
    final byKey = <String, String>{};
    for (final (key, value) in fields) {
      if (key.contains(r'\')) return null; // it could spell a key SQLite would read first
      // A key twice: SQLite reads the first, jsonDecode the last; the general way decides.
      if (byKey.containsKey(key)) return null;
      byKey[key] = value;
    }
    final values = <Object?>[];
    for (final param in row.params) {
      final Object? value;
      switch (param.key) {
        case RecordKey.id:
          value = idText;
        case RecordKey.version:
          value = versionNumber;
        case RecordKey.updatedAt:
          value = updated;
        case RecordKey.data:
          final raw = byKey['"${param.dataKey}"'];
          if (raw == null) return null;
          value = switch (param.decoding) {
            Decoding.value => _pulledValue(raw),
            Decoding.real => _pulledReal(raw),
            Decoding.json => raw,
          };
      }
      if (identical(value, _notBound)) return null;
      values.add(value);
    }
    return _PulledRow._(row.statement, values);
  }

  /// The statement.
  final SyncStatement statement;

  /// Its parameters' values.
  final List<Object?> values;
}
