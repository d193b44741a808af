DROP INDEX refunds_one_pending_per_booking;
CREATE UNIQUE INDEX refunds_one_per_booking ON refunds (booking_id) WHERE status <> 'failed';
DROP INDEX bookings_points_pending;
ALTER TABLE bookings DROP COLUMN points_pending, DROP COLUMN points_counted;
DROP INDEX bookings_flagged;
ALTER TABLE bookings DROP COLUMN payment_flag;
ALTER TABLE payments DROP COLUMN amount_received, DROP COLUMN amount_refunded;
-- Postgres cannot drop an enum value; 'partially_refunded' stays, unused.
ALTER TABLE refunds ALTER COLUMN amount TYPE NUMERIC(10, 2);
ALTER TABLE payments ALTER COLUMN amount TYPE NUMERIC(10, 2);
ALTER TABLE booking_snacks
    ALTER COLUMN unit_price TYPE NUMERIC(8, 2),
    ALTER COLUMN total_price TYPE NUMERIC(10, 2);
ALTER TABLE bookings
    ALTER COLUMN total_amount TYPE NUMERIC(10, 2),
    ALTER COLUMN discount_amount TYPE NUMERIC(10, 2),
    ALTER COLUMN final_amount TYPE NUMERIC(10, 2);
ALTER TABLE snacks ALTER COLUMN price TYPE NUMERIC(8, 2);
ALTER TABLE showtimes ALTER COLUMN base_price TYPE NUMERIC(10, 2);
