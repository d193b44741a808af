//! Exact money: a decimal amount held at exactly its currency's ISO 4217 minor unit
//! (two places for USD and EUR, none for JPY and KRW, three for KWD and BHD), and the
//! conversion to and from the integer minor units that Stripe counts in.
//!
//! The exponents come from `iso_currency` (ISO 4217's own table) rather than a list of
//! our own, so a currency we have not thought of still gets its right exponent.

use rust_decimal::{Decimal, RoundingStrategy};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

impl Currency {
    pub const USD: Currency = Currency {
        code: *b"USD",
        exponent: 2,
    };

    /// An ISO 4217 code (any case) of a currency that has a minor unit: `usd`, `JPY`.
    /// Codes without one (gold `XAU`, `XXX`) and unknown codes are refused.
    pub fn parse(code: &str) -> Result<Self, InvalidCurrency> {
        let upper = code.trim().to_ascii_uppercase();
        let iso = iso_currency::Currency::from_code(&upper).ok_or(InvalidCurrency)?;
        let exponent = iso.exponent().ok_or(InvalidCurrency)?;
        let bytes = upper.as_bytes();
        match (bytes, u8::try_from(exponent)) {
            ([a, b, c], Ok(exponent)) => Ok(Self {
                code: [*a, *b, *c],
                exponent,
            }),
            _ => Err(InvalidCurrency),
        }
    }

