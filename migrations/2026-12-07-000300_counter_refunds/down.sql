DELETE FROM refunds WHERE amount = 0;
ALTER TABLE refunds
    DROP CONSTRAINT refunds_amount_check,
    ADD CONSTRAINT refunds_amount_check CHECK (amount > 0),
    DROP CONSTRAINT IF EXISTS refunds_handed_back_together,
    DROP COLUMN IF EXISTS handed_back_at,
    DROP COLUMN IF EXISTS handed_back_by;
