//! Ticket types and a showtime's price list: which types it sells (`ADULT`, `CHILD`,
//! `SENIOR`, `STUDENT`, or a cinema's own such as `MEMBER`) and what each costs on a
//! given seat, either a fixed price (whatever the seat) or a percentage of the seat's
//! price (the base price times the seat's multiplier). Stored as JSON beside the
//! showtime (`showtimes.ticket_prices`) and read with it.
//!
//! A showtime created without a list sells `ADULT` at the seat's price, which is what
//! every showtime did before ticket types: clients that send only seat numbers keep
//! working.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::money::{Currency, Money};

/// The type every seat number sent without one is sold as.
pub const ADULT: &str = "ADULT";
/// The type that the film's age rating is checked against.
pub const CHILD: &str = "CHILD";
/// More would be a price list no box office could read out.
pub const MAX_TYPES: usize = 12;

/// A ticket type's code: `ADULT`, `CHILD`, `MEMBER`, `UNDER_25`. Upper-case letters,
/// digits and `_`, starting with a letter, at most 32 (the database checks the same).
pub fn ticket_type(field: &str, value: &str) -> AppResult<String> {
    let code = value.trim().to_ascii_uppercase();
    let mut chars = code.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && code.len() <= 32;
    if !well_formed {
        return Err(AppError::bad_input(
            field,
            format!(
                "a ticket type is 1 to 32 letters, digits or `_`, starting with a letter \
                 (e.g. ADULT, CHILD, MEMBER); got {value:?}"
            ),
        ));
    }
    Ok(code)
}

/// What one ticket type costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Rule {
    /// The same price on every seat.
    FixedPrice(Decimal),
    /// This percentage of the seat's price (100 is the seat's price).
    PercentOfSeatPrice(Decimal),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TicketPrice {
    pub ticket_type: String,
    #[serde(flatten)]
    pub rule: Rule,
}

/// A showtime's price list, each type once, in the order the admin gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketPrices(Vec<TicketPrice>);

impl Default for TicketPrices {
    fn default() -> Self {
        Self(vec![TicketPrice {
            ticket_type: ADULT.to_owned(),
            rule: Rule::PercentOfSeatPrice(Decimal::ONE_HUNDRED),
        }])
    }
}

impl TicketPrices {
    /// Checks a list as an admin sends it: `(type, fixed price, percent)` with exactly
    /// one of the two; each type once; prices in the currency's minor unit; percentages
    /// from 0 to 1000 with at most two decimals.
    pub fn checked(
        field: &str,
        entries: Vec<crate::catalog::manage::PriceEntry>,
        currency: Currency,
    ) -> AppResult<Self> {
        if entries.is_empty() || entries.len() > MAX_TYPES {
            return Err(AppError::bad_input(
                field,
                format!("a showtime sells 1 to {MAX_TYPES} ticket types"),
            ));
        }
        let mut list: Vec<TicketPrice> = Vec::with_capacity(entries.len());
        for (ticket_type_given, fixed, percent) in entries {
            let code = ticket_type(field, &ticket_type_given)?;
            if list.iter().any(|p| p.ticket_type == code) {
                return Err(AppError::bad_input(
                    field,
                    format!("{code} is priced twice; give each ticket type once"),
                ));
            }
            let rule = match (fixed, percent) {
                (Some(price), None) => Rule::FixedPrice(
                    crate::catalog::manage::price(field, price, currency)
                        .map_err(|_| bad_price(field, &code, currency))?,
                ),
                (None, Some(p))
                    if !p.is_sign_negative()
                        && p <= Decimal::from(1000)
                        && p.normalize().scale() <= 2 =>
                {
                    Rule::PercentOfSeatPrice(p.normalize())
                }
                (None, Some(_)) => {
                    return Err(AppError::bad_input(
                        field,
                        format!(
                            "{code}: percentOfSeatPrice is from 0 to 1000 with at most two decimals"
                        ),
                    ));
                }
                _ => {
                    return Err(AppError::bad_input(
                        field,
                        format!("{code}: give exactly one of fixedPrice and percentOfSeatPrice"),
                    ));
                }
            };
            list.push(TicketPrice {
                ticket_type: code,
                rule,
            });
        }
        Ok(Self(list))
    }

