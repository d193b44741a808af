//! Challenges a user answers to prove an address is theirs or to reset a password:
//! rows of `account_challenges` that hold an id, the address, an expiry and whether
//! they were used, and nothing a user could present.
//!
//! What the user receives is derived from the row's id under the server's account
//! secret (`ACCOUNT_CODE_SECRET`) at delivery time: for a link, the id and an HMAC of
//! it (so the code alone names and proves its challenge, on any device, signed in or
//! not); for a phone, six digits taken from such an HMAC. Neither the table nor the
//! outbox row that asks for the message holds a usable code, so a leaked backup or
//! log proves nothing, and a retried delivery sends the same code again.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use uuid::Uuid;

use crate::db::schema::account_challenges;
use crate::error::{AppError, AppResult};
use crate::outbox::{self, Effect};

/// What a challenge is for; stored as its `as_str`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    VerifyEmail,
    VerifyPhone,
    ResetPassword,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::VerifyPhone => "verify_phone",
            Self::ResetPassword => "reset_password",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::VerifyEmail, Self::VerifyPhone, Self::ResetPassword]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = account_challenges, check_for_backend(diesel::pg::Pg))]
pub struct Challenge {
    pub id: Uuid,
    pub user_id: Uuid,
    pub purpose: String,
    /// The email address or phone number it went to.
    pub target: String,
    pub attempts: i32,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl Challenge {
    /// Neither used nor expired.
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        self.used_at.is_none() && self.expires_at > now
    }

    pub fn purpose(&self) -> Option<Purpose> {
        Purpose::parse(&self.purpose)
    }
}

/// Writes a challenge and the outbox row that sends it, in the caller's transaction.
/// Returns the outbox row to deliver after commit; a password reset's is the workers'
/// (`password_reset`: its requester must not learn whether an account exists from how
/// long the answer took).
pub async fn open(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user: Uuid,
    purpose: Purpose,
    target: &str,
    ttl: std::time::Duration,
) -> AppResult<Option<crate::outbox::Queued>> {
    let ttl = chrono::Duration::from_std(ttl).map_err(AppError::internal)?;
    let id: Uuid = diesel::insert_into(account_challenges::table)
        .values((
            account_challenges::user_id.eq(user),
            account_challenges::purpose.eq(purpose.as_str()),
            account_challenges::target.eq(target),
            account_challenges::expires_at.eq(now + ttl),
            account_challenges::created_at.eq(now),
        ))
        .returning(account_challenges::id)
        .get_result(conn)
        .await?;
    let deliverer = match purpose {
        Purpose::ResetPassword => outbox::Deliverer::Workers,
        _ => outbox::Deliverer::Writer,
    };
    outbox::enqueue_for(
        conn,
        now,
        format!("account-message-{id}"),
        &Effect::AccountMessage { challenge: id },
        deliverer,
    )
    .await
}

/// Ends every open challenge of `user` for `purpose`: answered by another, superseded
/// by a newer one, or about an address that changed.
pub async fn close_all(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user: Uuid,
    purpose: Purpose,
) -> AppResult<usize> {
    Ok(diesel::update(
        account_challenges::table
            .filter(account_challenges::user_id.eq(user))
            .filter(account_challenges::purpose.eq(purpose.as_str()))
            .filter(account_challenges::used_at.is_null()),
    )
    .set(account_challenges::used_at.eq(now))
    .execute(conn)
    .await?)
}

