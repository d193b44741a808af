ALTER TABLE showtimes DROP COLUMN rescheduled_at;
