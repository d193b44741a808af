-- Issue 20: operators block seats (a broken seat, a camera position, a wheelchair
-- space kept free) and unblock them. `showtimes.blocked_seats` stays the list every
-- reader uses; this table keeps why, who and when, and who unblocked it when.
CREATE TABLE seat_blocks (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    showtime_id UUID NOT NULL REFERENCES showtimes (id) ON DELETE CASCADE,
    seat_number VARCHAR(8) NOT NULL,
    reason VARCHAR(200) NOT NULL CHECK (reason <> ''),
    blocked_by UUID REFERENCES users (id) ON DELETE SET NULL,
    blocked_at TIMESTAMPTZ NOT NULL,
    unblocked_by UUID REFERENCES users (id) ON DELETE SET NULL,
    unblocked_at TIMESTAMPTZ
);
-- A seat has at most one block in force; the ones that ended are history.
CREATE UNIQUE INDEX seat_blocks_current ON seat_blocks (showtime_id, seat_number)
    WHERE unblocked_at IS NULL;

-- A blocked seat is never sold, whatever Redis said when it was held: the sale's own
-- transaction reads the showtime's row under the share lock it already takes, and a
-- block (which locks the row for update) either committed first and is seen here, or
-- waits for the sale and then finds the seat sold (and refuses to block it).
CREATE OR REPLACE FUNCTION screema_showtime_on_sale() RETURNS trigger AS $$
DECLARE
    blocked TEXT[];
BEGIN
    IF NEW.status IN ('pending', 'confirmed', 'used')
       AND (TG_OP = 'INSERT' OR OLD.status NOT IN ('pending', 'confirmed', 'used')) THEN
        SELECT blocked_seats INTO blocked FROM showtimes
            WHERE id = NEW.showtime_id AND status = 'scheduled' FOR SHARE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'showtime % is not on sale', NEW.showtime_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'showtime_on_sale';
        END IF;
        IF NEW.seat_number = ANY (blocked) THEN
            RAISE EXCEPTION 'seat % of showtime % is blocked', NEW.seat_number, NEW.showtime_id
                USING ERRCODE = 'check_violation', CONSTRAINT = 'seat_blocked',
                      DETAIL = NEW.seat_number;
        END IF;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
