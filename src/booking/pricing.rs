//! What a booking costs, ticket by ticket. Each seat's price is the showtime's base
//! price times the seat's multiplier; each ticket's is its type's rule applied to that
//! (`catalog::ticket_prices`), rounded to the minor unit per ticket as each ticket is
//! printed. Snacks are at their current price.
//!
//! Discounts come off the tickets, never the snacks, in a fixed order:
//! 1. a voucher's discount (worked out per ticket by `vouchers`), then
//! 2. the loyalty tier's percentage of what the tickets cost after the voucher,
//!    rounded once for the booking and shared out over the tickets in proportion to
//!    what each still costs (largest remainder, so the shares add up exactly).
//!
//! Every ticket keeps its share of the discounts, so that the tickets' prices less
//! their discounts, plus the snacks, is exactly the final amount: giving back some
//! tickets gives back exactly what they cost. Pure, so the sums are tested without a
//! database.

use rust_decimal::Decimal;
use uuid::Uuid;

use crate::catalog::layout::SeatLayout;
use crate::catalog::ticket_prices::TicketPrices;
use crate::error::{AppError, AppResult};
use crate::money::{Currency, Money};

/// A seat sold as a ticket type, at that type's price.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PricedTicket {
    pub seat: String,
    pub ticket_type: String,
    pub price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketLine {
    pub seat: String,
    pub ticket_type: String,
    pub price: Money,
    /// Its share of the voucher's and the loyalty discount (and of any rounding the
    /// currency needs): what it costs is `price − discount`.
    pub discount: Money,
    /// The voucher's part of `discount`.
    pub voucher: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnackLine {
    pub snack_id: Uuid,
    pub quantity: i32,
    pub unit_price: Money,
    pub total_price: Money,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub tickets: Vec<TicketLine>,
    pub snacks: Vec<SnackLine>,
    pub total: Money,
    pub voucher_discount: Money,
    /// The loyalty discount, with any rounding the currency needs.
    pub loyalty_discount: Money,
    pub discount: Money,
    pub final_amount: Money,
}

/// Each `(seat, ticket type)` at its price; a type the showtime does not sell is
/// `BAD_USER_INPUT` on `tickets`, naming the ticket. `tickets` must be in the layout
/// (the hold checked that).
pub fn price_tickets(
    layout: &SeatLayout,
    base_price: Decimal,
    currency: Currency,
    prices: &TicketPrices,
    tickets: &[(String, String)],
) -> AppResult<Vec<PricedTicket>> {
    let base = Money::new(base_price, currency);
    tickets
        .iter()
        .map(|(seat, ticket_type)| {
            let multiplier = layout
                .seats()
                .find(|s| s.number.to_string() == *seat)
                .map_or(Decimal::ONE, |s| s.multiplier);
            let price = prices
                .price(ticket_type, base.times(multiplier))
                .ok_or_else(|| {
                    let sold: Vec<&str> = prices
                        .entries()
                        .iter()
                        .map(|p| p.ticket_type.as_str())
                        .collect();
                    AppError::bad_input(
                        "tickets",
                        format!(
                            "seat {seat}: this showtime sells no {ticket_type} tickets (it sells {})",
                            sold.join(", ")
                        ),
                    )
                })?;
            Ok(PricedTicket {
                seat: seat.clone(),
                ticket_type: ticket_type.clone(),
                price,
            })
        })
        .collect()
}

/// `amount` shared over `weights` in proportion, in the currency's minor units, adding
/// up to exactly `amount` (the units left by rounding down go to the largest remainders,
/// earliest first on a tie). All of it to the first when the weights are all zero.
pub fn share_out(amount: Decimal, weights: &[Decimal], currency: Currency) -> Vec<Decimal> {
    let unit = Decimal::new(1, currency.exponent());
    let total: Decimal = weights.iter().sum();
    if weights.is_empty() {
        return Vec::new();
    }
    if total <= Decimal::ZERO {
        let mut shares = vec![Decimal::ZERO; weights.len()];
        shares[0] = amount;
        return shares;
    }
    let exact: Vec<Decimal> = weights.iter().map(|w| amount * *w / total).collect();
    let mut shares: Vec<Decimal> = exact.iter().map(|e| (e / unit).floor() * unit).collect();
    let mut left = ((amount - shares.iter().sum::<Decimal>()) / unit).round();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| (exact[*b] - shares[*b]).cmp(&(exact[*a] - shares[*a])));
    for i in order.into_iter().cycle() {
        if left <= Decimal::ZERO {
            break;
        }
        shares[i] += unit;
        left -= Decimal::ONE;
    }
    shares.into_iter().map(|s| currency.round(s)).collect()
}

