CREATE OR REPLACE FUNCTION screema_showtime_on_sale() RETURNS trigger AS $$
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
DROP TABLE IF EXISTS seat_blocks;
