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
