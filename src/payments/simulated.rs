//! A payment provider for laptops and demos, used when no Stripe key is configured.
//! It behaves like Stripe as far as the server can tell: intents have `pi_` ids and
//! client secrets, and every intent is confirmed by a correctly signed
//! `payment_intent.succeeded` event posted to our own webhook shortly afterwards
//! (refunds and cancellations likewise send their events), retried like Stripe
//! retries. Ids derive from their inputs, so asking twice gives the same answer.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::gateway::{
    GatewayError, GatewayRefund, Intent, IntentFor, PaymentGateway, RefundStatus, minor_units,
};
use super::signature;
use crate::clock::Clock;
use crate::money::Money;

pub struct SimulatedGateway {
    inner: Arc<Inner>,
}

struct Inner {
    secret: String,
    delay: Duration,
    clock: Arc<dyn Clock>,
    /// Where our webhook listens; known once the server has bound its port.
    base_url: Arc<OnceLock<String>>,
    http: reqwest::Client,
    /// Intents cancelled before their confirmation went out: like Stripe, a
    /// cancelled intent is never paid.
    cancelled: Mutex<HashSet<String>>,
    /// Per intent, what was charged and what has been refunded so far (minor units),
    /// so that `charge.refunded` carries the charge's amount and running total as
    /// Stripe's does. Known to the node that made the intent; another node reports
    /// the refund alone.
    charges: Mutex<HashMap<String, (i64, i64)>>,
}

fn digest(parts: &[&str]) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0]);
    }
    hex::encode(&hash.finalize()[..12])
}

impl SimulatedGateway {
    pub fn new(
        secret: &str,
        delay: Duration,
        clock: Arc<dyn Clock>,
        base_url: Arc<OnceLock<String>>,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                secret: secret.to_owned(),
                delay,
                clock,
                base_url,
                http: reqwest::Client::new(),
                cancelled: Mutex::new(HashSet::new()),
                charges: Mutex::new(HashMap::new()),
            }),
        }
    }

    fn intent(&self, id: String) -> Intent {
        Intent {
            client_secret: format!("{id}_secret_{}", digest(&[&self.inner.secret, &id])),
            id,
        }
    }
}

impl Inner {
    /// Whether the intent was cancelled before its confirmation went out; asked once
    /// per intent, so the answer is forgotten as it is given.
    fn take_cancelled(&self, intent: &str) -> bool {
        self.cancelled
            .lock()
            .map(|mut set| set.remove(intent))
            .unwrap_or(false)
    }

    /// Posts the event after the delay, retrying (as Stripe does) until the webhook
    /// acknowledges it or the attempts run out.
    fn send_later(self: &Arc<Self>, event_id: String, kind: &'static str, object: Value) {
        let inner = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(inner.delay).await;
            let intent = object["id"].as_str().unwrap_or_default().to_owned();
            if kind == "payment_intent.succeeded" && inner.take_cancelled(&intent) {
                return;
            }
            let Some(base) = inner.base_url.get() else {
                tracing::warn!(
                    kind,
                    "simulated payment event not sent: the server is not listening"
                );
                return;
            };
            let url = format!("{base}/api/payments/webhook");
            for attempt in 0..6u32 {
                let created = inner.clock.now().timestamp();
                let body = json!({
                    "id": event_id,
                    "object": "event",
                    "type": kind,
                    "created": created,
                    "livemode": false,
                    "data": {"object": object},
                })
                .to_string();
                let header = signature::sign(&inner.secret, created, body.as_bytes());
                let sent = inner
                    .http
                    .post(&url)
                    .header("Stripe-Signature", header)
                    .header("Content-Type", "application/json")
                    .body(body)
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => return,
                    Ok(r) => {
                        tracing::warn!(kind, status = %r.status(), "simulated webhook refused")
                    }
                    Err(e) => tracing::warn!(kind, error = %e, "simulated webhook unreachable"),
                }
                tokio::time::sleep(inner.delay * 2u32.pow(attempt)).await;
            }
        });
    }
}

#[async_trait]
impl PaymentGateway for SimulatedGateway {
    async fn create_intent(
        &self,
        purpose: IntentFor,
        amount: Money,
    ) -> Result<Intent, GatewayError> {
        let intent = self.intent(match purpose.exchange {
            Some(exchange) => format!("pi_sim_x{}", exchange.simple()),
            None => format!("pi_sim_{}", purpose.booking.simple()),
        });
        if let Ok(mut charges) = self.inner.charges.lock() {
            if charges.len() >= 10_000 {
                charges.clear();
            }
            charges.insert(intent.id.clone(), (minor_units(amount)?, 0));
        }
        let object = json!({
            "id": intent.id,
            "object": "payment_intent",
            "amount": minor_units(amount)?,
            "amount_received": minor_units(amount)?,
            "currency": amount.currency().as_str().to_ascii_lowercase(),
            "status": "succeeded",
            "payment_method": "pm_card_simulated",
            "metadata": purpose
                .metadata()
                .into_iter()
                .map(|(k, v)| (k, serde_json::Value::String(v)))
                .collect::<serde_json::Map<_, _>>(),
        });
        self.inner.send_later(
            format!("evt_sim_{}_succeeded", intent.id),
            "payment_intent.succeeded",
            object,
        );
        Ok(intent)
    }

    async fn retrieve_intent(&self, id: &str) -> Result<Intent, GatewayError> {
        if !id.starts_with("pi_sim_") {
            return Err(GatewayError::Declined(format!(
                "no such payment intent: {id}"
            )));
        }
        Ok(self.intent(id.to_owned()))
    }

    async fn cancel_intent(&self, id: &str) -> Result<(), GatewayError> {
        if let Ok(mut set) = self.inner.cancelled.lock() {
            // Cancellations after the confirmation went out are never asked about; a
            // bound keeps a long-running demo server from collecting them forever.
            if set.len() >= 10_000 {
                set.clear();
            }
            set.insert(id.to_owned());
        }
        self.inner.send_later(
            format!("evt_sim_{id}_canceled"),
            "payment_intent.canceled",
            json!({"id": id, "object": "payment_intent", "status": "canceled"}),
        );
        Ok(())
    }

    async fn refund(
        &self,
        intent: &str,
        amount: Money,
        key: &str,
    ) -> Result<GatewayRefund, GatewayError> {
        let id = format!("re_sim_{}", digest(&[intent, key]));
        let cents = minor_units(amount)?;
        let (charged, refunded) = match self.inner.charges.lock() {
            Ok(mut charges) => match charges.get_mut(intent) {
                Some((charged, refunded)) => {
                    *refunded = (*refunded + cents).min(*charged);
                    (*charged, *refunded)
                }
                None => (cents, cents),
            },
            Err(_) => (cents, cents),
        };
        self.inner.send_later(
            format!("evt_sim_{id}"),
            "charge.refunded",
            json!({
                "id": format!("ch_sim_{}", digest(&[intent])),
                "object": "charge",
                "payment_intent": intent,
                "amount": charged,
                "currency": amount.currency().as_str().to_ascii_lowercase(),
                "amount_refunded": refunded,
                "refunded": refunded >= charged,
                "refunds": {"object": "list", "data": [{"id": id, "amount": cents, "status": "succeeded"}]},
            }),
        );
        Ok(GatewayRefund {
            id,
            status: RefundStatus::Succeeded,
        })
    }
}
