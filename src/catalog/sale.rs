//! When a showtime goes on sale and whether buyers queue for it (`onSaleAt`, `queue`,
//! `queueRate` on `createShowtime` and `updateShowtime`); `sale_queue` applies them.

use chrono::{DateTime, Utc};

use super::manage::Patch;
use super::model::Showtime;
use crate::error::{AppError, AppResult};

/// The most buyers a queue may let in a minute: far above what one showtime's seats
/// need, low enough that a typo does not turn the queue off.
pub const MAX_QUEUE_RATE: i32 = 100_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sale {
    pub on_sale_at: Option<DateTime<Utc>>,
    pub queue: bool,
    pub queue_rate: Option<i32>,
}

/// What `updateShowtime` changes of the sale.
#[derive(Debug, Clone, Default)]
pub struct SalePatch {
    pub on_sale_at: Patch<DateTime<Utc>>,
    pub queue: Option<bool>,
    pub queue_rate: Patch<i32>,
}

impl SalePatch {
    pub fn is_empty(&self) -> bool {
        matches!(self.on_sale_at, Patch::Keep)
            && self.queue.is_none()
            && matches!(self.queue_rate, Patch::Keep)
    }

    /// The sale of `current` with this patch applied (unchecked).
    pub fn apply(&self, current: &Showtime) -> Sale {
        fn patched<T: Copy>(patch: &Patch<T>, now: Option<T>) -> Option<T> {
            match patch {
                Patch::Keep => now,
                Patch::Clear => None,
                Patch::Set(v) => Some(*v),
            }
        }
        Sale {
            on_sale_at: patched(&self.on_sale_at, current.on_sale_at),
            queue: self.queue.unwrap_or(current.queue),
            queue_rate: patched(&self.queue_rate, current.queue_rate),
        }
    }
}

impl Sale {
    /// A sale opens before its showtime starts; a queue needs an opening (it draws its
    /// order then); a rate is 1 to [`MAX_QUEUE_RATE`] a minute.
    pub fn checked(self, start_time: DateTime<Utc>) -> AppResult<Self> {
        if self.on_sale_at.is_some_and(|at| at >= start_time) {
            return Err(AppError::bad_input(
                "onSaleAt",
                "a showtime goes on sale before it starts",
            ));
        }
        if self.queue && self.on_sale_at.is_none() {
            return Err(AppError::bad_input(
                "queue",
                "a queued sale needs `onSaleAt`: the queue's order is drawn when it opens",
            ));
        }
        if self
            .queue_rate
            .is_some_and(|r| !(1..=MAX_QUEUE_RATE).contains(&r))
        {
            return Err(AppError::bad_input(
                "queueRate",
                format!("`queueRate` is 1 to {MAX_QUEUE_RATE} buyers a minute"),
            ));
        }
        Ok(self)
    }
}
