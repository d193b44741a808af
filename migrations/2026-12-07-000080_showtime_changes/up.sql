-- Issue 20: a showtime moved (another time or screen) after customers booked it. Its
-- bookings made before then may be refunded in full whatever the cut-off.
ALTER TABLE showtimes ADD COLUMN rescheduled_at TIMESTAMPTZ;
