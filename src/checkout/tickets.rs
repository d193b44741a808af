//! The tickets a `createBooking` asks for: `tickets: [{seatNumber, ticketType}]`, or
//! the older `seatNumbers` alone (every seat an ADULT ticket), or both when they name
//! the same seats. And the one rule about who a ticket is for that the server can
//! check: no CHILD tickets for a film rated above the child age.

use std::collections::BTreeSet;

use crate::catalog::age_rating::AgeRating;
use crate::catalog::ticket_prices::{ADULT, CHILD, ticket_type};
use crate::error::{AppError, AppResult};
use crate::seating::holds::parse_seats;

/// `(seat, ticket type)` per seat, seats as the hold names them (`C7`), types upper
/// case; in the order given.
pub fn requested(
    seat_numbers: Option<Vec<String>>,
    tickets: Option<Vec<(String, String)>>,
) -> AppResult<Vec<(String, String)>> {
    let Some(tickets) = tickets.filter(|t| !t.is_empty()) else {
        let seats = parse_seats(&seat_numbers.unwrap_or_default())?;
        return Ok(seats
            .iter()
            .map(|s| (s.to_string(), ADULT.to_owned()))
            .collect());
    };
    let raw: Vec<String> = tickets.iter().map(|(seat, _)| seat.clone()).collect();
    let seats = parse_seats(&raw).map_err(|e| match e {
        AppError::BadInput { message, .. } => AppError::bad_input("tickets", message),
        other => other,
    })?;
    let requested: Vec<(String, String)> = seats
        .iter()
        .zip(&tickets)
        .map(|(seat, (_, kind))| Ok((seat.to_string(), ticket_type("tickets", kind)?)))
        .collect::<AppResult<_>>()?;
    if let Some(numbers) = seat_numbers.filter(|n| !n.is_empty()) {
        let listed: BTreeSet<String> = parse_seats(&numbers)?
            .iter()
            .map(ToString::to_string)
            .collect();
        let ticketed: BTreeSet<String> = requested.iter().map(|(s, _)| s.clone()).collect();
        if listed != ticketed {
            return Err(AppError::bad_input(
                "tickets",
                "seatNumbers and tickets name different seats; give tickets alone",
            ));
        }
    }
    Ok(requested)
}

/// A CHILD ticket for a film whose minimum age is above `child_max_age` is refused,
/// naming the ticket.
pub fn check_ages(
    tickets: &[(String, String)],
    rating: Option<&AgeRating>,
    child_max_age: i32,
) -> AppResult<()> {
    let Some(rating) = rating.filter(|r| r.min_age > child_max_age) else {
        return Ok(());
    };
    match tickets.iter().find(|(_, kind)| kind == CHILD) {
        Some((seat, _)) => Err(AppError::bad_input(
            "tickets",
            format!(
                "seat {seat}: this film is rated {} (no one under {}); CHILD tickets \
                 (up to {child_max_age}) are not sold for it",
                rating.label(),
                rating.min_age
            ),
        )),
        None => Ok(()),
    }
}
