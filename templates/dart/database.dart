// {{ marker }}. Do not edit.
//
// The Drift database of {{ app }}. Run `dart run build_runner build` in this package to generate
// {{ file_stem }}.g.dart.

import 'package:drift/drift.dart';

import 'src/sync_sql.dart';
import 'src/tables.dart';

export 'src/connection.dart';
export 'src/sync_client.dart';
export 'src/sync_sql.dart';
export 'src/tables.dart';

part '{{ file_stem }}.g.dart';

@DriftDatabase(
  tables: [{{ table_classes }}],
  include: {'src/sync.drift'},
)
class {{ database_class }} extends _${{ database_class }} {
  {{ database_class }}(super.executor);

  /// One schema version per migration step in client/migrations.
  @override
  int get schemaVersion => clientMigrations.length;

  /// New and old databases both run offgen's own steps (the same SQL the Rust client and the
  /// tests run), so every device's schema is built one way.
  ///
  /// Foreign keys stay off (SQLite's default): a device holds a partial copy that fills in page
  /// by page, so a referenced row may arrive after the row that references it, or lie outside
  /// the user's owner scope; the server enforces the references.
  @override
  MigrationStrategy get migration => MigrationStrategy(
        onCreate: (m) => _runSteps(0),
        onUpgrade: (m, from, to) => _runSteps(from),
        beforeOpen: (details) async {
          // The sync triggers write a second table inside every write, which makes SQLite keep
          // a statement journal; in a temporary file that costs several times the write itself
          // (docs/BENCHMARKS.md), in memory a fraction of it.
          await customStatement('PRAGMA temp_store = MEMORY');
          // Without offgen's SQL functions every write of a row with a real field would fail
          // later with "no such function": say so now, and how to fix it.
          try {
            await customSelect('SELECT offgen_real_json(0.5) AS x').get();
          } catch (e) {
            throw StateError(
              'offgen_real_json is not registered on this connection ($e): open the database '
              'with open{{ database_class }}(file), or pass setup: offgenSetupConnection to '
              'NativeDatabase',
            );
          }
        },
      );

  Future<void> _runSteps(int from) async {
    // SQLite's table rebuild (used by some steps) requires foreign keys off, and the pragma has
    // no effect inside a transaction.
    await customStatement('PRAGMA foreign_keys = OFF');
    for (var step = from; step < clientMigrations.length; step++) {
      await transaction(() async {
        for (final statement in clientMigrations[step]) {
          await customStatement(statement);
        }
      });
    }
  }
}
