//! Expiry is pushed, not discovered: lapsed holds are released (and their seats
//! published as AVAILABLE) within one sweep interval. Every node may run a sweeper;
//! the sweep script is idempotent, so several at once do no harm.

use fred::prelude::*;
use uuid::Uuid;

use crate::app::App;
use crate::seating::holds;

pub async fn sweep_once(app: &App) -> crate::error::AppResult<()> {
    let client = app.redis.client().await;
    let index = crate::seating::keys::active_showtimes(&app.redis);
    let active: Vec<String> = client.smembers(&index).await?;
    for member in active {
        let Ok(showtime) = Uuid::parse_str(&member) else {
            let _: i64 = client.srem(&index, &member).await?;
            continue;
        };
        let remaining = holds::sweep(app, showtime).await?;
        if remaining == 0 {
            // A hold made meanwhile re-adds itself; check again after removing so that
            // one made between the sweep and the removal is not forgotten.
            let _: i64 = client.srem(&index, &member).await?;
            if holds::lock_count(app, showtime).await? > 0 {
                let _: i64 = client.sadd(&index, &member).await?;
            }
        }
    }
    Ok(())
}
