-- The waiting list of a sold-out showtime: first come, first served. A matching run
-- (`waitlist::offers`) holds the best block that fits the first entry that fits,
-- for its customer, under `offer_token`, which is written before the hold is made so
-- that a run that dies between the two makes the same hold again, never a second.
CREATE TABLE waitlist_entries (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Arrival order, as Postgres saw the entries come (no two alike, whatever the
    -- clocks say).
    seq BIGSERIAL NOT NULL UNIQUE,
    showtime_id UUID NOT NULL REFERENCES showtimes (id) ON DELETE CASCADE,
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seat_count INT NOT NULL CHECK (seat_count BETWEEN 1 AND 100),
    seat_kind TEXT CHECK (seat_kind IN ('STANDARD', 'PREMIUM', 'ACCESSIBLE', 'COUPLE')),
    adjacent BOOLEAN NOT NULL DEFAULT true,
    max_price NUMERIC(10, 2) CHECK (max_price > 0),
    status TEXT NOT NULL DEFAULT 'waiting'
        CHECK (status IN ('waiting', 'offered', 'booked', 'left', 'lapsed', 'closed')),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    offer_token TEXT UNIQUE,
    offered_seats TEXT[] NOT NULL DEFAULT '{}',
    offered_at TIMESTAMPTZ,
    offer_expires_at TIMESTAMPTZ,
    ended_at TIMESTAMPTZ
);
-- One open entry per customer and showtime.
CREATE UNIQUE INDEX waitlist_one_open_entry ON waitlist_entries (showtime_id, user_id)
    WHERE status IN ('waiting', 'offered');
-- The queue: waiting entries of a showtime in arrival order.
CREATE INDEX waitlist_queue ON waitlist_entries (showtime_id, seq)
    WHERE status = 'waiting';
CREATE INDEX waitlist_by_user ON waitlist_entries (user_id, created_at);
