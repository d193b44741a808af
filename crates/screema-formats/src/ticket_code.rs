//! Ticket codes: `T1.<payload>.<signature>`, both base64url. The payload holds the
//! booking id, showtime id, issue time and seats; the signature is Ed25519 over a
//! domain tag and the payload, so a scanner with the public key
//! (`GET /api/tickets/public-key`) verifies a code offline, as pretix's signed
//! secrets allow. A code is about 150 characters: comfortable in a QR code.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, TimeZone, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use uuid::Uuid;

const PREFIX: &str = "T1.";
/// Signed with the payload, so a signature made for anything else never verifies here.
const DOMAIN: &[u8] = b"screema-ticket-v1\0";
/// The tag of the list of voided tickets (`GET /api/tickets/revoked`), signed with the
/// same key: a list's signature is never a ticket's, nor the other way round.
const REVOKED_DOMAIN: &[u8] = b"screema-revoked-v1\0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketClaims {
    pub booking: Uuid,
    pub showtime: Uuid,
    pub issued_at: DateTime<Utc>,
    pub seats: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid ticket code")]
pub struct InvalidTicket;

#[derive(Clone)]
pub struct TicketSigner {
    key: SigningKey,
}

impl TicketSigner {
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
        }
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    pub fn issue(&self, claims: &TicketClaims) -> String {
        let payload = encode(claims);
        let signature = self.key.sign(&signed_bytes(&payload));
        format!(
            "{PREFIX}{}.{}",
            URL_SAFE_NO_PAD.encode(&payload),
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    }

    pub fn verify(&self, code: &str) -> Result<TicketClaims, InvalidTicket> {
        verify_with(&self.public_key(), code)
    }

    /// The detached signature (base64url) of a list of voided tickets: Ed25519 over
    /// `"screema-revoked-v1\0"` followed by the exact bytes of the list's body.
    pub fn sign_revoked(&self, body: &[u8]) -> String {
        let signature = self.key.sign(&[REVOKED_DOMAIN, body].concat());
        URL_SAFE_NO_PAD.encode(signature.to_bytes())
    }
}

/// What a scanner does with a list of voided tickets and its signature header.
pub fn verify_revoked_with(key: &VerifyingKey, body: &[u8], signature: &str) -> bool {
    let Some(signature) = URL_SAFE_NO_PAD
        .decode(signature.trim())
        .ok()
        .and_then(|s| <[u8; 64]>::try_from(s).ok())
    else {
        return false;
    };
    key.verify(
        &[REVOKED_DOMAIN, body].concat(),
        &Signature::from_bytes(&signature),
    )
    .is_ok()
}

/// What a scanner does with the published key.
pub fn verify_with(key: &VerifyingKey, code: &str) -> Result<TicketClaims, InvalidTicket> {
    let rest = code.trim().strip_prefix(PREFIX).ok_or(InvalidTicket)?;
    let (payload, signature) = rest.split_once('.').ok_or(InvalidTicket)?;
    let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| InvalidTicket)?;
    let signature: [u8; 64] = URL_SAFE_NO_PAD
        .decode(signature)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or(InvalidTicket)?;
    key.verify(&signed_bytes(&payload), &Signature::from_bytes(&signature))
        .map_err(|_| InvalidTicket)?;
    decode(&payload).ok_or(InvalidTicket)
}

fn signed_bytes(payload: &[u8]) -> Vec<u8> {
    [DOMAIN, payload].concat()
}

fn encode(c: &TicketClaims) -> Vec<u8> {
    let mut out = Vec::with_capacity(40 + c.seats.len() * 4);
    out.extend_from_slice(c.booking.as_bytes());
    out.extend_from_slice(c.showtime.as_bytes());
    out.extend_from_slice(&c.issued_at.timestamp().to_be_bytes());
    out.extend_from_slice(c.seats.join(",").as_bytes());
    out
}

fn decode(bytes: &[u8]) -> Option<TicketClaims> {
    let booking = Uuid::from_slice(bytes.get(0..16)?).ok()?;
    let showtime = Uuid::from_slice(bytes.get(16..32)?).ok()?;
    let issued = i64::from_be_bytes(bytes.get(32..40)?.try_into().ok()?);
    let seats = std::str::from_utf8(bytes.get(40..)?).ok()?;
    Some(TicketClaims {
        booking,
        showtime,
        issued_at: Utc.timestamp_opt(issued, 0).single()?,
        seats: seats
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> TicketClaims {
        TicketClaims {
            booking: Uuid::new_v4(),
            showtime: Uuid::new_v4(),
            issued_at: Utc.timestamp_opt(1_800_000_000, 0).unwrap(),
            seats: vec!["A1".into(), "A2".into(), "B10".into()],
        }
    }

    #[test]
    fn a_code_verifies_and_carries_its_claims() {
        let signer = TicketSigner::from_seed(&[7; 32]);
        let c = claims();
        let code = signer.issue(&c);
        assert!(code.starts_with("T1.") && code.len() < 200, "{code}");
        assert_eq!(signer.verify(&code), Ok(c.clone()));
        assert_eq!(verify_with(&signer.public_key(), &code), Ok(c));
    }

    #[test]
    fn forged_tampered_and_malformed_codes_are_refused() {
        let signer = TicketSigner::from_seed(&[7; 32]);
        let other = TicketSigner::from_seed(&[8; 32]);
        let code = signer.issue(&claims());
        assert_eq!(other.verify(&code), Err(InvalidTicket));
        let (head, sig) = code.rsplit_once('.').unwrap();
        let mut payload = URL_SAFE_NO_PAD.decode(&head[3..]).unwrap();
        payload[40] = b'Z';
        let tampered = format!("T1.{}.{sig}", URL_SAFE_NO_PAD.encode(payload));
        assert_eq!(signer.verify(&tampered), Err(InvalidTicket));
        for bad in [
            "",
            "T1.",
            "T1.abc",
            "T1.abc.def",
            "SCR1.xyz",
            &code[..code.len() - 2],
        ] {
            assert_eq!(signer.verify(bad), Err(InvalidTicket), "{bad}");
        }
    }
}
