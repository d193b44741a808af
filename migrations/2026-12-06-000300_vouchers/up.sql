-- Issue 19: vouchers. A code, a kind (a percentage off each ticket, an amount off the
-- booking's tickets, or a set price per ticket), an optional scope (films, theaters,
-- ticket types: empty means any), a validity window, and limits on uses in all and per
-- customer.
CREATE TABLE vouchers (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    code VARCHAR(32) NOT NULL CHECK (code ~ '^[A-Z0-9][A-Z0-9_-]{2,31}$'),
    kind VARCHAR(16) NOT NULL CHECK (kind IN ('percent_off', 'amount_off', 'fixed_price')),
    value NUMERIC NOT NULL CHECK (value >= 0),
    movie_ids UUID[] NOT NULL DEFAULT '{}',
    theater_ids UUID[] NOT NULL DEFAULT '{}',
    ticket_types TEXT[] NOT NULL DEFAULT '{}',
    valid_from TIMESTAMPTZ,
    valid_until TIMESTAMPTZ,
    total_uses INTEGER CHECK (total_uses > 0),
    uses_per_customer INTEGER CHECK (uses_per_customer > 0),
    -- The uses counted now: taken by a booking in its own transaction (a row lock on
    -- the voucher, so fifty buyers of a last use are counted one after another), given
    -- back when the booking ends unpaid, cancelled or refunded.
    uses INTEGER NOT NULL DEFAULT 0 CHECK (uses >= 0 AND (total_uses IS NULL OR uses <= total_uses)),
    description TEXT,
    created_by UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (valid_from IS NULL OR valid_until IS NULL OR valid_from < valid_until)
);
CREATE UNIQUE INDEX vouchers_code ON vouchers (code);

-- Which booking used which voucher, and whether the use was given back.
CREATE TABLE voucher_uses (
    booking_id UUID PRIMARY KEY REFERENCES bookings (id) ON DELETE CASCADE,
    voucher_id UUID NOT NULL REFERENCES vouchers (id) ON DELETE RESTRICT,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    given_back_at TIMESTAMPTZ
);
CREATE INDEX voucher_uses_by_customer ON voucher_uses (voucher_id, user_id) WHERE given_back_at IS NULL;

ALTER TABLE bookings
    ADD COLUMN voucher_code VARCHAR(32),
    ADD COLUMN voucher_discount NUMERIC NOT NULL DEFAULT 0 CHECK (voucher_discount >= 0);
-- The voucher's part of each ticket's discount, so that what is left of a booking after
-- a partial refund still says what the voucher and the loyalty tier took off.
ALTER TABLE booking_seats
    ADD COLUMN voucher_discount NUMERIC NOT NULL DEFAULT 0
        CHECK (voucher_discount >= 0 AND voucher_discount <= discount);

-- A booking that ends (cancelled, expired, refunded in full) gives its use back; one
-- that comes back to life (a late payment confirming an expired booking) takes it
-- again, whatever the limits say: it was paid with the discount. A trigger, as for
-- voided tickets, so that every path that ends a booking does it without knowing.
CREATE FUNCTION screema_voucher_use() RETURNS trigger AS $$
DECLARE
    voucher UUID;
BEGIN
    IF NEW.status IN ('cancelled', 'expired') AND OLD.status NOT IN ('cancelled', 'expired') THEN
        UPDATE voucher_uses SET given_back_at = now()
        WHERE booking_id = NEW.id AND given_back_at IS NULL
        RETURNING voucher_id INTO voucher;
        IF voucher IS NOT NULL THEN
            UPDATE vouchers SET uses = uses - 1 WHERE id = voucher;
        END IF;
    ELSIF NEW.status NOT IN ('cancelled', 'expired') AND OLD.status IN ('cancelled', 'expired') THEN
        UPDATE voucher_uses SET given_back_at = NULL
        WHERE booking_id = NEW.id AND given_back_at IS NOT NULL
        RETURNING voucher_id INTO voucher;
        IF voucher IS NOT NULL THEN
            -- Past the limit if need be: the total check is relaxed for this one row.
            UPDATE vouchers SET uses = uses + 1,
                total_uses = CASE WHEN total_uses IS NOT NULL AND uses + 1 > total_uses
                                  THEN uses + 1 ELSE total_uses END
            WHERE id = voucher;
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER bookings_voucher_use AFTER UPDATE OF status ON bookings
    FOR EACH ROW EXECUTE FUNCTION screema_voucher_use();
