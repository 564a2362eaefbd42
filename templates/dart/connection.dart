// {{ marker }}. Do not edit.
//
// Opening the device database of {{ app }}: every connection must be set up by
// [offgenSetupConnection], in the isolate that owns it, before the first statement.

import 'dart:io';

import 'package:drift/native.dart';
import 'package:sqlite3/common.dart';

import '../{{ file_stem }}.dart';

/// Opens the database at [file] on a background isolate that Drift manages, with every
/// connection set up by [offgenSetupConnection]. Call it in each isolate that needs the
/// database (the UI's, a workmanager task's): the sync lease keeps their syncs apart.
{{ database_class }} open{{ database_class }}(File file) {
  return {{ database_class }}(
    NativeDatabase.createInBackground(file, setup: offgenSetupConnection),
  );
}

/// What every connection to the device database needs, run by Drift when it opens one (a
/// top-level function, so `NativeDatabase.createInBackground` can run it on its isolate):
///
/// - `offgen_real_json(x)` and `offgen_real(text)`, the exact conversions between doubles and
///   JSON numbers the sync triggers use (SQLite's own are not correctly rounded). Without them
///   every write of a row with a real field fails with "no such function", loudly, rather
///   than changing a value. They are not `directOnly`: the triggers call them.
/// - WAL and a busy timeout, so the app reads while a sync writes, and two connections (the
///   UI's and a background task's) wait for each other briefly instead of failing.
/// - An in-memory statement journal: the queue triggers make SQLite keep one, and in a
///   temporary file it costs several times the write itself.
void offgenSetupConnection(CommonDatabase database) {
  database.execute('PRAGMA journal_mode = WAL');
  database.execute('PRAGMA busy_timeout = 10000');
  database.execute('PRAGMA temp_store = MEMORY');
  database.createFunction(
    functionName: 'offgen_real_json',
    argumentCount: const AllowedArgumentCount(1),
    deterministic: true,
    directOnly: false,
    function: (arguments) => offgenRealJson(arguments[0]),
  );
  database.createFunction(
    functionName: 'offgen_real',
    argumentCount: const AllowedArgumentCount(1),
    deterministic: true,
    directOnly: false,
    function: (arguments) => offgenReal(arguments[0]),
  );
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
