//! The Stripe gateway, through async-stripe's request builders. Responses are read
//! into the few fields we use, which also keeps us working against Stripe-compatible
//! servers (localstripe in the tests) that leave out fields we never read.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use stripe::{IdempotencyKey, RequestStrategy, StripeError};
use stripe_client_core::StripeRequest;
use stripe_core::payment_intent::{
    CancelPaymentIntent, CreatePaymentIntent, RetrievePaymentIntent,
};
use stripe_core::refund::CreateRefund;

use super::gateway::{
    GatewayError, GatewayRefund, Intent, IntentFor, PaymentGateway, RefundStatus, minor_units,
};
use crate::money::Money;

#[derive(miniserde::Deserialize)]
struct IntentReply {
    id: String,
    client_secret: Option<String>,
}

#[derive(miniserde::Deserialize)]
struct RefundReply {
    id: String,
    status: Option<String>,
}

pub struct StripeGateway {
    client: stripe::Client,
}

impl StripeGateway {
    pub fn new(secret_key: &str, api_base: Option<&str>) -> anyhow::Result<Self> {
        let mut builder = stripe::ClientBuilder::new(secret_key)
            .timeout(Duration::from_secs(15))
            .app_info("screema", Some(env!("CARGO_PKG_VERSION").to_owned()), None);
        if let Some(base) = api_base {
            builder = builder.url(base);
        }
        Ok(Self {
            client: builder.build()?,
        })
    }
}

fn failure(e: StripeError) -> GatewayError {
    match e {
        // 4xx: Stripe refused (card declined, intent in the wrong state, …).
        StripeError::Stripe(api, status) if (400..500).contains(&status) => GatewayError::Declined(
            api.message
                .clone()
                .unwrap_or_else(|| format!("the payment provider refused the request ({status})")),
        ),
        other => GatewayError::Unavailable(other.to_string()),
    }
}

fn key(raw: &str) -> Result<RequestStrategy, GatewayError> {
    IdempotencyKey::new(raw)
        .map(RequestStrategy::Idempotent)
        .map_err(|e| GatewayError::Unavailable(format!("idempotency key: {e}")))
}

fn intent(reply: IntentReply) -> Result<Intent, GatewayError> {
    Ok(Intent {
        client_secret: reply.client_secret.ok_or_else(|| {
            GatewayError::Unavailable(format!("intent {} came without a client secret", reply.id))
        })?,
        id: reply.id,
    })
}

#[async_trait]
impl PaymentGateway for StripeGateway {
    async fn create_intent(
        &self,
        purpose: IntentFor,
        amount: Money,
    ) -> Result<Intent, GatewayError> {
        let currency = amount.currency().as_str().to_ascii_lowercase();
        let currency =
            stripe_types::Currency::from_str(&currency).unwrap_or_else(|never| match never {});
        let request = CreatePaymentIntent::new(minor_units(amount)?, currency).metadata(
            purpose
                .metadata()
                .into_iter()
                .collect::<std::collections::HashMap<_, _>>(),
        );
        let reply: IntentReply = request
            .build()
            .customize()
            .request_strategy(key(&purpose.idempotency_key())?)
            .send(&self.client)
            .await
            .map_err(failure)?;
        intent(reply)
    }

    async fn retrieve_intent(&self, id: &str) -> Result<Intent, GatewayError> {
        let reply: IntentReply = RetrievePaymentIntent::new(id)
            .build()
            .customize()
            .send(&self.client)
            .await
            .map_err(failure)?;
        intent(reply)
    }

    async fn cancel_intent(&self, id: &str) -> Result<(), GatewayError> {
        let _: IntentReply = CancelPaymentIntent::new(id)
            .build()
            .customize()
            .request_strategy(key(&format!("cancel-{id}"))?)
            .send(&self.client)
            .await
            .map_err(failure)?;
        Ok(())
    }

    async fn refund(
        &self,
        intent: &str,
        amount: Money,
        idempotency: &str,
    ) -> Result<GatewayRefund, GatewayError> {
        let reply: RefundReply = CreateRefund::new()
            .payment_intent(intent)
            .amount(minor_units(amount)?)
            .build()
            .customize()
            .request_strategy(key(idempotency)?)
            .send(&self.client)
            .await
            .map_err(failure)?;
        Ok(GatewayRefund {
            status: RefundStatus::parse(reply.status.as_deref().unwrap_or("pending")),
            id: reply.id,
        })
    }
}