/// The booking's quote. `voucher_off` is the voucher's discount per ticket (empty:
/// no voucher; each at most its ticket's price); `loyalty_percent` is the tier's;
/// `snacks` are `(id, current price, quantity)`.
pub fn quote(
    tickets: Vec<PricedTicket>,
    snacks: &[(Uuid, Decimal, i32)],
    currency: Currency,
    voucher_off: &[Decimal],
    loyalty_percent: Decimal,
) -> Quote {
    let money = |amount: Decimal| Money::new(amount, currency);
    let voucher: Vec<Decimal> = tickets
        .iter()
        .enumerate()
        .map(|(i, t)| {
            voucher_off
                .get(i)
                .copied()
                .unwrap_or(Decimal::ZERO)
                .clamp(Decimal::ZERO, t.price.amount())
        })
        .collect();
    let after_voucher: Vec<Decimal> = tickets
        .iter()
        .zip(&voucher)
        .map(|(t, v)| t.price.amount() - v)
        .collect();
    let loyalty =
        money(after_voucher.iter().sum::<Decimal>() * loyalty_percent / Decimal::ONE_HUNDRED);
    let loyalty_shares = share_out(loyalty.amount(), &after_voucher, currency);
    let mut discounts: Vec<Decimal> = voucher
        .iter()
        .zip(&loyalty_shares)
        .map(|(v, l)| v + l)
        .collect();

    let snack_lines: Vec<SnackLine> = snacks
        .iter()
        .map(|(id, price, quantity)| {
            let unit = money(*price);
            SnackLine {
                snack_id: *id,
                quantity: *quantity,
                unit_price: unit,
                total_price: unit.times(Decimal::from(*quantity)),
            }
        })
        .collect();
    let tickets_total: Decimal = tickets.iter().map(|t| t.price.amount()).sum();
    let snacks_total: Decimal = snack_lines.iter().map(|l| l.total_price.amount()).sum();
    let total = money(tickets_total + snacks_total);
    let voucher_total: Decimal = voucher.iter().sum();
    let before_rounding = total.amount() - voucher_total - loyalty.amount();
    // What can be charged (see `Currency::chargeable`); any rounding down is shown as
    // discount on the ticket that has most left to pay, so final = total − discount.
    let final_amount = money(currency.chargeable(before_rounding));
    let rounding = before_rounding - final_amount.amount();
    if rounding > Decimal::ZERO
        && let Some(i) = (0..tickets.len())
            .max_by_key(|i| tickets[*i].price.amount() - discounts[*i])
            .filter(|i| tickets[*i].price.amount() - discounts[*i] >= rounding)
    {
        discounts[i] += rounding;
    }
    let discount = money(total.amount() - final_amount.amount());
    Quote {
        tickets: tickets
            .into_iter()
            .zip(discounts)
            .zip(&voucher)
            .map(|((t, d), v)| TicketLine {
                seat: t.seat,
                ticket_type: t.ticket_type,
                price: t.price,
                discount: money(d),
                voucher: money(*v),
            })
            .collect(),
        snacks: snack_lines,
        total,
        voucher_discount: money(voucher_total),
        loyalty_discount: money(discount.amount() - voucher_total),
        discount,
        final_amount,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    fn layout() -> SeatLayout {
        SeatLayout::parse(
            &json!({"rows": [{"label": "A", "seats": [
                {"number": 1, "kind": "STANDARD"},
                {"number": 2, "kind": "PREMIUM", "priceMultiplier": "1.5"},
                {"number": 3, "kind": "COUPLE", "priceMultiplier": "2"},
                {"number": 4, "kind": "ACCESSIBLE", "priceMultiplier": "0.8"}]}]}),
            "seatLayout",
        )
        .unwrap_or_else(|e| panic!("{}", e.message))
    }

    fn adults(seats: &[&str]) -> Vec<(String, String)> {
        seats
            .iter()
            .map(|s| ((*s).to_owned(), "ADULT".to_owned()))
            .collect()
    }

    fn plain(m: &[TicketLine]) -> Vec<(String, String)> {
        m.iter()
            .map(|t| (t.price.to_plain_string(), t.discount.to_plain_string()))
            .collect()
    }

    #[test]
    fn seats_round_each_and_snacks_multiply() {
        let layout = layout();
        let priced = |currency, base: &str, seats: &[&str]| {
            price_tickets(
                &layout,
                d(base),
                currency,
                &TicketPrices::default(),
                &adults(seats),
            )
            .unwrap_or_default()
        };
        let popcorn = Uuid::new_v4();
        let all = ["A1", "A2", "A3", "A4"];
        let q = quote(
            priced(Currency::USD, "12.99", &all),
            &[(popcorn, d("6.75"), 3)],
            Currency::USD,
            &[],
            Decimal::ZERO,
        );
        let prices: Vec<String> = q
            .tickets
            .iter()
            .map(|t| t.price.to_plain_string())
            .collect();
        // 12.99 × 1.5 = 19.485 → 19.49 and 12.99 × 0.8 = 10.392 → 10.39, per seat.
        assert_eq!(prices, ["12.99", "19.49", "25.98", "10.39"]);
        assert_eq!(q.snacks[0].total_price.to_plain_string(), "20.25");
        assert_eq!(q.total.to_plain_string(), "89.10");
        assert_eq!(q.discount.to_plain_string(), "0.00");
        assert_eq!(q.final_amount.to_plain_string(), "89.10");

        // 10 % off the seats' 68.85 is 6.885 → 6.89, shared by price; the snacks keep
        // theirs.
        let q = quote(
            priced(Currency::USD, "12.99", &all),
            &[(popcorn, d("6.75"), 3)],
            Currency::USD,
            &[],
            d("10"),
        );
        assert_eq!(q.discount.to_plain_string(), "6.89");
        assert_eq!(q.loyalty_discount.to_plain_string(), "6.89");
        assert_eq!(q.final_amount.to_plain_string(), "82.21");
        assert_eq!(
            plain(&q.tickets),
            [
                ("12.99".into(), "1.30".into()),
                ("19.49".into(), "1.95".into()),
                ("25.98".into(), "2.60".into()),
                ("10.39".into(), "1.04".into())
            ]
        );

        // KWD: 3.255 × 1.5 = 4.8825 → 4.883 per seat; 8.138 can only be charged as
        // 8.130 (whole tens of fils): the 0.008 is shown as discount, on a ticket.
        let kwd = Currency::parse("KWD").unwrap_or(Currency::USD);
        let q = quote(
            priced(kwd, "3.255", &["A1", "A2"]),
            &[],
            kwd,
            &[],
            Decimal::ZERO,
        );
        assert_eq!(q.total.to_plain_string(), "8.138");
        assert_eq!(q.discount.to_plain_string(), "0.008");
        assert_eq!(q.final_amount.to_plain_string(), "8.130");
        let lines: Decimal = q
            .tickets
            .iter()
            .map(|t| t.price.amount() - t.discount.amount())
            .sum();
        assert_eq!(lines, q.final_amount.amount());
    }

    #[test]
    fn ticket_types_price_each_seat_and_the_voucher_comes_before_loyalty() {
        let layout = layout();
        let prices = TicketPrices::checked(
            "ticketPrices",
            vec![
                ("ADULT".into(), None, Some(d("100"))),
                ("CHILD".into(), Some(d("6")), None),
                ("SENIOR".into(), None, Some(d("70"))),
            ],
            Currency::USD,
        )
        .unwrap_or_default();
        let tickets = vec![
            ("A1".to_owned(), "ADULT".to_owned()),
            ("A2".to_owned(), "CHILD".to_owned()),
            ("A3".to_owned(), "SENIOR".to_owned()),
        ];
        let priced = price_tickets(&layout, d("10.00"), Currency::USD, &prices, &tickets)
            .unwrap_or_default();
        // 10.00; a fixed 6.00 whatever the seat; 70 % of the couple seat's 20.00.
        let q = quote(priced.clone(), &[], Currency::USD, &[d("2.50")], d("10"));
        assert_eq!(
            plain(&q.tickets),
            [
                // 2.50 off by voucher, then 10 % of 7.50 = 0.75
                ("10.00".into(), "3.25".into()),
                ("6.00".into(), "0.60".into()),
                ("14.00".into(), "1.40".into())
            ]
        );
        assert_eq!(q.voucher_discount.to_plain_string(), "2.50");
        assert_eq!(q.loyalty_discount.to_plain_string(), "2.75");
        assert_eq!(q.final_amount.to_plain_string(), "24.75");

        let refused = price_tickets(
            &layout,
            d("10.00"),
            Currency::USD,
            &prices,
            &[("A4".to_owned(), "STUDENT".to_owned())],
        );
        assert!(
            matches!(&refused, Err(AppError::BadInput { field, message })
                if field == "tickets" && message.contains("A4") && message.contains("STUDENT")),
            "{refused:?}"
        );
    }

    #[test]
    fn shares_add_up_exactly() {
        let shares = share_out(d("1.00"), &[d("1"), d("1"), d("1")], Currency::USD);
        assert_eq!(shares, [d("0.34"), d("0.33"), d("0.33")]);
        assert_eq!(
            share_out(d("0.05"), &[d("0"), d("0")], Currency::USD),
            [d("0.05"), d("0")]
        );
    }
}
