// {{ marker }}. Do not edit.
//
// The client migrations and the named statements of client/sync.sql, verbatim, for the Dart
// client. See client/sync.sql for the algorithm and each statement's parameters.

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

/// The named statements of client/sync.sql.
abstract final class SyncSql {
{%- for statement in statements %}

  /// {{ statement.summary }}
  static const String {{ statement.dart_name }} = {{ statement.literal }};
{%- endfor %}
}
