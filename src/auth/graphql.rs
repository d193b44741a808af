//! Accounts over GraphQL: thin resolvers over `service`.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, Result, SimpleObject};

use super::input::{Email, FullName, Password, Phone};
use super::model::User;
use super::password_change::{self, PasswordChange};
use super::service::{self, ProfileChanges, Registration, Session, TokenPair};
use super::tokens::AccessToken;
use super::{password_reset, verification};
use crate::db::enums::Role;
use crate::error::AppError;
use crate::graphql::app;
use crate::graphql::engine::admission::ClientAddr;
use crate::graphql::guards::{RoleGuard, SignedIn, viewer};
use crate::ids::parse_uuid;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "Role", remote = "crate::db::enums::Role")]
pub enum RoleGql {
    Customer,
    Admin,
    Operator,
}

pub struct UserObject(pub User);

#[Object(name = "User")]
impl UserObject {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn full_name(&self) -> &str {
        &self.0.full_name
    }

    async fn phone(&self) -> Option<&str> {
        self.0.phone.as_deref()
    }

    /// Whether the user proved the email address is theirs.
    async fn email_verified(&self) -> bool {
        self.0.email_verified
    }

    /// Whether the user receives promotions (they opted in).
    async fn marketing_opt_in(&self) -> bool {
        self.0.marketing_opt_in
    }

    /// Whether the user proved the phone number is theirs; texts about bookings go
    /// only to verified numbers.
    async fn phone_verified(&self) -> bool {
        self.0.phone_verified
    }

    async fn role(&self) -> RoleGql {
        self.0.role.into()
    }

    /// Loyalty tier: bronze, silver, gold or platinum.
    async fn tier(&self) -> &str {
        &self.0.tier
    }

    /// Points that count: they decide the tier and its discount.
    async fn points(&self) -> i32 {
        self.0.points
    }

    /// Points of confirmed bookings whose showtime has not started (nor ticket been
    /// used): they count from then, and a refund before then takes them back.
    async fn pending_points(&self, ctx: &Context<'_>) -> Result<i32> {
        let mut conn = app(ctx)?.db().await?;
        Ok(crate::loyalty::pending_points(&mut conn, self.0.id).await?)
    }
}

#[derive(SimpleObject)]
pub struct AuthPayload {
    user: UserObject,
    access_token: String,
    refresh_token: String,
}

#[derive(SimpleObject)]
#[graphql(name = "TokenPair")]
pub struct TokenPairObject {
    access_token: String,
    refresh_token: String,
}

impl From<TokenPair> for TokenPairObject {
    fn from(t: TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
        }
    }
}

impl From<Session> for AuthPayload {
    fn from(s: Session) -> Self {
        Self {
            user: UserObject(s.user),
            access_token: s.tokens.access_token,
            refresh_token: s.tokens.refresh_token,
        }
    }
}

#[derive(InputObject)]
pub struct RegisterInput {
    email: String,
    /// 8 to 128 characters.
    password: String,
    full_name: String,
    /// International form, e.g. `+14155550123`.
    phone: Option<String>,
}

/// Only the fields given change; `phone: null` removes the number. A new number is
/// unverified.
#[derive(InputObject)]
pub struct UpdateProfileInput {
    full_name: Option<String>,
    /// International form, e.g. `+14155550123`.
    phone: MaybeUndefined<String>,
    /// Whether to receive promotions, in the app and by email.
    marketing_opt_in: Option<bool>,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    current_password: String,
    /// 8 to 128 characters, as at registration.
    new_password: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The token from the reset email's link.
    token: String,
    /// 8 to 128 characters, as at registration.
    new_password: String,
}

#[derive(InputObject)]
pub struct LoginInput {
    email: String,
    password: String,
}

