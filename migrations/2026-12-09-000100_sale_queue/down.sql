DROP INDEX showtimes_queued;
ALTER TABLE showtimes
    DROP COLUMN queue_rate,
    DROP COLUMN queue,
    DROP COLUMN on_sale_at;
