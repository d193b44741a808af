-- Issue 19: ticket types with a price rule per showtime, age ratings, and prices kept
-- per ticket so that a part of a booking can be given back exactly.

-- The showtime's price list: `[{"ticketType": "ADULT", "percentOfSeatPrice": "100"},
-- {"ticketType": "CHILD", "fixedPrice": "7.50"}, ...]`. Kept beside the showtime (read
-- with it, cached with its room) rather than in a table of its own: it is small, never
-- queried by itself, and always needed whole. Existing showtimes sell ADULT at the
-- seat's price, as before.
ALTER TABLE showtimes
    ADD COLUMN ticket_prices JSONB NOT NULL
        DEFAULT '[{"ticketType": "ADULT", "percentOfSeatPrice": "100"}]'::jsonb
        CHECK (jsonb_typeof(ticket_prices) = 'array' AND jsonb_array_length(ticket_prices) > 0);

-- A film's age rating in its rating system: MPAA R 17, BBFC 15 15, FSK 12 12. All three
-- or none.
ALTER TABLE movies
    ADD COLUMN age_rating_system VARCHAR(16),
    ADD COLUMN age_rating_code VARCHAR(16),
    ADD COLUMN age_rating_min_age INTEGER CHECK (age_rating_min_age BETWEEN 0 AND 21),
    ADD CONSTRAINT movies_age_rating_whole CHECK (
        (age_rating_system IS NULL) = (age_rating_code IS NULL)
        AND (age_rating_system IS NULL) = (age_rating_min_age IS NULL));

-- Each ticket's type, its price (by the showtime's rule for its type) and its share of
-- the booking's discounts: price − discount over a booking's tickets, plus its snacks,
-- is exactly its final amount, so giving back some tickets gives back exactly what
-- they cost.
ALTER TABLE booking_seats
    ADD COLUMN ticket_type VARCHAR(32) NOT NULL DEFAULT 'ADULT'
        CHECK (ticket_type ~ '^[A-Z][A-Z0-9_]{0,31}$'),
    ADD COLUMN price NUMERIC NOT NULL DEFAULT 0 CHECK (price >= 0),
    ADD COLUMN discount NUMERIC NOT NULL DEFAULT 0 CHECK (discount >= 0);

-- Bookings made before: each seat at the base price times its multiplier, rounded to
-- the currency's minor unit as checkout did; the booking's discount shared out in
-- proportion to the prices, the remainder of the rounding on its last seat. Unconstrained NUMERIC, as every
-- amount since 2026-12-05: each value keeps its currency's scale.
CREATE FUNCTION screema_minor_exponent(currency TEXT) RETURNS INTEGER AS $$
    SELECT CASE
        WHEN currency IN ('BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG',
                          'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF') THEN 0
        WHEN currency IN ('BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND') THEN 3
        ELSE 2 END
$$ LANGUAGE sql IMMUTABLE;

WITH seat AS (
    SELECT bs.booking_id, bs.seat_number, b.discount_amount, screema_minor_exponent(b.currency) AS e,
           round(s.base_price * coalesce((
               SELECT (cell ->> 'priceMultiplier')::numeric
               FROM jsonb_array_elements(sc.seat_layout -> 'rows') AS r,
                    jsonb_array_elements(r -> 'seats') AS cell
               WHERE jsonb_typeof(cell) = 'object'
                 AND (r ->> 'label') || (cell ->> 'number') = bs.seat_number), 1),
                 screema_minor_exponent(b.currency)) AS price
    FROM booking_seats bs
    JOIN bookings b ON b.id = bs.booking_id
    JOIN showtimes s ON s.id = b.showtime_id
    JOIN screens sc ON sc.id = s.screen_id
), shared AS (
    SELECT booking_id, seat_number, price, discount_amount, e,
           CASE WHEN sum(price) OVER w = 0 THEN 0
                ELSE round(discount_amount * price / sum(price) OVER w, e) END AS share,
           row_number() OVER (PARTITION BY booking_id ORDER BY seat_number DESC) AS from_last
    FROM seat
    WINDOW w AS (PARTITION BY booking_id)
), settled AS (
    SELECT booking_id, seat_number, price,
           CASE WHEN from_last = 1
                THEN discount_amount - (sum(share) OVER (PARTITION BY booking_id) - share)
                ELSE share END AS discount
    FROM shared
)
UPDATE booking_seats bs
SET price = settled.price, discount = greatest(settled.discount, 0)
FROM settled
WHERE bs.booking_id = settled.booking_id AND bs.seat_number = settled.seat_number;

DROP FUNCTION screema_minor_exponent(TEXT);

ALTER TABLE booking_seats ALTER COLUMN price DROP DEFAULT;
