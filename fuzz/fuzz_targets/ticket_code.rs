//! Any bytes as a ticket code (`TicketSigner::verify`): never a panic, and a code that
//! verifies is exactly the code its claims issue to (Ed25519 is deterministic). The
//! same bytes read as claims (booking, showtime, issue time, seats) must survive
//! issue → verify unchanged, which drives the payload decoder past the signature.

#![no_main]

use std::sync::LazyLock;

use chrono::{TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use screema_formats::ticket_code::{TicketClaims, TicketSigner, verify_with};
use uuid::Uuid;

/// The key the seed codes in fuzz/seeds/ticket_code were issued with.
static SIGNER: LazyLock<TicketSigner> = LazyLock::new(|| TicketSigner::from_seed(&[7; 32]));

/// chrono's range is about ±262 000 years: keep the time inside it.
const SPAN: i64 = 8_000_000_000_000;

fuzz_target!(|data: &[u8]| {
    if let Ok(code) = std::str::from_utf8(data) {
        let verified = SIGNER.verify(code);
        assert_eq!(verify_with(&SIGNER.public_key(), code), verified);
        if let Ok(claims) = verified {
            assert_eq!(SIGNER.issue(&claims), code.trim());
        }
    }

    if data.len() >= 40 {
        let uuid = |b: &[u8]| Uuid::from_slice(b).expect("16 bytes");
        let t = i64::from_be_bytes(data[32..40].try_into().expect("8 bytes"));
        let claims = TicketClaims {
            booking: uuid(&data[0..16]),
            showtime: uuid(&data[16..32]),
            issued_at: Utc
                .timestamp_opt(t % SPAN, 0)
                .single()
                .expect("within chrono's range"),
            // Seats never hold a comma nor are empty: they are seat numbers.
            seats: String::from_utf8_lossy(&data[40..])
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
        };
        let code = SIGNER.issue(&claims);
        assert_eq!(SIGNER.verify(&code), Ok(claims));
    }
});
