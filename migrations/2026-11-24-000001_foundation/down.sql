DROP TABLE IF EXISTS check_ins, outbox, notifications, stripe_events, refunds, payments,
    booking_snacks, snacks, booking_seats, bookings, seat_locks, showtimes, movies, screens,
    theaters, refresh_tokens, users;
DROP FUNCTION IF EXISTS screema_touch_updated_at();
DROP TYPE IF EXISTS notification_type, payment_status, booking_status, movie_status, user_role;
