// {{ marker }}. Do not edit.
//
// Drift tables of {{ app }}. Every column names its SQL name with `.named(...)` and every table
// its row class with `@DataClassName`, so Drift's own naming rules never apply; the CREATE TABLE
// Drift derives from these classes is, node for node, the one in client/migrations.

import 'package:drift/drift.dart';

/// Stores a [DateTime] as epoch milliseconds (UTC) in an INTEGER column. Drift's own DateTime
/// storage keeps whole seconds, too coarse for last-writer-wins.
class EpochMillisConverter extends TypeConverter<DateTime, int> {
  const EpochMillisConverter();

  @override
  DateTime fromSql(int fromDb) => DateTime.fromMillisecondsSinceEpoch(fromDb, isUtc: true);

  @override
  int toSql(DateTime value) => value.millisecondsSinceEpoch;
}

/// Stores a calendar date as `YYYY-MM-DD` text (a UTC midnight [DateTime] in Dart).
class DateTextConverter extends TypeConverter<DateTime, String>
    with JsonTypeConverter2<DateTime, String, String> {
  const DateTextConverter();

  @override
  DateTime fromSql(String fromDb) {
    final parts = fromDb.split('-');
    return DateTime.utc(int.parse(parts[0]), int.parse(parts[1]), int.parse(parts[2]));
  }

  @override
  String toSql(DateTime value) {
    final year = value.year.toString().padLeft(4, '0');
    final month = value.month.toString().padLeft(2, '0');
    final day = value.day.toString().padLeft(2, '0');
    return '$year-$month-$day';
  }

  @override
  DateTime fromJson(String json) => fromSql(json);

  @override
  String toJson(DateTime value) => toSql(value);
}

/// An enum whose values are stored as the text written in the spec.
abstract interface class OffgenEnum {
  /// The stored (and transmitted) text of this value.
  String get sql;
}

/// Stores an [OffgenEnum] as its text.
class OffgenEnumConverter<T extends OffgenEnum> extends TypeConverter<T, String>
    with JsonTypeConverter2<T, String, String> {
  const OffgenEnumConverter(this.values);

  /// Every value of the enum.
  final List<T> values;

  @override
  T fromSql(String fromDb) => values.firstWhere(
        (value) => value.sql == fromDb,
        orElse: () => throw ArgumentError.value(fromDb, 'fromDb', 'not a value of $T'),
      );

  @override
  String toSql(T value) => value.sql;

  @override
  T fromJson(String json) => fromSql(json);

  @override
  String toJson(T value) => value.sql;
}
{% for en in enums %}
/// {{ en.doc }}
enum {{ en.name }} implements OffgenEnum {
{%- for value in en.values %}
  {{ value.member }}({{ value.literal }}){% if loop.last %};{% else %},{% endif %}
{%- endfor %}

  const {{ en.name }}(this.sql);

  @override
  final String sql;
}
{% endfor %}
{%- for table in tables %}
/// {{ table.doc }}
@DataClassName('{{ table.data_class }}')
{%- for index in table.indexes %}
@TableIndex(name: '{{ index.name }}', columns: { {{- index.columns -}} }{% if index.unique %}, unique: true{% endif %})
{%- endfor %}
class {{ table.class }} extends Table {
  @override
  String get tableName => '{{ table.sql_name }}';
{% for column in table.columns %}
{%- if let Some(doc) = column.doc %}
  /// {{ doc }}
{%- endif %}
  {{ column.getter_type }} get {{ column.getter }} => {{ column.builder }}();
{%- endfor %}

  @override
  Set<Column> get primaryKey => {id};
}
{% endfor -%}
