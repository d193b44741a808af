-- Issue 19: refunds of part of a booking. A refund names what it gives back (seats,
-- and snack lines as `[{"snackId": ..., "quantity": n}]`); once it succeeds, those are
-- taken off the booking (`taken_off_at`), once, by whichever of the API's answer and
-- Stripe's event settles it first. A refund that names nothing gives back the whole
-- booking, as every refund did before.
ALTER TABLE refunds
    ADD COLUMN seat_numbers TEXT[] NOT NULL DEFAULT '{}',
    ADD COLUMN snack_lines JSONB NOT NULL DEFAULT '[]'::jsonb
        CHECK (jsonb_typeof(snack_lines) = 'array'),
    ADD COLUMN taken_off_at TIMESTAMPTZ;
