//! Booking references people read out at a counter: 8 characters of Crockford's
//! base32 (no I, L, O or U, so nothing is mistaken for 1, 0 or a rude word).

use rand::Rng;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// 40 random bits; the unique index catches the rare repeat and the caller draws again.
pub fn new_reference() -> String {
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(ALPHABET[rng.random_range(0..32)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_eight_unambiguous_characters() {
        for _ in 0..1000 {
            let r = new_reference();
            assert_eq!(r.len(), 8);
            assert!(
                r.chars()
                    .all(|c| c.is_ascii_digit() || c.is_ascii_uppercase())
            );
            assert!(!r.contains(['I', 'L', 'O', 'U']), "{r}");
        }
        assert_ne!(new_reference(), new_reference());
    }
}
