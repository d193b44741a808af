//! A showtime's seat map: its screen's layout with each seat's state and price.

use std::collections::{HashMap, HashSet};

use crate::catalog::layout::{SeatKind, SeatLayout};
use crate::money::Money;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SeatState {
    Available,
    Held,
    Booked,
    Blocked,
}

#[derive(Debug, Clone)]
pub struct SeatView {
    pub number: String,
    /// Position in the row counting aisle gaps, from 0, so a client can draw the room.
    pub column: usize,
    pub kind: SeatKind,
    pub state: SeatState,
    pub held_by_me: bool,
    pub price: Money,
}

#[derive(Debug, Clone)]
pub struct RowView {
    pub label: String,
    pub seats: Vec<SeatView>,
}

#[derive(Debug, Clone)]
pub struct SeatMap {
    pub version: i64,
    pub rows: Vec<RowView>,
}

/// What is known of the seats beyond the layout.
#[derive(Debug, Default)]
pub struct SeatStates<'a> {
    pub booked: HashSet<&'a str>,
    pub blocked: HashSet<&'a str>,
    /// Held seats, and whether the caller holds them.
    pub held: HashMap<&'a str, bool>,
}

impl SeatStates<'_> {
    fn state_of(&self, seat: &str) -> SeatState {
        // Booked wins over blocked (a seat sold before it was blocked is still sold),
        // and both over held.
        if self.booked.contains(seat) {
            SeatState::Booked
        } else if self.blocked.contains(seat) {
            SeatState::Blocked
        } else if self.held.contains_key(seat) {
            SeatState::Held
        } else {
            SeatState::Available
        }
    }

    pub fn is_available(&self, seat: &str) -> bool {
        self.state_of(seat) == SeatState::Available
    }

    fn held_by_me(&self, seat: &str) -> bool {
        self.held.get(seat).copied().unwrap_or(false)
    }
}

pub fn build(
    layout: &SeatLayout,
    base_price: Money,
    states: &SeatStates<'_>,
    version: i64,
) -> SeatMap {
    let rows = layout
        .rows()
        .iter()
        .map(|row| RowView {
            label: row.label.clone(),
            seats: row
                .cells
                .iter()
                .enumerate()
                .filter_map(|(column, cell)| cell.as_ref().map(|seat| (column, seat)))
                .map(|(column, seat)| {
                    let number = seat.number.to_string();
                    let state = states.state_of(&number);
                    SeatView {
                        held_by_me: state == SeatState::Held && states.held_by_me(&number),
                        state,
                        number,
                        column,
                        kind: seat.kind,
                        price: base_price.times(seat.multiplier),
                    }
                })
                .collect(),
        })
        .collect();
    SeatMap { version, rows }
}

/// Seats a customer could still buy.
pub fn available_count(layout: &SeatLayout, states: &SeatStates<'_>) -> usize {
    layout
        .seats()
        .filter(|seat| states.state_of(&seat.number.to_string()) == SeatState::Available)
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use rust_decimal::Decimal;
    use serde_json::json;
    use std::str::FromStr;

    #[test]
    fn prices_states_and_columns() {
        let layout = SeatLayout::parse(
            &json!({"rows": [{"label": "A", "seats": [
                {"number": 1, "kind": "STANDARD"}, null,
                {"number": 2, "kind": "PREMIUM", "priceMultiplier": "1.5"},
                {"number": 3, "kind": "COUPLE", "priceMultiplier": "2"}]}]}),
            "seatLayout",
        )
        .unwrap();
        let states = SeatStates {
            booked: ["A2"].into_iter().collect(),
            blocked: ["A3", "A2"].into_iter().collect(),
            held: HashMap::new(),
        };
        let base = Money::new(Decimal::from_str("12.99").unwrap(), Currency::USD);
        let map = build(&layout, base, &states, 7);
        let seats = &map.rows[0].seats;
        assert_eq!(map.version, 7);
        assert_eq!(
            seats.iter().map(|s| s.column).collect::<Vec<_>>(),
            [0, 2, 3]
        );
        assert_eq!(
            seats.iter().map(|s| s.state).collect::<Vec<_>>(),
            [SeatState::Available, SeatState::Booked, SeatState::Blocked]
        );
        assert_eq!(
            seats
                .iter()
                .map(|s| s.price.to_plain_string())
                .collect::<Vec<_>>(),
            ["12.99", "19.49", "25.98"]
        );
        assert_eq!(available_count(&layout, &states), 1);
    }
}
