-- When a showtime goes on sale, and whether buyers queue for it then (issue 21).
-- Before `on_sale_at` customers cannot hold its seats; with `queue`, they are let in
-- from a queue, `queue_rate` a minute (the server's default when null).
ALTER TABLE showtimes
    ADD COLUMN on_sale_at TIMESTAMPTZ,
    ADD COLUMN queue BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN queue_rate INTEGER,
    ADD CONSTRAINT showtimes_queue_has_on_sale_at CHECK (NOT queue OR on_sale_at IS NOT NULL),
    ADD CONSTRAINT showtimes_queue_rate_positive CHECK (queue_rate IS NULL OR queue_rate > 0);
-- The admission worker's showtimes: queued and not yet started.
CREATE INDEX showtimes_queued ON showtimes (start_time) WHERE queue;
