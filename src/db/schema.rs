// @generated automatically by Diesel CLI.

pub mod sql_types {
    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "booking_status"))]
    pub struct BookingStatus;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "movie_status"))]
    pub struct MovieStatus;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "notification_type"))]
    pub struct NotificationType;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "payment_status"))]
    pub struct PaymentStatus;

    #[derive(diesel::query_builder::QueryId, Clone, diesel::sql_types::SqlType)]
    #[diesel(postgres_type(name = "user_role"))]
    pub struct UserRole;
}

diesel::table! {
    use diesel::sql_types::*;

    account_challenges (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 20]
        purpose -> Varchar,
        #[max_length = 255]
        target -> Varchar,
        attempts -> Int4,
        expires_at -> Timestamptz,
        used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    booking_exchanges (id) {
        id -> Uuid,
        booking_id -> Uuid,
        from_showtime -> Uuid,
        from_seats -> Array<Nullable<Text>>,
        to_showtime -> Uuid,
        to_seats -> Array<Nullable<Text>>,
        final_before -> Numeric,
        final_after -> Numeric,
        exchanged_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        status -> Text,
        payment_id -> Nullable<Uuid>,
        plan -> Nullable<Jsonb>,
        lock_token -> Nullable<Text>,
        expires_at -> Nullable<Timestamptz>,
        settled_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    booking_requests (user_id, idempotency_key) {
        user_id -> Uuid,
        #[max_length = 255]
        idempotency_key -> Varchar,
        #[max_length = 64]
        request_hash -> Varchar,
        booking_id -> Uuid,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::BookingStatus;

    booking_seats (booking_id, seat_number) {
        booking_id -> Uuid,
        showtime_id -> Uuid,
        status -> BookingStatus,
        #[max_length = 8]
        seat_number -> Varchar,
        #[max_length = 32]
        ticket_type -> Varchar,
        price -> Numeric,
        discount -> Numeric,
        voucher_discount -> Numeric,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    booking_snacks (id) {
        id -> Uuid,
        booking_id -> Uuid,
        snack_id -> Uuid,
        quantity -> Int4,
        unit_price -> Numeric,
        total_price -> Numeric,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::BookingStatus;

    bookings (id) {
        id -> Uuid,
        user_id -> Uuid,
        showtime_id -> Uuid,
        seat_numbers -> Array<Nullable<Text>>,
        total_amount -> Numeric,
        discount_amount -> Numeric,
        final_amount -> Numeric,
        #[max_length = 3]
        currency -> Varchar,
        status -> BookingStatus,
        #[max_length = 20]
        booking_reference -> Varchar,
        #[max_length = 255]
        payment_intent_id -> Nullable<Varchar>,
        qr_code -> Nullable<Text>,
        expires_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        payment_flag -> Nullable<Text>,
        points_pending -> Int4,
        points_counted -> Int4,
        #[max_length = 32]
        voucher_code -> Nullable<Varchar>,
        voucher_discount -> Numeric,
        sale_channel -> Text,
        sold_by -> Nullable<Uuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    check_in_undos (id) {
        id -> Uuid,
        booking_id -> Uuid,
        checked_in_at -> Timestamptz,
        checked_in_by -> Nullable<Uuid>,
        #[max_length = 64]
        device_id -> Nullable<Varchar>,
        undone_by -> Nullable<Uuid>,
        undone_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    check_ins (id) {
        id -> Uuid,
        booking_id -> Uuid,
        operator_id -> Nullable<Uuid>,
        checked_in_at -> Timestamptz,
        #[max_length = 64]
        device_id -> Nullable<Varchar>,
        scan_id -> Nullable<Uuid>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    door_scans (id) {
        id -> Uuid,
        #[max_length = 64]
        device_id -> Nullable<Varchar>,
        scanned_at -> Timestamptz,
        #[max_length = 512]
        code -> Varchar,
        booking_id -> Nullable<Uuid>,
        admits -> Bool,
        uploaded_by -> Nullable<Uuid>,
        uploaded_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::MovieStatus;

    movies (id) {
        id -> Uuid,
        #[max_length = 255]
        title -> Varchar,
        description -> Nullable<Text>,
        duration -> Int4,
        #[max_length = 10]
        rating -> Nullable<Varchar>,
        genres -> Array<Nullable<Text>>,
        cast_members -> Array<Nullable<Text>>,
        #[max_length = 255]
        director -> Nullable<Varchar>,
        #[max_length = 500]
        poster_url -> Nullable<Varchar>,
        #[max_length = 500]
        backdrop_url -> Nullable<Varchar>,
        #[max_length = 500]
        trailer_url -> Nullable<Varchar>,
        release_date -> Nullable<Date>,
        status -> MovieStatus,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        #[max_length = 16]
        age_rating_system -> Nullable<Varchar>,
        #[max_length = 16]
        age_rating_code -> Nullable<Varchar>,
        age_rating_min_age -> Nullable<Int4>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::NotificationType;

    notifications (id) {
        id -> Uuid,
        user_id -> Uuid,
        #[max_length = 255]
        title -> Varchar,
        message -> Text,
        #[sql_name = "type"]
        type_ -> NotificationType,
        is_read -> Bool,
        metadata -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    outbox (id) {
        id -> Int8,
        #[max_length = 32]
        kind -> Varchar,
        payload -> Jsonb,
        #[max_length = 255]
        idempotency_key -> Varchar,
        attempts -> Int4,
        available_at -> Timestamptz,
        delivered_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        #[max_length = 64]
        request_id -> Nullable<Varchar>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    promotions (id) {
        id -> Uuid,
        #[max_length = 255]
        title -> Varchar,
        message -> Text,
        #[max_length = 32]
        voucher_code -> Nullable<Varchar>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        recipients -> Int4,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::PaymentStatus;

    payments (id) {
        id -> Uuid,
        booking_id -> Uuid,
        #[max_length = 255]
        stripe_payment_intent_id -> Nullable<Varchar>,
        amount -> Numeric,
        #[max_length = 3]
        currency -> Varchar,
        status -> PaymentStatus,
        #[max_length = 100]
        payment_method -> Nullable<Varchar>,
        failure_reason -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        amount_received -> Nullable<Numeric>,
        amount_refunded -> Numeric,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        token_hash -> Bytea,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    refunds (id) {
        id -> Uuid,
        booking_id -> Uuid,
        payment_id -> Uuid,
        #[max_length = 255]
        stripe_refund_id -> Nullable<Varchar>,
        amount -> Numeric,
        #[max_length = 3]
        currency -> Varchar,
        #[max_length = 32]
        status -> Varchar,
        reason -> Nullable<Text>,
        requested_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
        seat_numbers -> Array<Nullable<Text>>,
        snack_lines -> Jsonb,
        taken_off_at -> Nullable<Timestamptz>,
        lead_refund_id -> Nullable<Uuid>,
        handed_back_by -> Nullable<Uuid>,
        handed_back_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    screens (id) {
        id -> Uuid,
        theater_id -> Uuid,
        screen_number -> Int4,
        total_seats -> Int4,
        seat_layout -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    seat_blocks (id) {
        id -> Uuid,
        showtime_id -> Uuid,
        #[max_length = 8]
        seat_number -> Varchar,
        #[max_length = 200]
        reason -> Varchar,
        blocked_by -> Nullable<Uuid>,
        blocked_at -> Timestamptz,
        unblocked_by -> Nullable<Uuid>,
        unblocked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    seat_locks (id) {
        id -> Uuid,
        showtime_id -> Uuid,
        seat_numbers -> Array<Nullable<Text>>,
        user_id -> Uuid,
        #[max_length = 255]
        lock_token -> Varchar,
        expires_at -> Timestamptz,
        released_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    showtimes (id) {
        id -> Uuid,
        movie_id -> Uuid,
        screen_id -> Uuid,
        start_time -> Timestamptz,
        end_time -> Timestamptz,
        base_price -> Numeric,
        blocked_seats -> Array<Nullable<Text>>,
        created_at -> Timestamptz,
        ticket_prices -> Jsonb,
        status -> Text,
        cancelled_at -> Nullable<Timestamptz>,
        cancel_reason -> Nullable<Text>,
        rescheduled_at -> Nullable<Timestamptz>,
        live_closed_at -> Nullable<Timestamptz>,
        on_sale_at -> Nullable<Timestamptz>,
        queue -> Bool,
        queue_rate -> Nullable<Int4>,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    snacks (id) {
        id -> Uuid,
        #[max_length = 255]
        name -> Varchar,
        description -> Nullable<Text>,
        price -> Numeric,
        #[max_length = 100]
        category -> Varchar,
        #[max_length = 500]
        image_url -> Nullable<Varchar>,
        available -> Bool,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    stripe_events (id) {
        #[max_length = 255]
        id -> Varchar,
        #[max_length = 100]
        event_type -> Varchar,
        received_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    theaters (id) {
        id -> Uuid,
        #[max_length = 255]
        name -> Varchar,
        #[max_length = 255]
        location -> Varchar,
        #[max_length = 64]
        timezone -> Varchar,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;

    ticket_voids (booking_id, showtime_id) {
        booking_id -> Uuid,
        showtime_id -> Uuid,
        voided_at -> Timestamptz,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    use super::sql_types::UserRole;

    users (id) {
        id -> Uuid,
        #[max_length = 255]
        email -> Varchar,
        #[max_length = 255]
        password_hash -> Varchar,
        #[max_length = 255]
        full_name -> Varchar,
        #[max_length = 20]
        phone -> Nullable<Varchar>,
        role -> UserRole,
        #[max_length = 50]
        tier -> Varchar,
        points -> Int4,
        email_verified -> Bool,
        phone_verified -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        marketing_opt_in -> Bool,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    voucher_uses (booking_id) {
        booking_id -> Uuid,
        voucher_id -> Uuid,
        user_id -> Uuid,
        given_back_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    use diesel::sql_types::*;
    vouchers (id) {
        id -> Uuid,
        #[max_length = 32]
        code -> Varchar,
        #[max_length = 16]
        kind -> Varchar,
        value -> Numeric,
        movie_ids -> Array<Nullable<Uuid>>,
        theater_ids -> Array<Nullable<Uuid>>,
        ticket_types -> Array<Nullable<Text>>,
        valid_from -> Nullable<Timestamptz>,
        valid_until -> Nullable<Timestamptz>,
        total_uses -> Nullable<Int4>,
        uses_per_customer -> Nullable<Int4>,
        uses -> Int4,
        description -> Nullable<Text>,
        created_by -> Nullable<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    waitlist_entries (id) {
        id -> Uuid,
        seq -> Int8,
        showtime_id -> Uuid,
        user_id -> Uuid,
        seat_count -> Int4,
        seat_kind -> Nullable<Text>,
        adjacent -> Bool,
        max_price -> Nullable<Numeric>,
        status -> Text,
        created_at -> Timestamptz,
        offer_token -> Nullable<Text>,
        offered_seats -> Array<Nullable<Text>>,
        offered_at -> Nullable<Timestamptz>,
        offer_expires_at -> Nullable<Timestamptz>,
        ended_at -> Nullable<Timestamptz>,
    }
}

diesel::joinable!(account_challenges -> users (user_id));
diesel::joinable!(booking_exchanges -> bookings (booking_id));
diesel::joinable!(booking_exchanges -> payments (payment_id));
diesel::joinable!(booking_exchanges -> users (exchanged_by));
diesel::joinable!(booking_requests -> bookings (booking_id));
diesel::joinable!(booking_requests -> users (user_id));
diesel::joinable!(booking_snacks -> bookings (booking_id));
diesel::joinable!(booking_snacks -> snacks (snack_id));
diesel::joinable!(bookings -> showtimes (showtime_id));
diesel::joinable!(bookings -> users (user_id));
diesel::joinable!(check_in_undos -> bookings (booking_id));
diesel::joinable!(check_ins -> bookings (booking_id));
diesel::joinable!(check_ins -> door_scans (scan_id));
diesel::joinable!(check_ins -> users (operator_id));
diesel::joinable!(door_scans -> bookings (booking_id));
diesel::joinable!(door_scans -> users (uploaded_by));
diesel::joinable!(notifications -> users (user_id));
diesel::joinable!(payments -> bookings (booking_id));
diesel::joinable!(promotions -> users (created_by));
diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(refunds -> bookings (booking_id));
diesel::joinable!(refunds -> payments (payment_id));
diesel::joinable!(refunds -> users (requested_by));
diesel::joinable!(waitlist_entries -> showtimes (showtime_id));
diesel::joinable!(waitlist_entries -> users (user_id));
diesel::joinable!(screens -> theaters (theater_id));
diesel::joinable!(seat_blocks -> showtimes (showtime_id));
diesel::joinable!(seat_locks -> showtimes (showtime_id));
diesel::joinable!(seat_locks -> users (user_id));
diesel::joinable!(showtimes -> movies (movie_id));
diesel::joinable!(showtimes -> screens (screen_id));
diesel::joinable!(ticket_voids -> bookings (booking_id));
diesel::joinable!(ticket_voids -> showtimes (showtime_id));
diesel::joinable!(voucher_uses -> bookings (booking_id));
diesel::joinable!(voucher_uses -> users (user_id));
diesel::joinable!(voucher_uses -> vouchers (voucher_id));
diesel::joinable!(vouchers -> users (created_by));

diesel::allow_tables_to_appear_in_same_query!(
    account_challenges,
    booking_exchanges,
    booking_requests,
    booking_seats,
    booking_snacks,
    bookings,
    check_in_undos,
    check_ins,
    door_scans,
    movies,
    notifications,
    outbox,
    payments,
    promotions,
    refresh_tokens,
    refunds,
    screens,
    seat_blocks,
    seat_locks,
    showtimes,
    snacks,
    stripe_events,
    theaters,
    ticket_voids,
    users,
    voucher_uses,
    vouchers,
    waitlist_entries,
);
