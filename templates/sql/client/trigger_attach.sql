CREATE TRIGGER "{{ a.trigger_prefix }}_{{ suffix }}" AFTER {{ event }} ON "_offgen_attachments"
WHEN NEW."entity" = {{ a.entity }} AND NEW."state" = 'pending'
BEGIN
  -- attach_file hands a file over here: the row's field is set to refer to it (a local write,
  -- queued like any other), and the triggers above take it from there.
  SELECT RAISE(ABORT, 'offgen: no {{ a.table_name }} row with this id to attach a file to, or it is deleted')
  WHERE NOT EXISTS (SELECT 1 FROM {{ a.table }} WHERE "{{ bk::ID.sql }}" = NEW."row_id" AND "{{ bk::DELETED_AT.sql }}" IS NULL);
{%- for f in a.fields %}
  UPDATE {{ a.table }} SET {{ f.column }} = json_object('sha256', NEW."sha256", 'size', NEW."size", 'mediaType', NEW."media_type")
  WHERE NEW."field" = {{ f.key }} AND "{{ bk::ID.sql }}" = NEW."row_id" AND {{ f.current_sha256 }} IS NOT NEW."sha256";
{%- endfor %}
END;
