//! `createVoucher` and `vouchers` (admins).

use async_graphql::{Context, Enum, ID, InputObject, Object, Result};

use super::manage::{self, NewVoucher};
use super::{Kind, Voucher};
use crate::db::enums::Role;
use crate::graphql::app;
use crate::graphql::guards::{RoleGuard, viewer};
use crate::graphql::scalars::{DateTime, Decimal, MoneyObject};
use crate::ids::parse_uuid;
use crate::money::Money;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "VoucherKind")]
pub enum VoucherKindGql {
    /// `value` percent off each ticket it applies to.
    PercentOff,
    /// `value` off the tickets it applies to, together.
    AmountOff,
    /// Each ticket it applies to costs `value`.
    FixedPrice,
}

impl From<VoucherKindGql> for Kind {
    fn from(k: VoucherKindGql) -> Self {
        match k {
            VoucherKindGql::PercentOff => Kind::PercentOff,
            VoucherKindGql::AmountOff => Kind::AmountOff,
            VoucherKindGql::FixedPrice => Kind::FixedPrice,
        }
    }
}

impl From<Kind> for VoucherKindGql {
    fn from(k: Kind) -> Self {
        match k {
            Kind::PercentOff => VoucherKindGql::PercentOff,
            Kind::AmountOff => VoucherKindGql::AmountOff,
            Kind::FixedPrice => VoucherKindGql::FixedPrice,
        }
    }
}

#[derive(InputObject)]
pub struct CreateVoucherInput {
    /// 3 to 32 letters, digits, `_` or `-`; kept in upper case (codes match in any case).
    code: String,
    kind: VoucherKindGql,
    /// The percentage (`"25"`), or the amount in the currency (`"5.00"`).
    value: Decimal,
    /// Only for these films (none: any).
    #[graphql(default)]
    movie_ids: Vec<ID>,
    /// Only at these theaters (none: any).
    #[graphql(default)]
    theater_ids: Vec<ID>,
    /// Only for these ticket types (none: any), e.g. `["STUDENT"]`.
    #[graphql(default)]
    ticket_types: Vec<String>,
    valid_from: Option<DateTime>,
    valid_until: Option<DateTime>,
    /// Uses in all (none: no limit).
    total_uses: Option<i32>,
    /// Uses per customer (none: no limit).
    uses_per_customer: Option<i32>,
    description: Option<String>,
}

pub struct VoucherObject(pub Voucher);

#[Object(name = "Voucher")]
impl VoucherObject {
    async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    async fn code(&self) -> &str {
        &self.0.code
    }

    async fn kind(&self) -> VoucherKindGql {
        self.0.kind().into()
    }

    /// The percentage, or the amount (see `amount`).
    async fn value(&self) -> Decimal {
        Decimal(self.0.value)
    }

    /// The amount off or the set price, for those kinds; null for a percentage.
    async fn amount(&self, ctx: &Context<'_>) -> Result<Option<MoneyObject>> {
        let currency = app(ctx)?.config.currency;
        Ok((self.0.kind() != Kind::PercentOff).then(|| Money::new(self.0.value, currency).into()))
    }

    async fn movie_ids(&self) -> Vec<ID> {
        self.0
            .movie_ids
            .iter()
            .flatten()
            .map(|id| ID(id.to_string()))
            .collect()
    }

    async fn theater_ids(&self) -> Vec<ID> {
        self.0
            .theater_ids
            .iter()
            .flatten()
            .map(|id| ID(id.to_string()))
            .collect()
    }

    async fn ticket_types(&self) -> Vec<String> {
        self.0.ticket_types.iter().flatten().cloned().collect()
    }

    async fn valid_from(&self) -> Option<DateTime> {
        self.0.valid_from.map(DateTime)
    }

    async fn valid_until(&self) -> Option<DateTime> {
        self.0.valid_until.map(DateTime)
    }

    async fn total_uses(&self) -> Option<i32> {
        self.0.total_uses
    }

    async fn uses_per_customer(&self) -> Option<i32> {
        self.0.uses_per_customer
    }

    /// Uses counted now (given-back uses are not counted).
    async fn uses(&self) -> i32 {
        self.0.uses
    }

    /// Uses left, when there is a limit.
    async fn remaining_uses(&self) -> Option<i32> {
        self.0.total_uses.map(|t| (t - self.0.uses).max(0))
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
}

#[derive(Default)]
pub struct VoucherQuery;

#[Object]
impl VoucherQuery {
    /// Every voucher, newest first.
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn vouchers(&self, ctx: &Context<'_>) -> Result<Vec<VoucherObject>> {
        Ok(manage::list(app(ctx)?)
            .await?
            .into_iter()
            .map(VoucherObject)
            .collect())
    }
}

#[derive(Default)]
pub struct VoucherMutation;

#[Object]
impl VoucherMutation {
    #[graphql(guard = "RoleGuard::new(Role::Admin)")]
    async fn create_voucher(
        &self,
        ctx: &Context<'_>,
        input: CreateVoucherInput,
    ) -> Result<VoucherObject> {
        let ids = |field: &str, list: &[ID]| {
            list.iter()
                .map(|id| parse_uuid(field, id))
                .collect::<Result<Vec<_>, crate::error::AppError>>()
        };
        let voucher = manage::create(
            app(ctx)?,
            viewer(ctx)?,
            NewVoucher {
                code: input.code,
                kind: input.kind.into(),
                value: input.value.0,
                movie_ids: ids("movieIds", &input.movie_ids)?,
                theater_ids: ids("theaterIds", &input.theater_ids)?,
                ticket_types: input.ticket_types,
                valid_from: input.valid_from.map(|d| d.0),
                valid_until: input.valid_until.map(|d| d.0),
                total_uses: input.total_uses,
                uses_per_customer: input.uses_per_customer,
                description: input.description,
            },
        )
        .await?;
        Ok(VoucherObject(voucher))
    }
}
