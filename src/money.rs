//! Exact money: a decimal amount with two places and an ISO 4217 currency.

use rust_decimal::{Decimal, RoundingStrategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency([u8; 3]);

impl Currency {
    pub const USD: Currency = Currency(*b"USD");

    /// Three ASCII letters, upper-cased.
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        let bytes = code.trim().as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_alphabetic) => Ok(Self([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
                c.to_ascii_uppercase(),
            ])),
            _ => Err(InvalidCurrency),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII letters are ever stored.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO 4217 currency code")]
pub struct InvalidCurrency;

/// An amount in a currency, always held at exactly two decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Rounds half away from zero to the cent, the way a till does.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self {
            amount: round_cents(amount),
            currency,
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The price of one unit at `multiplier` times this price, rounded to the cent.
    pub fn times(&self, multiplier: Decimal) -> Money {
        Money::new(self.amount * multiplier, self.currency)
    }

    /// `"12.50"`: exactly two decimals.
    pub fn to_plain_string(&self) -> String {
        format_cents(self.amount)
    }
}

pub fn round_cents(amount: Decimal) -> Decimal {
    let mut rounded = amount.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero);
    rounded.rescale(2);
    rounded
}

pub fn format_cents(amount: Decimal) -> String {
    format!("{:.2}", round_cents(amount))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_always_have_two_decimals() {
        assert_eq!(
            Money::new(d("12.5"), Currency::USD).to_plain_string(),
            "12.50"
        );
        assert_eq!(Money::new(d("7"), Currency::USD).to_plain_string(), "7.00");
        assert_eq!(Money::new(d("0"), Currency::USD).to_plain_string(), "0.00");
    }

    #[test]
    fn multiplying_rounds_half_away_from_zero_per_unit() {
        let base = Money::new(d("12.50"), Currency::USD);
        assert_eq!(base.times(d("1.50")).amount(), d("18.75"));
        assert_eq!(
            Money::new(d("9.99"), Currency::USD)
                .times(d("1.25"))
                .amount(),
            d("12.49")
        );
        assert_eq!(
            Money::new(d("0.10"), Currency::USD)
                .times(d("0.25"))
                .amount(),
            d("0.03")
        );
    }

    #[test]
    fn currency_codes_are_three_letters() {
        assert_eq!(Currency::parse("eur").unwrap().as_str(), "EUR");
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
        assert!(Currency::parse("").is_err());
    }
}
