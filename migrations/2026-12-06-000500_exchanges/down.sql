CREATE OR REPLACE FUNCTION screema_void_ticket() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ('cancelled', 'expired') AND OLD.status NOT IN ('cancelled', 'expired') THEN
        INSERT INTO ticket_voids (booking_id, showtime_id, voided_at)
        VALUES (NEW.id, NEW.showtime_id, now())
        ON CONFLICT (booking_id) DO UPDATE SET voided_at = EXCLUDED.voided_at;
    ELSIF NEW.status NOT IN ('cancelled', 'expired') AND OLD.status IN ('cancelled', 'expired') THEN
        DELETE FROM ticket_voids WHERE booking_id = NEW.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
DELETE FROM ticket_voids a USING ticket_voids b
    WHERE a.booking_id = b.booking_id AND a.voided_at < b.voided_at;
ALTER TABLE ticket_voids DROP CONSTRAINT ticket_voids_pkey;
ALTER TABLE ticket_voids ADD PRIMARY KEY (booking_id);
DROP TABLE booking_exchanges;
