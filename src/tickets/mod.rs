//! Ticket codes: what a confirmed booking's QR code carries and a check-in scans.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

/// A fresh code for a confirmed booking: 128 random bits, unguessable, looked up on
/// scanning (pretix's "random secrets" scheme). Every code is made here, so the ticket
/// format can change in one place.
pub fn new_ticket_code() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    format!("SCR1.{}", URL_SAFE_NO_PAD.encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_distinct_and_qr_sized() {
        let a = new_ticket_code();
        assert_ne!(a, new_ticket_code());
        assert!(a.starts_with("SCR1.") && a.len() == 27, "{a}");
    }
}