    pub fn as_str(&self) -> &str {
        // Only the ASCII letters of an ISO code are ever stored.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Decimal places of the minor unit: 2 for USD, 0 for JPY, 3 for KWD.
    pub fn exponent(&self) -> u32 {
        u32::from(self.exponent)
    }

    /// `amount` rounded half away from zero to the minor unit, the way a till does,
    /// and held at exactly that many places (so it prints as `12.50`, `1250`, `12.500`).
    pub fn round(&self, amount: Decimal) -> Decimal {
        let mut rounded =
            amount.round_dp_with_strategy(self.exponent(), RoundingStrategy::MidpointAwayFromZero);
        rounded.rescale(self.exponent());
        rounded
    }

    /// What a customer can be charged of `amount`: the amount itself, except in the
    /// three-decimal currencies (KWD, BHD, JOD, OMR, TND), where card networks take
    /// only whole tens of the minor unit (Stripe: "the least-significant digit must
    /// be 0"), so it is rounded down to the nearest ten, in the customer's favour.
    pub fn chargeable(&self, amount: Decimal) -> Decimal {
        if self.exponent() < 3 {
            return self.round(amount);
        }
        let step = Decimal::new(1, self.exponent() - 1);
        self.round((amount / step).floor() * step)
    }

    /// Whether `amount` needs no rounding in this currency.
    pub fn fits(&self, amount: Decimal) -> bool {
        amount.normalize().scale() <= self.exponent()
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not an ISO 4217 currency code with a minor unit")]
pub struct InvalidCurrency;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("amount {0} is out of range")]
pub struct OutOfRange(pub Decimal);

/// An amount in a currency, always held at exactly the currency's minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Rounds half away from zero to the currency's minor unit.
    pub fn new(amount: Decimal, currency: Currency) -> Self {
        Self {
            amount: currency.round(amount),
            currency,
        }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(Decimal::ZERO, currency)
    }

    /// From an integer count of minor units, as Stripe sends amounts: `1250` is 12.50
    /// USD, 1250 JPY or 1.250 KWD.
    pub fn from_minor(minor: i64, currency: Currency) -> Self {
        Self::new(Decimal::new(minor, currency.exponent()), currency)
    }

    /// The amount in minor units, as Stripe takes it.
    pub fn minor_units(&self) -> Result<i64, OutOfRange> {
        let scaled = self
            .amount
            .checked_mul(Decimal::from(10_i64.pow(self.currency.exponent())))
            .ok_or(OutOfRange(self.amount))?;
        i64::try_from(scaled.trunc()).map_err(|_| OutOfRange(self.amount))
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The price of one unit at `multiplier` times this price, rounded to the minor unit.
    pub fn times(&self, multiplier: Decimal) -> Money {
        Money::new(self.amount * multiplier, self.currency)
    }

    /// `"12.50"`, `"1250"`, `"12.500"`: exactly the currency's decimals.
    pub fn to_plain_string(&self) -> String {
        self.amount.to_string()
    }
}

impl std::fmt::Display for Money {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    fn c(code: &str) -> Currency {
        Currency::parse(code).unwrap()
    }

    #[test]
    fn amounts_have_exactly_the_currencys_decimals() {
        assert_eq!(
            Money::new(d("12.5"), Currency::USD).to_plain_string(),
            "12.50"
        );
        assert_eq!(Money::new(d("7"), Currency::USD).to_plain_string(), "7.00");
        assert_eq!(Money::new(d("0"), Currency::USD).to_plain_string(), "0.00");
        assert_eq!(Money::new(d("1250"), c("JPY")).to_plain_string(), "1250");
        assert_eq!(Money::new(d("1250.5"), c("JPY")).to_plain_string(), "1251");
        assert_eq!(Money::new(d("12.5"), c("KWD")).to_plain_string(), "12.500");
        assert_eq!(Money::new(d("0.0005"), c("BHD")).to_plain_string(), "0.001");
        assert_eq!(Money::new(d("9"), c("KRW")).to_plain_string(), "9");
        assert_eq!(Money::new(d("9.999"), c("EUR")).to_plain_string(), "10.00");
    }

    #[test]
    fn minor_units_follow_iso_4217() {
        assert_eq!(
            Money::new(d("12.50"), Currency::USD).minor_units(),
            Ok(1250)
        );
        assert_eq!(Money::new(d("0.01"), Currency::USD).minor_units(), Ok(1));
        assert_eq!(Money::new(d("1250"), c("JPY")).minor_units(), Ok(1250));
        assert_eq!(Money::new(d("12.345"), c("KWD")).minor_units(), Ok(12_345));
        assert_eq!(Money::from_minor(1250, c("JPY")).to_plain_string(), "1250");
        assert_eq!(Money::from_minor(1250, c("KWD")).to_plain_string(), "1.250");
        assert_eq!(
            Money::from_minor(1250, Currency::USD).to_plain_string(),
            "12.50"
        );
        assert!(
            Money::new(Decimal::MAX, Currency::USD)
                .minor_units()
                .is_err()
        );
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
        assert_eq!(
            Money::new(d("1500"), c("JPY")).times(d("1.25")).amount(),
            d("1875")
        );
        assert_eq!(
            Money::new(d("1001"), c("JPY")).times(d("0.5")).amount(),
            d("501")
        );
    }

    #[test]
    fn three_decimal_currencies_charge_whole_tens_of_their_minor_unit() {
        assert_eq!(c("KWD").chargeable(d("3.255")).to_string(), "3.250");
        assert_eq!(c("KWD").chargeable(d("3.259")).to_string(), "3.250");
        assert_eq!(c("BHD").chargeable(d("0.009")).to_string(), "0.000");
        assert_eq!(c("KWD").chargeable(d("3.250")).to_string(), "3.250");
        assert_eq!(Currency::USD.chargeable(d("3.255")).to_string(), "3.26");
        assert_eq!(c("JPY").chargeable(d("1800")).to_string(), "1800");
    }

    #[test]
    fn currency_codes_are_iso_4217_with_a_minor_unit() {
        assert_eq!(c("eur").as_str(), "EUR");
        assert_eq!(c("jpy").exponent(), 0);
        assert_eq!(c("KWD").exponent(), 3);
        assert_eq!(c("usd").exponent(), 2);
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("E1R").is_err());
        assert!(Currency::parse("").is_err());
        assert!(Currency::parse("ABC").is_err(), "not a currency");
        assert!(Currency::parse("XAU").is_err(), "gold has no minor unit");
    }
}