/// The caller's address, as the rate limits count it.
fn client(ctx: &Context<'_>) -> String {
    ctx.data_opt::<ClientAddr>()
        .map(|c| c.0.to_string())
        .unwrap_or_default()
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The signed-in user.
    #[graphql(
        guard = "SignedIn",
        complexity = "crate::graphql::PER_CALL_QUERY_COST + child_complexity"
    )]
    async fn me(&self, ctx: &Context<'_>) -> Result<Option<UserObject>> {
        let viewer = viewer(ctx)?;
        let mut conn = app(ctx)?.db().await.map_err(AppError::from)?;
        Ok(service::user_by_id(&mut conn, viewer.user_id)
            .await?
            .map(UserObject))
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> Result<AuthPayload> {
        let registration = Registration {
            email: Email::parse(&input.email)?,
            password: Password::parse(&input.password)?,
            full_name: FullName::parse(&input.full_name)?,
            phone: input
                .phone
                .filter(|p| !p.trim().is_empty())
                .map(|p| Phone::parse(&p))
                .transpose()?,
        };
        Ok(service::register(app(ctx)?, registration).await?.into())
    }

    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> Result<AuthPayload> {
        let client = client(ctx);
        Ok(
            service::login(app(ctx)?, &input.email, &input.password, &client)
                .await?
                .into(),
        )
    }

    /// Trades a refresh token for a new pair; the old one stops working.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        refresh_token: String,
    ) -> Result<TokenPairObject> {
        Ok(service::refresh(app(ctx)?, &refresh_token).await?.into())
    }

    /// The signed-in user changes their name, phone number or marketing choice.
    #[graphql(guard = "SignedIn")]
    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> Result<UserObject> {
        let changes = ProfileChanges {
            full_name: input
                .full_name
                .as_deref()
                .map(FullName::parse)
                .transpose()?,
            phone: match input.phone {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(phone) => Some(Some(Phone::parse(&phone)?)),
            },
            marketing_opt_in: input.marketing_opt_in,
        };
        let user = service::update_profile(app(ctx)?, viewer(ctx)?.user_id, changes).await?;
        Ok(UserObject(user))
    }

    /// Emails the signed-in user a link (and code) that proves their address. `false`,
    /// and nothing sent, when the address is proven already. Rate limited.
    #[graphql(guard = "SignedIn")]
    async fn request_email_verification(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(verification::request_email(app(ctx)?, viewer(ctx)?.user_id).await?)
    }

    /// Proves the email address the code was sent to. The code names its account, so
    /// no sign-in is needed (a link opened on another device works); it works once.
    async fn verify_email(&self, ctx: &Context<'_>, code: String) -> Result<UserObject> {
        Ok(UserObject(
            verification::verify_email(app(ctx)?, &code).await?,
        ))
    }

    /// Texts a six-digit code to the signed-in user's phone; the previous code stops
    /// working. `false`, and nothing sent, when the number is proven already. Rate
    /// limited.
    #[graphql(guard = "SignedIn")]
    async fn request_phone_verification(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(verification::request_phone(app(ctx)?, viewer(ctx)?.user_id).await?)
    }

    /// Proves the phone number with the texted code; a few wrong codes end it.
    #[graphql(guard = "SignedIn")]
    async fn verify_phone(&self, ctx: &Context<'_>, code: String) -> Result<UserObject> {
        Ok(UserObject(
            verification::verify_phone(app(ctx)?, viewer(ctx)?.user_id, &code).await?,
        ))
    }

    /// Sets a new password; every other sign-in of the user ends (this one stays).
    #[graphql(guard = "SignedIn")]
    async fn change_password(&self, ctx: &Context<'_>, input: ChangePasswordInput) -> Result<bool> {
        let client = client(ctx);
        let change = PasswordChange {
            user: viewer(ctx)?.user_id,
            family: ctx.data_opt::<AccessToken>().and_then(|t| t.family),
            current_password: &input.current_password,
            new_password: &input.new_password,
            client: &client,
        };
        Ok(password_change::change(app(ctx)?, change).await?)
    }

    /// Emails a reset link if the address has an account. The answer is `true`
    /// whether or not it has one.
    async fn request_password_reset(&self, ctx: &Context<'_>, email: String) -> Result<bool> {
        Ok(password_reset::request(app(ctx)?, &email, &client(ctx)).await?)
    }

    /// Sets a new password with a reset link's token, and signs out everywhere.
    async fn reset_password(&self, ctx: &Context<'_>, input: ResetPasswordInput) -> Result<bool> {
        Ok(password_reset::reset(app(ctx)?, &input.token, &input.new_password).await?)
    }

    /// Ends the sign-in the refresh token belongs to (all its rotations).
    async fn logout(&self, ctx: &Context<'_>, refresh_token: String) -> Result<bool> {
        Ok(service::logout(app(ctx)?, &refresh_token).await?)
    }

    /// Admins only. The user is signed out everywhere; the new role applies at their
    /// next sign-in.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn set_user_role(
        &self,
        ctx: &Context<'_>,
        user_id: ID,
        role: RoleGql,
    ) -> Result<UserObject> {
        let admin = viewer(ctx)?;
        let user_id = parse_uuid("userId", &user_id)?;
        Ok(UserObject(
            service::set_role(app(ctx)?, admin, user_id, role.into()).await?,
        ))
    }
}
