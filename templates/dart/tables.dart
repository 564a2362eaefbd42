// {{ marker }}. Do not edit.
//
// Drift tables of {{ app }}. Every column names its SQL name with `.named(...)` and every table
// its row class with `@DataClassName`, so Drift's own naming rules never apply; the CREATE TABLE
// Drift derives from these classes is, node for node, the one in client/migrations.

import 'dart:convert';
import 'dart:typed_data';

import 'package:drift/drift.dart';

// Every converter below also writes its column's JSON (toJson/fromJson) as the wire does
// (docs/protocol.md), so a row's toJson() is what the server takes, whatever serializer the
// app sets.

/// Stores a [DateTime] as epoch milliseconds (UTC) in an INTEGER column, and sends it as that
/// integer. Drift's own DateTime storage keeps whole seconds, too coarse for last-writer-wins.
class EpochMillisConverter extends TypeConverter<DateTime, int>
    with JsonTypeConverter2<DateTime, int, int> {
  const EpochMillisConverter();

  @override
  DateTime fromSql(int fromDb) => DateTime.fromMillisecondsSinceEpoch(fromDb, isUtc: true);

  @override
  int toSql(DateTime value) => value.millisecondsSinceEpoch;

  @override
  DateTime fromJson(int json) => fromSql(json);

  @override
  int toJson(DateTime value) => toSql(value);
}

/// A blob column as the wire writes it: lowercase hex (Drift's own JSON would be a list of
/// byte values).
class HexBlobConverter extends TypeConverter<Uint8List, Uint8List>
    with JsonTypeConverter2<Uint8List, Uint8List, String> {
  const HexBlobConverter();

  @override
  Uint8List fromSql(Uint8List fromDb) => fromDb;

  @override
  Uint8List toSql(Uint8List value) => value;

  @override
  Uint8List fromJson(String json) {
    if (json.length.isOdd) throw FormatException('not hex', json);
    return Uint8List.fromList([
      for (var i = 0; i < json.length; i += 2) int.parse(json.substring(i, i + 2), radix: 16),
    ]);
  }

  @override
  String toJson(Uint8List value) =>
      [for (final byte in value) byte.toRadixString(16).padLeft(2, '0')].join();
}

/// A json column (its text in SQL) as the wire writes it: the JSON value itself, not a string
/// holding it.
class JsonTextConverter extends TypeConverter<String, String>
    with JsonTypeConverter2<String, String, Object?> {
  const JsonTextConverter();

  @override
  String fromSql(String fromDb) => fromDb;

  @override
  String toSql(String value) => value;

  @override
  String fromJson(Object? json) => jsonEncode(json);

  @override
  Object? toJson(String value) => jsonDecode(value);
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
{% if attachments %}
/// A file an attachment field refers to: its content's SHA-256 (lowercase hex), its size in
/// bytes and its media type. The bytes are not in the row: see `SyncDevice.attachFile`.
class OffgenAttachment {
  const OffgenAttachment({required this.sha256, required this.size, required this.mediaType});

  /// The SHA-256 of the file's bytes, 64 lowercase hex digits.
  final String sha256;

  /// The file's size in bytes.
  final int size;

  /// Its media type (`image/jpeg`).
  final String mediaType;

  /// The reference as the wire writes it.
  Map<String, Object?> toJson() => {'sha256': sha256, 'size': size, 'mediaType': mediaType};

  /// A reference read from the wire.
  static OffgenAttachment fromJson(Map<String, Object?> json) => OffgenAttachment(
        sha256: json['sha256']! as String,
        size: json['size']! as int,
        mediaType: json['mediaType']! as String,
      );

  @override
  bool operator ==(Object other) =>
      other is OffgenAttachment &&
      other.sha256 == sha256 &&
      other.size == size &&
      other.mediaType == mediaType;

  @override
  int get hashCode => Object.hash(sha256, size, mediaType);
}

/// An attachment column (the reference's JSON text in SQL) as an [OffgenAttachment], and on
/// the wire as the reference object.
class AttachmentConverter extends TypeConverter<OffgenAttachment, String>
    with JsonTypeConverter2<OffgenAttachment, String, Map<String, Object?>> {
  const AttachmentConverter();

  @override
  OffgenAttachment fromSql(String fromDb) =>
      OffgenAttachment.fromJson(jsonDecode(fromDb) as Map<String, Object?>);

  @override
  String toSql(OffgenAttachment value) => jsonEncode(value.toJson());

  @override
  OffgenAttachment fromJson(Map<String, Object?> json) => OffgenAttachment.fromJson(json);

  @override
  Map<String, Object?> toJson(OffgenAttachment value) => value.toJson();
}
{% endif %}
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
