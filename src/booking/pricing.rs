//! What a booking costs: each seat at the showtime's base price times its kind's
//! multiplier, rounded half-up to the cent per seat (as each ticket is printed), plus
//! the snacks at their current price. Pure, so the sums are tested without a database.

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::catalog::layout::SeatLayout;
use crate::money::{Currency, Money};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnackLine {
    pub snack_id: Uuid,
    pub quantity: i32,
    pub unit_price: Money,
    pub total_price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub seats: Vec<(String, Money)>,
    pub snacks: Vec<SnackLine>,
    pub total: Money,
    pub discount: Money,
    pub final_amount: Money,
}

/// `seats` must be in the layout (the hold checked that); `snacks` are
/// `(id, current price, quantity)`; `discount_percent` (the loyalty tier's) comes off
/// the seats, not the snacks, rounded to the cent once for the booking.
pub fn quote(
    layout: &SeatLayout,
    base_price: Decimal,
    currency: Currency,
    seats: &[String],
    snacks: &[(Uuid, Decimal, i32)],
    discount_percent: Decimal,
) -> Quote {
    let base = Money::new(base_price, currency);
    let seat_prices: Vec<(String, Money)> = seats
        .iter()
        .map(|number| {
            let multiplier = layout
                .seats()
                .find(|s| s.number.to_string() == *number)
                .map(|s| s.multiplier)
                .unwrap_or(Decimal::ONE);
            (number.clone(), base.times(multiplier))
        })
        .collect();
    let snack_lines: Vec<SnackLine> = snacks
        .iter()
        .map(|(id, price, quantity)| {
            let unit = Money::new(*price, currency);
            SnackLine {
                snack_id: *id,
                quantity: *quantity,
                unit_price: unit,
                total_price: unit.times(Decimal::from(*quantity)),
            }
        })
        .collect();
    let seats_total = seat_prices.iter().map(|(_, p)| p.amount()).sum::<Decimal>();
    let snacks_total = snack_lines
        .iter()
        .map(|l| l.total_price.amount())
        .sum::<Decimal>();
    let total = Money::new(seats_total + snacks_total, currency);
    let discount = Money::new(
        seats_total * discount_percent / Decimal::ONE_HUNDRED,
        currency,
    );
    // What can be charged (see `Currency::chargeable`); any rounding down is shown as
    // discount, so that final = total − discount holds.
    let final_amount = Money::new(
        currency.chargeable(total.amount() - discount.amount()),
        currency,
    );
    let discount = Money::new(total.amount() - final_amount.amount(), currency);
    Quote {
        final_amount,
        seats: seat_prices,
        snacks: snack_lines,
        total,
        discount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn seats_round_each_and_snacks_multiply() {
        let layout = SeatLayout::parse(
            &json!({"rows": [{"label": "A", "seats": [
                {"number": 1, "kind": "STANDARD"},
                {"number": 2, "kind": "PREMIUM", "priceMultiplier": "1.5"},
                {"number": 3, "kind": "COUPLE", "priceMultiplier": "2"},
                {"number": 4, "kind": "ACCESSIBLE", "priceMultiplier": "0.8"}]}]}),
            "seatLayout",
        )
        .unwrap();
        let popcorn = Uuid::new_v4();
        let q = quote(
            &layout,
            d("12.99"),
            Currency::USD,
            &["A1".into(), "A2".into(), "A3".into(), "A4".into()],
            &[(popcorn, d("6.75"), 3)],
            Decimal::ZERO,
        );
        let prices: Vec<String> = q.seats.iter().map(|(_, p)| p.to_plain_string()).collect();
        // 12.99 × 1.5 = 19.485 → 19.49 and 12.99 × 0.8 = 10.392 → 10.39, per seat.
        assert_eq!(prices, ["12.99", "19.49", "25.98", "10.39"]);
        assert_eq!(q.snacks[0].total_price.to_plain_string(), "20.25");
        assert_eq!(q.total.to_plain_string(), "89.10");
        assert_eq!(q.discount.to_plain_string(), "0.00");
        assert_eq!(q.final_amount.to_plain_string(), "89.10");

        // 10 % off the seats' 68.85 is 6.885 → 6.89; the snacks keep their price.
        let q = quote(
            &layout,
            d("12.99"),
            Currency::USD,
            &["A1".into(), "A2".into(), "A3".into(), "A4".into()],
            &[(popcorn, d("6.75"), 3)],
            d("10"),
        );
        assert_eq!(q.discount.to_plain_string(), "6.89");
        assert_eq!(q.final_amount.to_plain_string(), "82.21");

        // KWD: 3.255 × 1.5 = 4.8825 → 4.883 per seat; 8.138 can only be charged as
        // 8.130 (whole tens of fils): the 0.008 is shown as discount.
        let kwd = Currency::parse("KWD").unwrap();
        let q = quote(
            &layout,
            d("3.255"),
            kwd,
            &["A1".into(), "A2".into()],
            &[],
            Decimal::ZERO,
        );
        assert_eq!(q.total.to_plain_string(), "8.138");
        assert_eq!(q.discount.to_plain_string(), "0.008");
        assert_eq!(q.final_amount.to_plain_string(), "8.130");
    }
}
