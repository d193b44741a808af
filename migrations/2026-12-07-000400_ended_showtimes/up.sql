-- A showtime's live state (its seating keys in Redis, its open seat maps) is closed
-- once, soon after it ends; this says when, and the partial index finds the ones left.
ALTER TABLE showtimes ADD COLUMN live_closed_at TIMESTAMPTZ;
-- Showtimes that ended before this column existed have nothing left worth closing
-- (their keys expired a day after they ended).
UPDATE showtimes SET live_closed_at = now() WHERE end_time < now() - interval '1 day';
CREATE INDEX showtimes_live_to_close ON showtimes (end_time) WHERE live_closed_at IS NULL;
