INSERT INTO "_offgen_meta" ("key", "value") VALUES
  ('applying_remote', '0'),
  ('pull_cursor', ''),
  ('client_id', {{ uuid }}),
  ('max_attempts', '5');
