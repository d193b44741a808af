//! Stripe's webhook signatures: `Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=…]`,
//! where each `v1` is HMAC-SHA256 of `"{t}.{body}"` under the endpoint's secret.
//! Several `v1` values are accepted (Stripe sends one per active secret while a
//! secret is being rolled); the comparison is constant-time.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header is malformed")]
    Malformed,
    #[error("the signature's timestamp is outside the tolerance")]
    Stale,
    #[error("no signature matches")]
    Mismatch,
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> HmacSha256 {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = <HmacSha256 as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The header Stripe would send for `body` at `timestamp`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secret: &str,
    now: DateTime<Utc>,
    tolerance_seconds: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => {
                if let Ok(bytes) = hex::decode(v) {
                    signatures.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    // `abs_diff`, not `(now - t).abs()`: a `t` near i64::MIN or MAX is the sender's
    // to choose, and the subtraction would overflow (a panic in a debug build).
    let age = i64::try_from(now.timestamp().abs_diff(timestamp));
    if !age.is_ok_and(|age| age <= tolerance_seconds) {
        return Err(SignatureError::Stale);
    }
    let expected = mac(secret, timestamp, body);
    if signatures
        .iter()
        .any(|sig| expected.clone().verify_slice(sig).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    const SECRET: &str = "whsec_test";

    fn at(t: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(t, 0).unwrap()
    }

    #[test]
    fn a_signature_round_trips() {
        let body = br#"{"id":"evt_1"}"#;
        let header = sign(SECRET, 1_700_000_000, body);
        assert_eq!(
            verify(Some(&header), body, SECRET, at(1_700_000_100), 300),
            Ok(())
        );
    }

    #[test]
    fn an_independently_computed_signature_verifies() {
        // printf '1.{}' | openssl dgst -sha256 -hmac whsec_test
        let header = "t=1,v1=7500d5d4be4b3ef07af1fe56f7d522d135cdaa7530de557e67cc1049c52de094";
        assert_eq!(sign(SECRET, 1, b"{}"), header);
        assert_eq!(verify(Some(header), b"{}", SECRET, at(1), 300), Ok(()));
    }

    #[test]
    fn any_of_several_signatures_may_match() {
        let body = b"payload";
        let good = sign(SECRET, 10, body);
        let v1 = good.split_once(",v1=").unwrap().1;
        let header = format!("t=10,v1={},v1={v1},v0=ignored", "00".repeat(32));
        assert_eq!(verify(Some(&header), body, SECRET, at(10), 300), Ok(()));
    }

    #[test]
    fn bad_signatures_are_refused() {
        let body = b"payload";
        let good = sign(SECRET, 1000, body);
        assert_eq!(
            verify(None, body, SECRET, at(1000), 300),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(Some("garbage"), body, SECRET, at(1000), 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some("t=1000"), body, SECRET, at(1000), 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify(Some(&good), b"tampered", SECRET, at(1000), 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), body, "whsec_other", at(1000), 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(Some(&good), body, SECRET, at(1301), 300),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(Some(&good), body, SECRET, at(699), 300),
            Err(SignatureError::Stale)
        );
        for t in [i64::MIN, i64::MAX] {
            assert_eq!(
                verify(Some(&format!("t={t},v1=00")), body, SECRET, at(1000), 300),
                Err(SignatureError::Stale)
            );
        }
    }
}
