-- Challenges a user answers to prove an email address or a phone number, or to reset
-- a forgotten password. No code or token is stored: what the user receives is derived
-- at delivery time from the row's id under a server secret (`auth::challenges`), so a
-- copy of this table (or of the outbox) proves nothing.
CREATE TABLE account_challenges (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose VARCHAR(20) NOT NULL
        CHECK (purpose IN ('verify_email', 'verify_phone', 'reset_password')),
    -- The address the challenge went to: it proves that address and no other.
    target VARCHAR(255) NOT NULL,
    -- Wrong answers so far (phone codes are short enough to guess, so they are counted).
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    expires_at TIMESTAMPTZ NOT NULL,
    -- Answered, superseded or worn out by wrong answers: it never works again.
    used_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX account_challenges_open ON account_challenges (user_id, purpose)
    WHERE used_at IS NULL;
