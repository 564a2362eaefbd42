// {{ marker }}. Do not edit.
//
// Opening the device database of {{ app }}: every connection must be set up by
// [offgenSetupConnection], in the isolate that owns it, before the first statement.

import 'dart:io';

import 'package:drift/native.dart';
import 'package:sqlite3/common.dart';

import '../{{ file_stem }}.dart';
import 'sync_client.dart' show offgenReal, offgenRealJson;

// The exact reals are the sync client's, which reads pulled reals with the same function.
export 'sync_client.dart' show offgenReal, offgenRealJson;

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
