INSERT INTO "_offgen_meta" ("key", "value") VALUES
  ('applying_remote', '0'),
  ('pull_cursor', ''),
  ('client_id', {{ uuid }}),
  ('max_attempts', '5'),
  ('retry_base_ms', '60000'),
  ('clock_offset_ms', '0'),
  ('lww_clock', '0'),
  ('sync_lease', ''),
  ('last_synced_at', '');
