//! What the booking flow needs from a payment provider. Two implementations: Stripe
//! (`stripe.rs`) and, when no Stripe key is configured, a simulated provider
//! (`simulated.rs`) that confirms every payment through our own signed webhook.

use async_trait::async_trait;
use uuid::Uuid;

use crate::error::AppError;
use crate::money::Money;

/// A payment intent as the client needs it to pay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub id: String,
    pub client_secret: String,
}

/// What an intent pays for: a booking, or the difference of a dearer exchange of it.
/// Each has its own idempotency key (asking twice gives the same intent) and says
/// what it is for in the intent's metadata, which the webhook reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntentFor {
    pub booking: Uuid,
    pub exchange: Option<Uuid>,
}

impl IntentFor {
    pub fn booking(booking: Uuid) -> Self {
        Self {
            booking,
            exchange: None,
        }
    }

    pub fn exchange(booking: Uuid, exchange: Uuid) -> Self {
        Self {
            booking,
            exchange: Some(exchange),
        }
    }

    pub fn idempotency_key(&self) -> String {
        match self.exchange {
            Some(exchange) => format!("intent-exchange-{exchange}"),
            None => format!("intent-{}", self.booking),
        }
    }

    pub fn metadata(&self) -> Vec<(String, String)> {
        let mut metadata = vec![("booking_id".to_owned(), self.booking.to_string())];
        if let Some(exchange) = self.exchange {
            metadata.push(("exchange_id".to_owned(), exchange.to_string()));
        }
        metadata
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Succeeded,
    Pending,
    Failed,
}

impl RefundStatus {
    pub fn parse(raw: &str) -> Self {
        match raw {
            "succeeded" => Self::Succeeded,
            "failed" | "canceled" => Self::Failed,
            _ => Self::Pending,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Pending => "pending",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRefund {
    pub id: String,
    pub status: RefundStatus,
}

#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The provider refused the request; the message may be shown to the customer.
    #[error("{0}")]
    Declined(String),
    /// The provider could not be reached or answered nonsense; worth retrying.
    #[error("payment provider unavailable: {0}")]
    Unavailable(String),
}

#[async_trait]
pub trait PaymentGateway: Send + Sync {
    /// Creates the intent for a booking or an exchange's difference; asking twice for
    /// the same one gives the same intent.
    async fn create_intent(
        &self,
        purpose: IntentFor,
        amount: Money,
    ) -> Result<Intent, GatewayError>;

    async fn retrieve_intent(&self, id: &str) -> Result<Intent, GatewayError>;

    /// Cancels an intent nobody will pay any more. An intent already paid or cancelled
    /// is `Declined`: there is nothing left to cancel.
    async fn cancel_intent(&self, id: &str) -> Result<(), GatewayError>;

    /// Refunds `amount` of a paid intent; `key` makes a retry return the same refund.
    async fn refund(
        &self,
        intent: &str,
        amount: Money,
        key: &str,
    ) -> Result<GatewayRefund, GatewayError>;
}

/// Stripe counts in the currency's minor unit (ISO 4217: cents for USD, yen for JPY,
/// fils for KWD).
pub fn minor_units(amount: Money) -> Result<i64, GatewayError> {
    amount
        .minor_units()
        .map_err(|e| GatewayError::Declined(e.to_string()))
}

/// A gateway's refusal as the customer is told it.
pub fn payment_error(e: GatewayError) -> AppError {
    match e {
        GatewayError::Declined(message) => AppError::PaymentFailed { message },
        GatewayError::Unavailable(cause) => {
            tracing::warn!(%cause, "payment provider unavailable");
            AppError::PaymentFailed {
                message: "the payment provider is unavailable; please try again".to_owned(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use std::str::FromStr;

    #[test]
    fn amounts_go_out_in_the_currencys_minor_unit() {
        let m = |s: &str, c: &str| {
            Money::new(
                rust_decimal::Decimal::from_str(s).unwrap(),
                Currency::parse(c).unwrap(),
            )
        };
        assert_eq!(minor_units(m("12.50", "USD")).unwrap(), 1250);
        assert_eq!(minor_units(m("0.01", "EUR")).unwrap(), 1);
        assert_eq!(minor_units(m("1234.99", "USD")).unwrap(), 123_499);
        assert_eq!(minor_units(m("1800", "JPY")).unwrap(), 1800);
        assert_eq!(minor_units(m("12000", "KRW")).unwrap(), 12_000);
        assert_eq!(minor_units(m("3.250", "KWD")).unwrap(), 3250);
        assert_eq!(minor_units(m("1.005", "BHD")).unwrap(), 1005);
    }
}
