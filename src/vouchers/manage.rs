//! Admins create and list vouchers. Every field is checked before anything is written;
//! the unique index on the code settles two admins creating the same one.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use rust_decimal::Decimal;
use uuid::Uuid;

use super::{Kind, Voucher, is_code, normalise_code};
use crate::app::App;
use crate::auth::model::Viewer;
use crate::catalog::manage::price;
use crate::catalog::ticket_prices::ticket_type;
use crate::db::is_unique_violation;
use crate::db::schema::{movies, theaters, vouchers};
use crate::error::{AppError, AppResult};
use crate::text::optional_text;

/// A voucher as an admin sends it (`create` checks it).
pub struct NewVoucher {
    pub code: String,
    pub kind: Kind,
    pub value: Decimal,
    pub movie_ids: Vec<Uuid>,
    pub theater_ids: Vec<Uuid>,
    pub ticket_types: Vec<String>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
    pub total_uses: Option<i32>,
    pub uses_per_customer: Option<i32>,
    pub description: Option<String>,
}

fn code(raw: &str) -> AppResult<String> {
    let code = normalise_code(raw);
    if !is_code(&code) {
        return Err(AppError::bad_input(
            "code",
            "a code is 3 to 32 letters, digits, `_` or `-`, starting with a letter or digit",
        ));
    }
    Ok(code)
}

fn value(kind: Kind, value: Decimal, app: &App) -> AppResult<Decimal> {
    match kind {
        Kind::PercentOff => {
            if value <= Decimal::ZERO
                || value > Decimal::ONE_HUNDRED
                || value.normalize().scale() > 2
            {
                return Err(AppError::bad_input(
                    "value",
                    "a percentage off is more than 0 and at most 100, with at most two decimals",
                ));
            }
            Ok(value.normalize())
        }
        Kind::AmountOff | Kind::FixedPrice => price("value", value, app.config.currency),
    }
}

fn limit(field: &str, n: Option<i32>) -> AppResult<Option<i32>> {
    match n {
        Some(n) if n < 1 => Err(AppError::bad_input(
            field,
            format!("`{field}` is at least 1"),
        )),
        other => Ok(other),
    }
}

fn all_exist(field: &str, ids: &[Uuid], found: &[Uuid]) -> AppResult<()> {
    match ids.iter().find(|id| !found.contains(id)) {
        Some(missing) => Err(AppError::bad_input(field, format!("no such id: {missing}"))),
        None => Ok(()),
    }
}

pub async fn create(app: &App, admin: Viewer, input: NewVoucher) -> AppResult<Voucher> {
    let code = code(&input.code)?;
    let value = value(input.kind, input.value, app)?;
    let ticket_types = input
        .ticket_types
        .iter()
        .map(|t| ticket_type("ticketTypes", t))
        .collect::<AppResult<Vec<_>>>()?;
    if let (Some(from), Some(until)) = (input.valid_from, input.valid_until)
        && from >= until
    {
        return Err(AppError::bad_input(
            "validUntil",
            "a voucher's window ends after it starts",
        ));
    }
    let total_uses = limit("totalUses", input.total_uses)?;
    let uses_per_customer = limit("usesPerCustomer", input.uses_per_customer)?;
    let description = optional_text("description", input.description, 500)?;
    let mut conn = app.db().await?;
    let found: Vec<Uuid> = movies::table
        .filter(movies::id.eq_any(&input.movie_ids))
        .select(movies::id)
        .load(&mut conn)
        .await?;
    all_exist("movieIds", &input.movie_ids, &found)?;
    let found: Vec<Uuid> = theaters::table
        .filter(theaters::id.eq_any(&input.theater_ids))
        .select(theaters::id)
        .load(&mut conn)
        .await?;
    all_exist("theaterIds", &input.theater_ids, &found)?;
    let inserted = diesel::insert_into(vouchers::table)
        .values((
            vouchers::code.eq(&code),
            vouchers::kind.eq(input.kind.as_db_str()),
            vouchers::value.eq(value),
            vouchers::movie_ids.eq(input
                .movie_ids
                .iter()
                .copied()
                .map(Some)
                .collect::<Vec<_>>()),
            vouchers::theater_ids.eq(input
                .theater_ids
                .iter()
                .copied()
                .map(Some)
                .collect::<Vec<_>>()),
            vouchers::ticket_types.eq(ticket_types.into_iter().map(Some).collect::<Vec<_>>()),
            vouchers::valid_from.eq(input.valid_from),
            vouchers::valid_until.eq(input.valid_until),
            vouchers::total_uses.eq(total_uses),
            vouchers::uses_per_customer.eq(uses_per_customer),
            vouchers::description.eq(description),
            vouchers::created_by.eq(Some(admin.user_id)),
        ))
        .returning(Voucher::as_returning())
        .get_result(&mut conn)
        .await;
    match inserted {
        Ok(voucher) => Ok(voucher),
        Err(e) if is_unique_violation(&e, "vouchers_code") => Err(AppError::Conflict {
            message: format!("there is already a voucher {code}"),
            field: Some("code".to_owned()),
        }),
        Err(e) => Err(e.into()),
    }
}

/// Every voucher, newest first.
pub async fn list(app: &App) -> AppResult<Vec<Voucher>> {
    let mut conn = app.db().await?;
    Ok(vouchers::table
        .order(vouchers::created_at.desc())
        .select(Voucher::as_select())
        .load(&mut conn)
        .await?)
}
