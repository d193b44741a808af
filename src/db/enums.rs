//! Rust enums for the Postgres enum types, mapped by their lower-case labels.

use std::io::Write;

use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::{Pg, PgValue};
use diesel::serialize::{self, IsNull, Output, ToSql};

use super::schema::sql_types;

macro_rules! pg_enum {
    ($(#[$meta:meta])* $name:ident => $sql:ty { $($variant:ident = $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, AsExpression, FromSqlRow)]
        #[diesel(sql_type = $sql)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_db_str(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl ToSql<$sql, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                out.write_all(self.as_db_str().as_bytes())?;
                Ok(IsNull::No)
            }
        }

        impl FromSql<$sql, Pg> for $name {
            fn from_sql(value: PgValue<'_>) -> deserialize::Result<Self> {
                let bytes = value.as_bytes();
                $(if bytes == $label.as_bytes() {
                    return Ok($name::$variant);
                })+
                Err(format!(
                    concat!("unknown ", stringify!($name), " `{}`"),
                    String::from_utf8_lossy(bytes)
                ).into())
            }
        }
    };
}

pg_enum!(Role => sql_types::UserRole {
    Customer = "customer",
    Admin = "admin",
    Operator = "operator",
});

pg_enum!(MovieStatus => sql_types::MovieStatus {
    Upcoming = "upcoming",
    NowShowing = "now_showing",
    Ended = "ended",
});

pg_enum!(BookingStatus => sql_types::BookingStatus {
    Pending = "pending",
    Confirmed = "confirmed",
    Cancelled = "cancelled",
    Expired = "expired",
    Used = "used",
});

pg_enum!(PaymentStatus => sql_types::PaymentStatus {
    Pending = "pending",
    Succeeded = "succeeded",
    Failed = "failed",
    Cancelled = "cancelled",
    Refunded = "refunded",
    PartiallyRefunded = "partially_refunded",
});

pg_enum!(NotificationType => sql_types::NotificationType {
    Booking = "booking",
    Payment = "payment",
    Promotion = "promotion",
    System = "system",
    TierUpgrade = "tier_upgrade",
});

impl BookingStatus {
    /// Statuses that own their seats: the partial unique index covers exactly these.
    pub const LIVE: [BookingStatus; 3] = [
        BookingStatus::Pending,
        BookingStatus::Confirmed,
        BookingStatus::Used,
    ];
}
