-- The whole data model. Postgres is the source of truth: constraints here are the
-- last line of defence, so a bug elsewhere can never sell a seat twice or make
-- money disagree with itself.

-- Showtimes on one screen must never overlap: an exclusion constraint over
-- (screen, time range) needs btree_gist for the equality part.
CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TYPE user_role AS ENUM ('customer', 'admin', 'operator');
CREATE TYPE movie_status AS ENUM ('upcoming', 'now_showing', 'ended');
CREATE TYPE booking_status AS ENUM ('pending', 'confirmed', 'cancelled', 'expired', 'used');
CREATE TYPE payment_status AS ENUM ('pending', 'succeeded', 'failed', 'cancelled', 'refunded');
CREATE TYPE notification_type AS ENUM ('booking', 'payment', 'promotion', 'system', 'tier_upgrade');

CREATE FUNCTION screema_touch_updated_at() RETURNS trigger AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Stored already normalised (trimmed, lower-cased) so one unique index is enough.
    email VARCHAR(255) NOT NULL UNIQUE CHECK (email = lower(btrim(email)) AND email LIKE '%_@_%'),
    password_hash VARCHAR(255) NOT NULL,
    full_name VARCHAR(255) NOT NULL CHECK (btrim(full_name) <> ''),
    phone VARCHAR(20) CHECK (phone ~ '^\+[1-9][0-9]{1,14}$'),
    role user_role NOT NULL DEFAULT 'customer',
    tier VARCHAR(50) NOT NULL DEFAULT 'bronze',
    points INTEGER NOT NULL DEFAULT 0 CHECK (points >= 0),
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    phone_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE TRIGGER users_touch BEFORE UPDATE ON users
    FOR EACH ROW EXECUTE FUNCTION screema_touch_updated_at();

