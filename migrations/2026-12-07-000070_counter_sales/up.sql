-- Issue 20: sales at the counter. A booking says where it was sold and, at the
-- counter, by whom; its payment row says how it was paid (`payment_method`: cash,
-- card_present or complimentary) and has no intent.
ALTER TABLE bookings
    ADD COLUMN sale_channel TEXT NOT NULL DEFAULT 'online' CHECK (sale_channel IN ('online', 'counter')),
    ADD COLUMN sold_by UUID REFERENCES users (id) ON DELETE SET NULL;