/// The challenge `id` of this purpose, locked for the caller's transaction.
pub async fn lock(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    purpose: Purpose,
) -> AppResult<Option<Challenge>> {
    Ok(account_challenges::table
        .find(id)
        .filter(account_challenges::purpose.eq(purpose.as_str()))
        .select(Challenge::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

/// The newest open challenge of `user` for `purpose`, locked.
pub async fn lock_latest_open(
    conn: &mut AsyncPgConnection,
    now: DateTime<Utc>,
    user: Uuid,
    purpose: Purpose,
) -> AppResult<Option<Challenge>> {
    Ok(account_challenges::table
        .filter(account_challenges::user_id.eq(user))
        .filter(account_challenges::purpose.eq(purpose.as_str()))
        .filter(account_challenges::used_at.is_null())
        .filter(account_challenges::expires_at.gt(now))
        .order(account_challenges::created_at.desc())
        .select(Challenge::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?)
}

pub async fn find(conn: &mut AsyncPgConnection, id: Uuid) -> AppResult<Option<Challenge>> {
    Ok(account_challenges::table
        .find(id)
        .select(Challenge::as_select())
        .first(conn)
        .await
        .optional()?)
}

fn mac(secret: &SecretString, purpose: Purpose, id: Uuid) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.expose_secret().as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(b"screema-challenge-v1\0");
    mac.update(purpose.as_str().as_bytes());
    mac.update(b"\0");
    mac.update(id.as_bytes());
    mac.finalize().into_bytes().into()
}

/// The bytes of the HMAC a link carries: 128 bits, beyond guessing.
const LINK_MAC_BYTES: usize = 16;

/// The code a link carries: `<id>.<mac>`, both base64url (45 characters).
pub fn link_code(secret: &SecretString, purpose: Purpose, id: Uuid) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(id.as_bytes()),
        URL_SAFE_NO_PAD.encode(&mac(secret, purpose, id)[..LINK_MAC_BYTES])
    )
}

/// The challenge a link's code names, if its HMAC proves it.
pub fn read_link_code(secret: &SecretString, purpose: Purpose, code: &str) -> Option<Uuid> {
    let (id, tag) = code.trim().split_once('.')?;
    let id = Uuid::from_slice(&URL_SAFE_NO_PAD.decode(id).ok()?).ok()?;
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    let expected = mac(secret, purpose, id);
    constant_time_eq(&tag, &expected[..LINK_MAC_BYTES]).then_some(id)
}

/// The six digits texted for a phone challenge.
pub fn phone_code(secret: &SecretString, id: Uuid) -> String {
    let m = mac(secret, Purpose::VerifyPhone, id);
    let mut first = [0u8; 8];
    first.copy_from_slice(&m[..8]);
    format!("{:06}", u64::from_be_bytes(first) % 1_000_000)
}

/// Whether `typed` is the phone challenge's code (spaces ignored).
pub fn phone_code_matches(secret: &SecretString, id: Uuid, typed: &str) -> bool {
    let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
    constant_time_eq(typed.as_bytes(), phone_code(secret, id).as_bytes())
}

/// Compares without stopping at the first difference, so timing tells nothing of
/// how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn link_codes_prove_their_challenge_and_purpose_only() {
        let (key, id) = (secret("k1"), Uuid::new_v4());
        let code = link_code(&key, Purpose::VerifyEmail, id);
        assert_eq!(code.len(), 45);
        assert_eq!(read_link_code(&key, Purpose::VerifyEmail, &code), Some(id));
        assert_eq!(read_link_code(&key, Purpose::ResetPassword, &code), None);
        assert_eq!(
            read_link_code(&secret("k2"), Purpose::VerifyEmail, &code),
            None
        );
        let other = link_code(&key, Purpose::VerifyEmail, Uuid::new_v4());
        let forged = format!("{}.{}", &code[..22], &other[23..]);
        assert_eq!(read_link_code(&key, Purpose::VerifyEmail, &forged), None);
        for junk in ["", ".", "abc", "a.b.c", &code[..44]] {
            assert_eq!(read_link_code(&key, Purpose::VerifyEmail, junk), None);
        }
    }

    #[test]
    fn phone_codes_are_six_digits_from_the_id() {
        let key = secret("k1");
        let id = Uuid::new_v4();
        let code = phone_code(&key, id);
        assert_eq!(code.len(), 6);
        assert!(code.chars().all(|c| c.is_ascii_digit()));
        assert_eq!(code, phone_code(&key, id));
        assert!(phone_code_matches(
            &key,
            id,
            &format!(" {} {}", &code[..3], &code[3..])
        ));
        assert!(!phone_code_matches(&key, id, "12345"));
        assert_ne!(code, phone_code(&key, Uuid::new_v4()));
    }
}
