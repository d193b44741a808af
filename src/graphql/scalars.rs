//! The scalars and money type of API.md: RFC 3339 `DateTime`, `Date`, and `Decimal`
//! as a string with exactly two places.

use std::str::FromStr;

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, SimpleObject, Value};
use chrono::{NaiveDate, SecondsFormat, Utc};

use crate::money::Money;

/// An instant, RFC 3339 with offset, e.g. `2026-12-01T19:30:00Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime(pub chrono::DateTime<Utc>);

#[Scalar(
    name = "DateTime",
    specified_by_url = "https://datatracker.ietf.org/doc/html/rfc3339"
)]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|t| DateTime(t.with_timezone(&Utc)))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 date-time with offset")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// A calendar day, `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Date(pub NaiveDate);

#[Scalar(name = "Date")]
impl ScalarType for Date {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d")
                .map(Date)
                .map_err(|_| InputValueError::custom("expected a date as YYYY-MM-DD")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.format("%Y-%m-%d").to_string())
    }
}

/// An exact decimal as a string, e.g. `"12.50"`. Never a float.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decimal(pub rust_decimal::Decimal);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => rust_decimal::Decimal::from_str(s.trim())
                .map(Decimal)
                .map_err(|_| {
                    InputValueError::custom("expected a decimal string such as \"12.50\"")
                }),
            _ => Err(InputValueError::custom(
                "expected a decimal string such as \"12.50\"",
            )),
        }
    }

    fn to_value(&self) -> Value {
        // Output amounts come from `Money`, which holds them at the currency's own
        // minor unit, so the scale is already right (`12.50`, `1250`, `12.500`).
        Value::String(self.0.to_string())
    }
}

/// A count or position as a GraphQL `Int`, saturating rather than wrapping.
pub fn int(n: impl TryInto<i32>) -> i32 {
    n.try_into().unwrap_or(i32::MAX)
}

/// An amount and its ISO 4217 currency.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(name = "Money")]
pub struct MoneyObject {
    pub amount: Decimal,
    pub currency: String,
}

impl From<Money> for MoneyObject {
    fn from(m: Money) -> Self {
        Self {
            amount: Decimal(m.amount()),
            currency: m.currency().as_str().to_owned(),
        }
    }
}
