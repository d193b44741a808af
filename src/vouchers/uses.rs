//! Counting a voucher's uses, inside the transaction that writes the booking. The
//! increment is conditional on a use being left and takes the voucher's row lock, so
//! concurrent bookings with the same code are counted one after another; the customer's
//! own uses are counted after it, under the same lock.

use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use uuid::Uuid;

use super::Voucher;
use crate::db::schema::{voucher_uses, vouchers};
use crate::error::{AppError, AppResult};

/// Takes one use of `voucher` for `booking`, or refuses (`BAD_USER_INPUT` on
/// `voucherCode`) when none is left, in all or for this customer. On refusal the
/// caller's transaction is rolled back, so nothing is counted.
pub async fn take(
    conn: &mut AsyncPgConnection,
    voucher: &Voucher,
    user: Uuid,
    booking: Uuid,
) -> AppResult<()> {
    let counted: Option<i32> = diesel::update(
        vouchers::table.find(voucher.id).filter(
            vouchers::total_uses
                .is_null()
                .or(vouchers::uses.nullable().lt(vouchers::total_uses)),
        ),
    )
    .set(vouchers::uses.eq(vouchers::uses + 1))
    .returning(vouchers::uses)
    .get_result(conn)
    .await
    .optional()?;
    if counted.is_none() {
        return Err(AppError::bad_input(
            "voucherCode",
            format!("voucher {} has been used up", voucher.code),
        ));
    }
    if let Some(per_customer) = voucher.uses_per_customer {
        let mine: i64 = voucher_uses::table
            .filter(voucher_uses::voucher_id.eq(voucher.id))
            .filter(voucher_uses::user_id.eq(user))
            .filter(voucher_uses::given_back_at.is_null())
            .count()
            .get_result(conn)
            .await?;
        if mine >= i64::from(per_customer) {
            return Err(AppError::bad_input(
                "voucherCode",
                format!(
                    "voucher {} can be used {per_customer} time(s) per customer, and you have",
                    voucher.code
                ),
            ));
        }
    }
    diesel::insert_into(voucher_uses::table)
        .values((
            voucher_uses::booking_id.eq(booking),
            voucher_uses::voucher_id.eq(voucher.id),
            voucher_uses::user_id.eq(user),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// The voucher with this code, if there is one.
/// A string that could never be a code (control characters, NUL among them, which
/// Postgres cannot take) is no voucher's, and is not sent to Postgres.
pub async fn find(conn: &mut AsyncPgConnection, code: &str) -> AppResult<Option<Voucher>> {
    let code = super::normalise_code(code);
    if !super::is_code(&code) {
        return Ok(None);
    }
    Ok(vouchers::table
        .filter(vouchers::code.eq(code))
        .select(Voucher::as_select())
        .first(conn)
        .await
        .optional()?)
}
