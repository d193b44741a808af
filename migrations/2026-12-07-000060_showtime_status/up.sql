-- Issue 20: a showtime can be cancelled (a broken projector). It keeps its row, its
-- bookings (refunded) and its history; it leaves the listings and frees its screen's
-- time for another showing.
ALTER TABLE showtimes
    ADD COLUMN status TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    ADD COLUMN cancelled_at TIMESTAMPTZ,
    ADD COLUMN cancel_reason TEXT;
ALTER TABLE showtimes DROP CONSTRAINT showtimes_no_overlap;
ALTER TABLE showtimes ADD CONSTRAINT showtimes_no_overlap
    EXCLUDE USING gist (screen_id WITH =, tstzrange(start_time, end_time) WITH &&)
    WHERE (status = 'scheduled');

-- A seat is sold (or sold again: an expired booking paid late) only for a showtime on
-- sale, decided in the sale's own transaction: the showtime's row is share-locked, so
-- a cancellation (which locks it for update) either commits first and is seen here,
-- or waits for the sale and then finds the booking and refunds it.
CREATE FUNCTION screema_showtime_on_sale() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ('pending', 'confirmed', 'used')
       AND (TG_OP = 'INSERT' OR OLD.status NOT IN ('pending', 'confirmed', 'used')) THEN
        PERFORM 1 FROM showtimes WHERE id = NEW.showtime_id AND status = 'scheduled' FOR SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'showtime % is not on sale', NEW.showtime_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'showtime_on_sale';
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER booking_seats_showtime_on_sale BEFORE INSERT OR UPDATE OF status ON booking_seats
    FOR EACH ROW EXECUTE FUNCTION screema_showtime_on_sale();
