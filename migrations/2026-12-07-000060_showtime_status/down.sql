DROP TRIGGER booking_seats_showtime_on_sale ON booking_seats;
DROP FUNCTION screema_showtime_on_sale();
ALTER TABLE showtimes DROP CONSTRAINT showtimes_no_overlap;
DELETE FROM showtimes WHERE status = 'cancelled';
ALTER TABLE showtimes ADD CONSTRAINT showtimes_no_overlap
    EXCLUDE USING gist (screen_id WITH =, tstzrange(start_time, end_time) WITH &&);
ALTER TABLE showtimes DROP COLUMN cancel_reason, DROP COLUMN cancelled_at, DROP COLUMN status;
