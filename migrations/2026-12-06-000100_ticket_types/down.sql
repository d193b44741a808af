ALTER TABLE booking_seats DROP COLUMN discount, DROP COLUMN price, DROP COLUMN ticket_type;
ALTER TABLE movies DROP CONSTRAINT movies_age_rating_whole,
    DROP COLUMN age_rating_min_age, DROP COLUMN age_rating_code, DROP COLUMN age_rating_system;
ALTER TABLE showtimes DROP COLUMN ticket_prices;
