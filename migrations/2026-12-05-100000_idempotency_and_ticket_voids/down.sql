DROP TRIGGER IF EXISTS bookings_void_ticket ON bookings;
DROP FUNCTION IF EXISTS screema_void_ticket();
DROP TABLE IF EXISTS ticket_voids, booking_requests;
