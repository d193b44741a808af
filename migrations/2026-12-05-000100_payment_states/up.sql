-- Stripe as it really behaves: refunds may be partial and arrive in any order, a
-- payment may not match its booking, and currencies have their own minor units.

-- Amounts carry their currency's own minor unit (0 places for JPY, 3 for KWD): an
-- unconstrained NUMERIC keeps the scale each value was written with (always the
-- currency's, through `Money`), where NUMERIC(10, 2) would round KWD's third place.
ALTER TABLE showtimes ALTER COLUMN base_price TYPE NUMERIC;
ALTER TABLE snacks ALTER COLUMN price TYPE NUMERIC;
ALTER TABLE bookings
    ALTER COLUMN total_amount TYPE NUMERIC,
    ALTER COLUMN discount_amount TYPE NUMERIC,
    ALTER COLUMN final_amount TYPE NUMERIC;
ALTER TABLE booking_snacks
    ALTER COLUMN unit_price TYPE NUMERIC,
    ALTER COLUMN total_price TYPE NUMERIC;
ALTER TABLE payments ALTER COLUMN amount TYPE NUMERIC;
ALTER TABLE refunds ALTER COLUMN amount TYPE NUMERIC;

-- A payment some of whose money went back (a goodwill refund in Stripe's dashboard).
ALTER TYPE payment_status ADD VALUE IF NOT EXISTS 'partially_refunded' AFTER 'refunded';

-- What Stripe says arrived (it may differ from what was asked, in amount or currency),
-- and how much of it has gone back, so that the rest stays refundable.
ALTER TABLE payments
    ADD COLUMN amount_received NUMERIC CHECK (amount_received >= 0),
    ADD COLUMN amount_refunded NUMERIC NOT NULL DEFAULT 0 CHECK (amount_refunded >= 0);

-- Why operators should look at a booking (e.g. a payment that did not match it).
ALTER TABLE bookings ADD COLUMN payment_flag TEXT;
CREATE INDEX bookings_flagged ON bookings (created_at) WHERE payment_flag IS NOT NULL;

-- Loyalty points earned by a booking: pending until the showtime starts or the ticket
-- is used (a refundable booking buys no tier), then counted into users.points.
ALTER TABLE bookings
    ADD COLUMN points_pending INTEGER NOT NULL DEFAULT 0 CHECK (points_pending >= 0),
    ADD COLUMN points_counted INTEGER NOT NULL DEFAULT 0 CHECK (points_counted >= 0);
CREATE INDEX bookings_points_pending ON bookings (showtime_id) WHERE points_pending > 0;

-- A booking may be refunded in several parts now; what stays unique is the refund in
-- flight: one pending refund per booking, so two requests at once give money back once.
DROP INDEX refunds_one_per_booking;
CREATE UNIQUE INDEX refunds_one_pending_per_booking ON refunds (booking_id) WHERE status = 'pending';
