-- The device's clock, read by every trigger and statement that needs the time: `local_ms` is
-- this device's own clock (epoch ms), `server_ms` the same corrected by the offset the client
-- learns from each server response, so that edit times of different devices compare fairly.
-- `fixed_clock_ms` in _offgen_meta, when present, replaces the system clock (simulations and
-- tests run on a clock of their own).
CREATE VIEW "_offgen_now" AS SELECT
  coalesce((SELECT CAST("value" AS INTEGER) FROM "_offgen_meta" WHERE "key" = 'fixed_clock_ms'), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) AS "local_ms",
  coalesce((SELECT CAST("value" AS INTEGER) FROM "_offgen_meta" WHERE "key" = 'fixed_clock_ms'), CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
    + coalesce((SELECT CAST("value" AS INTEGER) FROM "_offgen_meta" WHERE "key" = 'clock_offset_ms'), 0) AS "server_ms";