-- Rotating refresh tokens: only a hash is stored; a family ties the rotations of one
-- sign-in together so that reuse of a rotated token can revoke them all.
CREATE TABLE refresh_tokens (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    family_id UUID NOT NULL,
    token_hash BYTEA NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    rotated_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens (user_id);

CREATE TABLE theaters (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL CHECK (btrim(name) <> ''),
    location VARCHAR(255) NOT NULL CHECK (btrim(location) <> ''),
    -- IANA zone: "showtimes on a date" means the date as the theater's own clock reads it.
    timezone VARCHAR(64) NOT NULL DEFAULT 'UTC',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE screens (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- A theater with screens cannot vanish from under its showtimes and bookings.
    theater_id UUID NOT NULL REFERENCES theaters (id) ON DELETE RESTRICT,
    screen_number INTEGER NOT NULL CHECK (screen_number > 0),
    -- Derived from seat_layout when the screen is created; kept for cheap capacity sums.
    total_seats INTEGER NOT NULL CHECK (total_seats > 0),
    seat_layout JSONB NOT NULL CHECK (jsonb_typeof(seat_layout -> 'rows') = 'array'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (theater_id, screen_number)
);

CREATE TABLE movies (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    title VARCHAR(255) NOT NULL CHECK (btrim(title) <> ''),
    description TEXT,
    duration INTEGER NOT NULL CHECK (duration > 0),
    rating VARCHAR(10),
    genres TEXT[] NOT NULL DEFAULT '{}',
    -- "cast" is a reserved word in SQL.
    cast_members TEXT[] NOT NULL DEFAULT '{}',
    director VARCHAR(255),
    poster_url VARCHAR(500),
    backdrop_url VARCHAR(500),
    trailer_url VARCHAR(500),
    release_date DATE,
    status movie_status NOT NULL DEFAULT 'upcoming',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX movies_status_release ON movies (status, release_date DESC);
CREATE INDEX movies_genres ON movies USING gin (genres);
CREATE TRIGGER movies_touch BEFORE UPDATE ON movies
    FOR EACH ROW EXECUTE FUNCTION screema_touch_updated_at();

CREATE TABLE showtimes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    movie_id UUID NOT NULL REFERENCES movies (id) ON DELETE RESTRICT,
    screen_id UUID NOT NULL REFERENCES screens (id) ON DELETE RESTRICT,
    start_time TIMESTAMPTZ NOT NULL,
    end_time TIMESTAMPTZ NOT NULL,
    base_price NUMERIC(10, 2) NOT NULL CHECK (base_price >= 0),
    -- Seats taken out of sale by the house (broken, reserved for staff, distancing).
    blocked_seats TEXT[] NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (end_time > start_time),
    CONSTRAINT showtimes_no_overlap
        EXCLUDE USING gist (screen_id WITH =, tstzrange(start_time, end_time) WITH &&)
);
CREATE INDEX showtimes_movie_start ON showtimes (movie_id, start_time);
CREATE INDEX showtimes_start ON showtimes (start_time);

-- A record of holds for support and analytics. Redis holds the live ones; no
-- correctness depends on this table.
CREATE TABLE seat_locks (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    showtime_id UUID NOT NULL REFERENCES showtimes (id) ON DELETE CASCADE,
    seat_numbers TEXT[] NOT NULL CHECK (cardinality(seat_numbers) > 0),
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lock_token VARCHAR(255) NOT NULL UNIQUE,
    expires_at TIMESTAMPTZ NOT NULL,
    released_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX seat_locks_showtime ON seat_locks (showtime_id);
CREATE INDEX seat_locks_expires ON seat_locks (expires_at);

CREATE TABLE bookings (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    -- Bookings are financial records: a user or showtime with bookings is not deleted.
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    showtime_id UUID NOT NULL REFERENCES showtimes (id) ON DELETE RESTRICT,
    seat_numbers TEXT[] NOT NULL CHECK (cardinality(seat_numbers) > 0),
    total_amount NUMERIC(10, 2) NOT NULL CHECK (total_amount >= 0),
    discount_amount NUMERIC(10, 2) NOT NULL DEFAULT 0 CHECK (discount_amount >= 0),
    final_amount NUMERIC(10, 2) NOT NULL,
    currency VARCHAR(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    status booking_status NOT NULL DEFAULT 'pending',
    booking_reference VARCHAR(20) NOT NULL UNIQUE,
    payment_intent_id VARCHAR(255),
    qr_code TEXT,
    expires_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (final_amount >= 0 AND final_amount = total_amount - discount_amount),
    -- Target of booking_seats' composite key, which keeps each seat row's showtime
    -- and status identical to its booking's.
    UNIQUE (id, showtime_id, status)
);
CREATE INDEX bookings_user_created ON bookings (user_id, created_at DESC);
CREATE INDEX bookings_showtime ON bookings (showtime_id);
CREATE INDEX bookings_pending_expiry ON bookings (expires_at) WHERE status = 'pending';
CREATE INDEX bookings_payment_intent ON bookings (payment_intent_id);
CREATE TRIGGER bookings_touch BEFORE UPDATE ON bookings
    FOR EACH ROW EXECUTE FUNCTION screema_touch_updated_at();

-- One row per booked seat. The partial unique index is the guarantee that a seat is
-- sold once: whatever Redis forgets, Postgres refuses a second live booking.
-- The status follows the booking through ON UPDATE CASCADE, so it cannot drift.
CREATE TABLE booking_seats (
    booking_id UUID NOT NULL,
    showtime_id UUID NOT NULL,
    status booking_status NOT NULL,
    seat_number VARCHAR(8) NOT NULL CHECK (seat_number ~ '^[A-Z]{1,3}[1-9][0-9]{0,2}$'),
    PRIMARY KEY (booking_id, seat_number),
    FOREIGN KEY (booking_id, showtime_id, status)
        REFERENCES bookings (id, showtime_id, status) ON UPDATE CASCADE ON DELETE CASCADE
);
CREATE UNIQUE INDEX booking_seats_live_seat ON booking_seats (showtime_id, seat_number)
    WHERE status IN ('pending', 'confirmed', 'used');

CREATE TABLE snacks (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL CHECK (btrim(name) <> ''),
    description TEXT,
    price NUMERIC(8, 2) NOT NULL CHECK (price >= 0),
    category VARCHAR(100) NOT NULL CHECK (btrim(category) <> ''),
    image_url VARCHAR(500),
    available BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE booking_snacks (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    snack_id UUID NOT NULL REFERENCES snacks (id) ON DELETE RESTRICT,
    quantity INTEGER NOT NULL CHECK (quantity > 0),
    unit_price NUMERIC(8, 2) NOT NULL CHECK (unit_price >= 0),
    total_price NUMERIC(10, 2) NOT NULL,
    CHECK (total_price = unit_price * quantity),
    UNIQUE (booking_id, snack_id)
);

-- One row per payment attempt.
CREATE TABLE payments (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE RESTRICT,
    stripe_payment_intent_id VARCHAR(255) UNIQUE,
    amount NUMERIC(10, 2) NOT NULL CHECK (amount >= 0),
    currency VARCHAR(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    status payment_status NOT NULL DEFAULT 'pending',
    payment_method VARCHAR(100),
    failure_reason TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_booking ON payments (booking_id);
CREATE TRIGGER payments_touch BEFORE UPDATE ON payments
    FOR EACH ROW EXECUTE FUNCTION screema_touch_updated_at();

CREATE TABLE refunds (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE RESTRICT,
    payment_id UUID NOT NULL REFERENCES payments (id) ON DELETE RESTRICT,
    stripe_refund_id VARCHAR(255) UNIQUE,
    amount NUMERIC(10, 2) NOT NULL CHECK (amount > 0),
    currency VARCHAR(3) NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    status VARCHAR(32) NOT NULL,
    reason TEXT,
    requested_by UUID REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
-- A booking is refunded at most once.
CREATE UNIQUE INDEX refunds_one_per_booking ON refunds (booking_id) WHERE status <> 'failed';

-- Stripe event ids already handled: a replay is acknowledged and ignored.
CREATE TABLE stripe_events (
    id VARCHAR(255) PRIMARY KEY,
    event_type VARCHAR(100) NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE notifications (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    title VARCHAR(255) NOT NULL,
    message TEXT NOT NULL,
    type notification_type NOT NULL,
    is_read BOOLEAN NOT NULL DEFAULT FALSE,
    metadata JSONB,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX notifications_user_unread ON notifications (user_id, is_read, created_at DESC);

-- Side effects (email, SMS, Redis publishes) written in the same transaction as the
-- change that causes them and delivered after commit, with retries.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    kind VARCHAR(32) NOT NULL,
    payload JSONB NOT NULL,
    idempotency_key VARCHAR(255) NOT NULL UNIQUE,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    available_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    delivered_at TIMESTAMPTZ,
    last_error TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX outbox_pending ON outbox (available_at) WHERE delivered_at IS NULL;

-- A ticket checks in once: the unique booking id is what makes two simultaneous scans
-- of one ticket succeed exactly once.
CREATE TABLE check_ins (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id UUID NOT NULL UNIQUE REFERENCES bookings (id) ON DELETE CASCADE,
    operator_id UUID REFERENCES users (id) ON DELETE SET NULL,
    checked_in_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
