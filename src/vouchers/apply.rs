//! What a voucher takes off a booking's tickets: pure, so every kind and scope is
//! tested without a database. `checkout` asks before it prices the booking.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{Kind, Voucher};
use crate::booking::pricing::{PricedTicket, share_out};
use crate::error::{AppError, AppResult};
use crate::money::Currency;

/// Where the tickets are for.
pub struct Showing {
    pub movie: Uuid,
    pub theater: Uuid,
}

fn refused(message: impl Into<String>) -> AppError {
    AppError::bad_input("voucherCode", message)
}

/// The voucher's discount per ticket (in the tickets' order), each at most the
/// ticket's price; `BAD_USER_INPUT` on `voucherCode` when it is not valid at `now` or
/// applies to none of the tickets.
pub fn discounts(
    voucher: &Voucher,
    showing: &Showing,
    tickets: &[PricedTicket],
    currency: Currency,
    now: DateTime<Utc>,
) -> AppResult<Vec<Decimal>> {
    if voucher.valid_from.is_some_and(|from| now < from) {
        return Err(refused(format!(
            "voucher {} is not valid yet",
            voucher.code
        )));
    }
    if voucher.valid_until.is_some_and(|until| now >= until) {
        return Err(refused(format!("voucher {} has expired", voucher.code)));
    }
    let in_scope = |list: &[Option<Uuid>], id: Uuid| list.is_empty() || list.contains(&Some(id));
    if !in_scope(&voucher.movie_ids, showing.movie)
        || !in_scope(&voucher.theater_ids, showing.theater)
    {
        return Err(refused(format!(
            "voucher {} is not for this showtime",
            voucher.code
        )));
    }
    let applies: Vec<bool> = tickets
        .iter()
        .map(|t| {
            voucher.ticket_types.is_empty()
                || voucher.ticket_types.contains(&Some(t.ticket_type.clone()))
        })
        .collect();
    if !applies.contains(&true) {
        return Err(refused(format!(
            "voucher {} is for {} tickets only",
            voucher.code,
            voucher
                .ticket_types
                .iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let price = |i: usize| {
        if applies[i] {
            tickets[i].price.amount()
        } else {
            Decimal::ZERO
        }
    };
    let off: Vec<Decimal> = match voucher.kind() {
        Kind::PercentOff => (0..tickets.len())
            .map(|i| currency.round(price(i) * voucher.value / Decimal::ONE_HUNDRED))
            .collect(),
        Kind::FixedPrice => (0..tickets.len())
            .map(|i| {
                if applies[i] {
                    (price(i) - voucher.value).max(Decimal::ZERO)
                } else {
                    Decimal::ZERO
                }
            })
            .collect(),
        Kind::AmountOff => {
            let weights: Vec<Decimal> = (0..tickets.len()).map(price).collect();
            let total: Decimal = weights.iter().sum();
            share_out(voucher.value.min(total), &weights, currency)
        }
    };
    Ok(off
        .into_iter()
        .enumerate()
        .map(|(i, d)| currency.round(d.clamp(Decimal::ZERO, price(i))))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Money;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap_or_default()
    }

    fn voucher(kind: &str, value: &str, types: &[&str]) -> Voucher {
        Voucher {
            id: Uuid::nil(),
            code: "SPRING".into(),
            kind: kind.into(),
            value: d(value),
            movie_ids: vec![],
            theater_ids: vec![],
            ticket_types: types.iter().map(|t| Some((*t).to_owned())).collect(),
            valid_from: None,
            valid_until: None,
            total_uses: None,
            uses_per_customer: None,
            uses: 0,
            description: None,
            created_at: Utc::now(),
        }
    }

    fn tickets() -> Vec<PricedTicket> {
        [
            ("A1", "ADULT", "12.00"),
            ("A2", "CHILD", "7.00"),
            ("A3", "ADULT", "9.99"),
        ]
        .iter()
        .map(|(s, t, p)| PricedTicket {
            seat: (*s).into(),
            ticket_type: (*t).into(),
            price: Money::new(d(p), Currency::USD),
        })
        .collect()
    }

    fn off(v: &Voucher) -> AppResult<Vec<String>> {
        let showing = Showing {
            movie: Uuid::nil(),
            theater: Uuid::nil(),
        };
        discounts(v, &showing, &tickets(), Currency::USD, Utc::now())
            .map(|v| v.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn each_kind_takes_off_what_it_says() {
        assert_eq!(
            off(&voucher("percent_off", "25", &[])).unwrap_or_default(),
            ["3.00", "1.75", "2.50"]
        );
        assert_eq!(
            off(&voucher("fixed_price", "8.00", &["ADULT"])).unwrap_or_default(),
            ["4.00", "0.00", "1.99"]
        );
        // 5.00 over 12.00 and 9.99 by price: 2.73 and 2.27.
        assert_eq!(
            off(&voucher("amount_off", "5.00", &["ADULT"])).unwrap_or_default(),
            ["2.73", "0.00", "2.27"]
        );
        // Never more than the tickets cost.
        assert_eq!(
            off(&voucher("amount_off", "100", &["CHILD"])).unwrap_or_default(),
            ["0.00", "7.00", "0.00"]
        );
    }

    #[test]
    fn a_voucher_out_of_its_window_or_scope_is_refused() {
        let mut late = voucher("percent_off", "10", &[]);
        late.valid_until = Some(Utc::now() - chrono::Duration::minutes(1));
        let mut early = voucher("percent_off", "10", &[]);
        early.valid_from = Some(Utc::now() + chrono::Duration::minutes(1));
        let mut elsewhere = voucher("percent_off", "10", &[]);
        elsewhere.movie_ids = vec![Some(Uuid::new_v4())];
        for v in [
            late,
            early,
            elsewhere,
            voucher("percent_off", "10", &["SENIOR"]),
        ] {
            assert!(
                matches!(off(&v), Err(AppError::BadInput { field, .. }) if field == "voucherCode"),
                "{v:?}"
            );
        }
    }
}
