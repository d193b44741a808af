-- Money taken at the counter goes back at the counter, by hand: who handed it back and
-- when. A refund owed at the counter (a cancelled showtime's cash sale) is pending, with
-- neither, until the customer comes for it. A complimentary sale is given back by a
-- refund of nothing, handed back like the others, so that its tickets go back too.
ALTER TABLE refunds
    ADD COLUMN handed_back_by UUID REFERENCES users (id),
    ADD COLUMN handed_back_at TIMESTAMPTZ,
    ADD CONSTRAINT refunds_handed_back_together
        CHECK ((handed_back_by IS NULL) = (handed_back_at IS NULL)),
    DROP CONSTRAINT refunds_amount_check,
    ADD CONSTRAINT refunds_amount_check
        CHECK (amount > 0 OR (amount = 0 AND handed_back_by IS NOT NULL));
