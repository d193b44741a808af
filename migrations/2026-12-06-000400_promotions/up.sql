-- Issue 19: promotions to customers who opted in to marketing. A promotion is sent
-- in batches through the outbox, each batch in one transaction that also queues the
-- next one a little later: the rate is bounded, and a crash part-way resumes from the
-- last batch written, telling nobody twice.
ALTER TABLE users ADD COLUMN marketing_opt_in BOOLEAN NOT NULL DEFAULT false;
CREATE INDEX users_marketing_opt_in ON users (id) WHERE marketing_opt_in;

CREATE TABLE promotions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    title VARCHAR(255) NOT NULL CHECK (btrim(title) <> ''),
    message TEXT NOT NULL CHECK (btrim(message) <> ''),
    voucher_code VARCHAR(32),
    created_by UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- Customers told so far, and when the last batch was written.
    recipients INTEGER NOT NULL DEFAULT 0,
    finished_at TIMESTAMPTZ
);