    /// The list as stored; a stored list that does not read (it is written only by
    /// `checked`) sells ADULT at the seat's price rather than nothing.
    pub fn from_stored(value: &serde_json::Value) -> Self {
        serde_json::from_value::<Vec<TicketPrice>>(value.clone())
            .ok()
            .filter(|list| !list.is_empty())
            .map_or_else(Self::default, Self)
    }

    pub fn to_stored(&self) -> serde_json::Value {
        serde_json::to_value(&self.0).unwrap_or_default()
    }

    pub fn entries(&self) -> &[TicketPrice] {
        &self.0
    }

    pub fn sells(&self, ticket_type: &str) -> bool {
        self.0.iter().any(|p| p.ticket_type == ticket_type)
    }

    /// A ticket of `ticket_type` on a seat whose price is `seat_price`, rounded to the
    /// minor unit per ticket (as each ticket is printed); `None` if the showtime does
    /// not sell that type.
    pub fn price(&self, ticket_type: &str, seat_price: Money) -> Option<Money> {
        let rule = self.0.iter().find(|p| p.ticket_type == ticket_type)?.rule;
        Some(match rule {
            Rule::FixedPrice(price) => Money::new(price, seat_price.currency()),
            Rule::PercentOfSeatPrice(percent) => seat_price.times(percent / Decimal::ONE_HUNDRED),
        })
    }
}

fn bad_price(field: &str, code: &str, currency: Currency) -> AppError {
    AppError::bad_input(
        field,
        format!(
            "{code}: fixedPrice is an amount from 0 to 99999 in {currency}'s minor unit ({} decimals)",
            currency.exponent()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    #[test]
    fn a_list_prices_each_type_on_a_seat_and_round_trips_through_storage() {
        let list = TicketPrices::checked(
            "ticketPrices",
            vec![
                ("adult".into(), None, Some(d("100"))),
                ("CHILD".into(), Some(d("7.5")), None),
                ("SENIOR".into(), None, Some(d("66.67"))),
            ],
            Currency::USD,
        )
        .unwrap_or_default();
        let seat = Money::new(d("19.49"), Currency::USD);
        let price = |t: &str| list.price(t, seat).map(|m| m.to_plain_string());
        assert_eq!(price("ADULT").as_deref(), Some("19.49"));
        assert_eq!(price("CHILD").as_deref(), Some("7.50"));
        // 19.49 × 0.6667 = 12.993983 → 12.99
        assert_eq!(price("SENIOR").as_deref(), Some("12.99"));
        assert_eq!(price("STUDENT"), None);
        assert_eq!(TicketPrices::from_stored(&list.to_stored()), list);
        assert_eq!(
            TicketPrices::from_stored(&serde_json::json!("nonsense")),
            TicketPrices::default()
        );
    }

    #[test]
    fn bad_lists_are_refused_naming_the_field() {
        let bad = [
            vec![],
            vec![("ADULT".into(), None, None)],
            vec![("ADULT".into(), Some(d("1")), Some(d("50")))],
            vec![("ADULT".into(), None, Some(d("-1")))],
            vec![("ADULT".into(), None, Some(d("33.333")))],
            vec![("ADULT".into(), Some(d("7.505")), None)],
            vec![("9LIVES".into(), None, Some(d("100")))],
            vec![
                ("ADULT".into(), None, Some(d("100"))),
                ("adult".into(), Some(d("5")), None),
            ],
        ];
        for entries in bad {
            let e = TicketPrices::checked("ticketPrices", entries.clone(), Currency::USD);
            assert!(
                matches!(&e, Err(AppError::BadInput { field, .. }) if field == "ticketPrices"),
                "{entries:?} gave {e:?}"
            );
        }
    }
}
