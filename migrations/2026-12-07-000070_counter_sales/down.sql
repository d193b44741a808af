ALTER TABLE bookings DROP COLUMN sold_by, DROP COLUMN sale_channel;
