DROP INDEX refunds_lead;
ALTER TABLE refunds DROP COLUMN lead_refund_id;
DROP INDEX refunds_one_pending_per_payment;
CREATE UNIQUE INDEX refunds_one_pending_per_booking ON refunds (booking_id) WHERE status = 'pending';
DROP INDEX booking_exchanges_awaiting_until;
DROP INDEX booking_exchanges_one_awaiting;
DELETE FROM booking_exchanges WHERE status <> 'done';
ALTER TABLE booking_exchanges
    DROP COLUMN settled_at,
    DROP COLUMN expires_at,
    DROP COLUMN lock_token,
    DROP COLUMN plan,
    DROP COLUMN payment_id,
    DROP COLUMN status;
ALTER TABLE booking_exchanges ADD CONSTRAINT booking_exchanges_check CHECK (final_after <= final_before);
