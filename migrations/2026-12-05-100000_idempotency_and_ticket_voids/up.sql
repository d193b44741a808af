-- Issue 17: idempotent checkout and voided tickets.

-- One row per `createBooking` that carried an idempotency key: the primary key over
-- user and key is what settles concurrent repeats (a second insert of the same key
-- waits for the first transaction, then finds its row), and `request_hash` lets a
-- repeat with another body be refused, as Stripe refuses a key reused with other
-- parameters. The booking is written later in the same transaction, so its
-- reference is checked at commit.
CREATE TABLE booking_requests (
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    idempotency_key VARCHAR(255) NOT NULL CHECK (idempotency_key <> ''),
    request_hash VARCHAR(64) NOT NULL,
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE
        DEFERRABLE INITIALLY DEFERRED,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, idempotency_key)
);

-- When a booking's ticket became void (cancelled, refunded or expired), for
-- `GET /api/tickets/revoked`. A trigger keeps it, so that every path that ends a
-- booking (cancellation, expiry, refunds, Stripe's events) records it without
-- knowing; a booking that comes back to life (a late payment confirming an expired
-- booking) leaves the list.
CREATE TABLE ticket_voids (
    booking_id UUID PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    showtime_id UUID NOT NULL REFERENCES showtimes (id) ON DELETE CASCADE,
    voided_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX ticket_voids_showtime ON ticket_voids (showtime_id, voided_at);

CREATE FUNCTION screema_void_ticket() RETURNS trigger AS $$
BEGIN
    IF NEW.status IN ('cancelled', 'expired') AND OLD.status NOT IN ('cancelled', 'expired') THEN
        -- now(): the transaction's start, which `revoked` compares with the oldest
        -- transaction still open, so a scanner that asks again from `until` misses none.
        INSERT INTO ticket_voids (booking_id, showtime_id, voided_at)
        VALUES (NEW.id, NEW.showtime_id, now())
        ON CONFLICT (booking_id) DO UPDATE SET voided_at = EXCLUDED.voided_at;
    ELSIF NEW.status NOT IN ('cancelled', 'expired') AND OLD.status IN ('cancelled', 'expired') THEN
        DELETE FROM ticket_voids WHERE booking_id = NEW.id;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER bookings_void_ticket AFTER UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION screema_void_ticket();
