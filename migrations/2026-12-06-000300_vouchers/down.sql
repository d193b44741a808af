DROP TRIGGER bookings_voucher_use ON bookings;
DROP FUNCTION screema_voucher_use();
ALTER TABLE booking_seats DROP COLUMN voucher_discount;
ALTER TABLE bookings DROP COLUMN voucher_discount, DROP COLUMN voucher_code;
DROP TABLE voucher_uses;
DROP TABLE vouchers;
