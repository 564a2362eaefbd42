// {{ marker }}. Do not edit.
//
// The client migrations and the named statements of client/sync.sql for the Dart client, verbatim
// but for their parameters, numbered for Drift. See client/sync.sql for the algorithm.

/// The migration steps of {{ app }}: `clientMigrations[i]` is step `i + 1`, as statements to
/// run in order, in one transaction, with `PRAGMA foreign_keys = OFF`.
const List<List<String>> clientMigrations = [
{%- for step in migrations %}
  // {{ step.title }}
  [
{%- for statement in step.statements %}
    {{ statement }},
{%- endfor %}
  ],
{%- endfor %}
];

/// A named statement of client/sync.sql, ready for Drift: its parameters, which the SQL
/// numbers `?1`, `?2`, ... in this order (Drift binds by position), and the table it writes.
final class SyncStatement {
  /// A statement.
  const SyncStatement(this.name, this.sql, this.params, this.writes);

  /// Its name in client/sync.sql.
  final String name;

  /// Its SQL, with `:name` parameters numbered in the order of [params].
  final String sql;

  /// Its parameters (without the colon), in binding order.
  final List<String> params;

  /// The table it writes, if any: streams on it (and on the tables its triggers write) are
  /// told.
  final String? writes;
}

/// The named statements of client/sync.sql.
abstract final class SyncSql {
{%- for statement in statements %}

  /// {{ statement.summary }}
  static const SyncStatement {{ statement.dart_name }} = SyncStatement(
    {{ statement.name }},
    {{ statement.literal }},
    [{{ statement.params }}],
    {{ statement.writes }},
  );
{%- endfor %}
}

/// Where a pulled-row statement's parameter takes its value in a pulled record: its `id`,
/// `version` or `updatedAt`, or a key of its `data`.
enum RecordKey { id, version, updatedAt, data }

/// How a pulled value is bound: as SQLite's `json_extract` gives it (null, 1 or 0, an integer,
/// a string's text), as the double of a `real` field's number, or as a `json` field's JSON
/// text, exactly as sent.
enum Decoding { value, real, json }

/// One parameter of a pulled-row statement, as the note of its `-- params:` entry in
/// client/sync.sql says.
final class RecordParam {
  /// A parameter.
  const RecordParam(this.key, this.dataKey, this.decoding);

  /// Where its value is.
  final RecordKey key;

  /// The key in the record's `data`, for [RecordKey.data].
  final String? dataKey;

  /// How it is bound.
  final Decoding decoding;
}

/// A statement that applies one pulled record of an entity in one write, when nothing local
/// is in the way (`apply_pulled_row_<table>` of client/sync.sql).
final class PulledRowStatement {
  /// A pulled-row statement.
  const PulledRowStatement(this.statement, this.params);

  /// The statement.
  final SyncStatement statement;

  /// Its parameters, in the order of the statement's [SyncStatement.params].
  final List<RecordParam> params;
}

/// The pulled-row statements, by the entity (table) whose records they apply.
const Map<String, PulledRowStatement> pulledRowStatements = {
{%- for row in rows %}
  {{ row.entity }}: PulledRowStatement(SyncSql.{{ row.dart_name }}, [
{%- for param in row.params %}
    {{ param }},
{%- endfor %}
  ]),
{%- endfor %}
};
