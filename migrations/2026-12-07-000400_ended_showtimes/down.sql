DROP INDEX IF EXISTS showtimes_live_to_close;
ALTER TABLE showtimes DROP COLUMN IF EXISTS live_closed_at;
