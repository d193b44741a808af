-- Issue 19: a dearer exchange is charged. The difference is a second payment of the
-- booking, through its own intent; the exchange waits for it (`awaiting_payment`) with
-- what it was priced at, and is carried out when the money arrives (`done`), given up
-- when nobody paid in time or another exchange replaced it (`abandoned`), or refused
-- when money arrived for one that could no longer be carried out (`refused`: the
-- payment goes back).
ALTER TABLE booking_exchanges DROP CONSTRAINT booking_exchanges_check;
ALTER TABLE booking_exchanges
    ADD COLUMN status TEXT NOT NULL DEFAULT 'done'
        CHECK (status IN ('awaiting_payment', 'done', 'abandoned', 'refused')),
    ADD COLUMN payment_id UUID REFERENCES payments (id) ON DELETE SET NULL,
    -- The priced tickets and amounts, so that the exchange carried out is the one paid.
    ADD COLUMN plan JSONB,
    ADD COLUMN lock_token TEXT,
    ADD COLUMN expires_at TIMESTAMPTZ,
    ADD COLUMN settled_at TIMESTAMPTZ;
CREATE UNIQUE INDEX booking_exchanges_one_awaiting ON booking_exchanges (booking_id)
    WHERE status = 'awaiting_payment';
CREATE INDEX booking_exchanges_awaiting_until ON booking_exchanges (expires_at)
    WHERE status = 'awaiting_payment';

-- A booking may now have several payments. A refund of more than the latest payment
-- holds is sent as one refund per payment: the first row leads and names the seats
-- and snacks, the others point at it. One refund in flight per payment (the gateway's
-- rule of one answer at a time, and our idempotency key per row); one per booking is
-- kept by the refund paths, which all lock the booking first.
DROP INDEX refunds_one_pending_per_booking;
CREATE UNIQUE INDEX refunds_one_pending_per_payment ON refunds (payment_id) WHERE status = 'pending';
ALTER TABLE refunds ADD COLUMN lead_refund_id UUID REFERENCES refunds (id) ON DELETE CASCADE;
CREATE INDEX refunds_lead ON refunds (lead_refund_id) WHERE lead_refund_id IS NOT NULL;
