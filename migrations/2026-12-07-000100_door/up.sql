-- Issue 20: scanners that work offline, and undoing a mistaken check-in.

-- Every scan a scanner uploads (`checkInTickets`), once: the key is what the scanner
-- saw (device, its clock, the code), so a retry after a lost answer finds its row
-- instead of counting the scan twice. Kept whatever the scan was (a forged code too),
-- so that a ticket scanned on a second device is reported as a duplicate whenever
-- that scan arrives, and so that who uploaded what stays known. A check-in made
-- online (`checkInTicket`) is kept here too, with no device, for the same reason.
CREATE TABLE door_scans (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    device_id VARCHAR(64) CHECK (device_id <> ''),
    -- The device's clock when it scanned (bounded against `uploaded_at`: `door::scans`).
    scanned_at TIMESTAMPTZ NOT NULL,
    -- What was read, as read; a code of ours is under 300 characters, and of anything
    -- longer the first 512 are kept.
    code VARCHAR(512) NOT NULL,
    -- The booking the code names when it is one of ours; NULL when it is not.
    booking_id UUID REFERENCES bookings (id) ON DELETE CASCADE,
    -- Whether the rules let this scan in (a paid, current ticket, inside the
    -- showtime's window): only such scans count as the ticket's use on a device.
    admits BOOLEAN NOT NULL DEFAULT false,
    uploaded_by UUID REFERENCES users (id) ON DELETE SET NULL,
    uploaded_at TIMESTAMPTZ NOT NULL,
    UNIQUE (device_id, scanned_at, code)
);
CREATE INDEX door_scans_booking ON door_scans (booking_id, scanned_at)
    WHERE booking_id IS NOT NULL;

-- Which scan a check-in is: the earliest one wins, so an earlier scan uploaded later
-- takes the check-in's place (its time, device and uploader). `device_id` is NULL
-- for a check-in made online (`checkInTicket`), and both for one made before this.
ALTER TABLE check_ins
    ADD COLUMN device_id VARCHAR(64),
    ADD COLUMN scan_id UUID REFERENCES door_scans (id) ON DELETE SET NULL;

-- `undoCheckIn`: the check-in taken back (as it was), by whom and when. Scans made
-- before the last undo of their booking no longer count.
CREATE TABLE check_in_undos (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    booking_id UUID NOT NULL REFERENCES bookings (id) ON DELETE CASCADE,
    checked_in_at TIMESTAMPTZ NOT NULL,
    checked_in_by UUID REFERENCES users (id) ON DELETE SET NULL,
    device_id VARCHAR(64),
    undone_by UUID REFERENCES users (id) ON DELETE SET NULL,
    undone_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX check_in_undos_booking ON check_in_undos (booking_id, undone_at);
