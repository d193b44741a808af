-- Issue 19: exchanges. A confirmed booking moves to other seats (of the same showtime
-- or another showing of the same film) in one transaction; each move is kept here.
CREATE TABLE booking_exchanges (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    from_showtime UUID NOT NULL REFERENCES showtimes (id) ON DELETE CASCADE,
    from_seats TEXT[] NOT NULL,
    to_showtime UUID NOT NULL REFERENCES showtimes (id) ON DELETE CASCADE,
    to_seats TEXT[] NOT NULL,
    -- What the booking cost before and after (the difference went back as a refund).
    final_before NUMERIC NOT NULL,
    final_after NUMERIC NOT NULL CHECK (final_after <= final_before),
    exchanged_by UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX booking_exchanges_booking ON booking_exchanges (booking_id, created_at);

-- A booking that moves to another showtime voids its ticket at the first one and may
-- later void it at the second: a void per booking and showtime, so the first
-- showtime's scanners never lose theirs.
ALTER TABLE ticket_voids DROP CONSTRAINT ticket_voids_pkey;
ALTER TABLE ticket_voids ADD PRIMARY KEY (booking_id, showtime_id);

CREATE OR REPLACE FUNCTION screema_void_ticket() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ('cancelled', 'expired') AND OLD.status NOT IN ('cancelled', 'expired') THEN
        -- now(): the transaction's start, which `revoked` compares with the oldest
        -- transaction still open, so a scanner that asks again from `until` misses none.
        INSERT INTO ticket_voids (booking_id, showtime_id, voided_at)
        VALUES (NEW.id, NEW.showtime_id, now())
        ON CONFLICT (booking_id, showtime_id) DO UPDATE SET voided_at = EXCLUDED.voided_at;
    ELSIF NEW.status NOT IN ('cancelled', 'expired') AND OLD.status IN ('cancelled', 'expired') THEN
        DELETE FROM ticket_voids WHERE booking_id = NEW.id AND showtime_id = NEW.showtime_id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
