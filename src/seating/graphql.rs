//! Seat map types, and the resolvers behind `Showtime.seatMap` and `availableSeats`.

use async_graphql::{Context, Enum, Result, SimpleObject};

use super::seat_map::{self, SeatStates};
use crate::catalog::graphql::SeatKindGql;
use crate::catalog::model::Showtime;
use crate::error::AppError;
use crate::graphql::loaders::{BookedSeatsOf, LoadedScreen, ScreenKey, SeatVersionOf};
use crate::graphql::scalars::MoneyObject;
use crate::graphql::{app, loaders};
use crate::money::Money;

#[derive(Enum, Copy, Clone, Eq, PartialEq)]
#[graphql(name = "SeatState", remote = "crate::seating::seat_map::SeatState")]
pub enum SeatStateGql {
    Available,
    Held,
    Booked,
    Blocked,
}

#[derive(SimpleObject)]
#[graphql(name = "SeatMap")]
pub struct SeatMapObject {
    /// The showtime's seat-change counter when this map was read.
    version: i32,
    rows: Vec<SeatRowObject>,
}

#[derive(SimpleObject)]
#[graphql(name = "SeatRow")]
pub struct SeatRowObject {
    label: String,
    seats: Vec<SeatObject>,
}

#[derive(SimpleObject)]
#[graphql(name = "Seat")]
pub struct SeatObject {
    /// Row label and number, e.g. `C7`.
    number: String,
    /// Position in the row from 0, counting aisle gaps: seats with a gap between them
    /// have columns that differ by more than one.
    column: i32,
    kind: SeatKindGql,
    state: SeatStateGql,
    held_by_me: bool,
    price: MoneyObject,
}

struct SeatInputs {
    screen: std::sync::Arc<LoadedScreen>,
    booked: std::sync::Arc<Vec<String>>,
}

async fn load_inputs(ctx: &Context<'_>, showtime: &Showtime) -> Result<SeatInputs> {
    let loaders = loaders(ctx)?;
    let (screen, booked) = futures_util::future::try_join(
        loaders.load_one(ScreenKey(showtime.screen_id)),
        loaders.load_one(BookedSeatsOf(showtime.id)),
    )
    .await?;
    let screen = screen.ok_or_else(|| {
        AppError::internal(anyhow::anyhow!(
            "screen {} of showtime {} not found",
            showtime.screen_id,
            showtime.id
        ))
    })?;
    Ok(SeatInputs {
        screen,
        booked: booked.unwrap_or_default(),
    })
}

fn states<'a>(showtime: &'a Showtime, booked: &'a [String]) -> SeatStates<'a> {
    SeatStates {
        booked: booked.iter().map(String::as_str).collect(),
        blocked: showtime
            .blocked_seats
            .iter()
            .flatten()
            .map(String::as_str)
            .collect(),
    }
}

pub async fn seat_map(ctx: &Context<'_>, showtime: &Showtime) -> Result<SeatMapObject> {
    let (inputs, version) = futures_util::future::try_join(load_inputs(ctx, showtime), async {
        Ok(loaders(ctx)?
            .load_one(SeatVersionOf(showtime.id))
            .await?
            .unwrap_or(0))
    })
    .await?;
    let layout = inputs.screen.layout()?;
    let base = Money::new(showtime.base_price, app(ctx)?.config.currency);
    let map = seat_map::build(layout, base, &states(showtime, &inputs.booked), version);
    Ok(SeatMapObject {
        version: i32::try_from(map.version).unwrap_or(i32::MAX),
        rows: map
            .rows
            .into_iter()
            .map(|row| SeatRowObject {
                label: row.label,
                seats: row
                    .seats
                    .into_iter()
                    .map(|seat| SeatObject {
                        number: seat.number,
                        column: i32::try_from(seat.column).unwrap_or(i32::MAX),
                        kind: seat.kind.into(),
                        state: seat.state.into(),
                        held_by_me: seat.held_by_me,
                        price: seat.price.into(),
                    })
                    .collect(),
            })
            .collect(),
    })
}

pub async fn available_seats(ctx: &Context<'_>, showtime: &Showtime) -> Result<i32> {
    let inputs = load_inputs(ctx, showtime).await?;
    let layout = inputs.screen.layout()?;
    let count = seat_map::available_count(layout, &states(showtime, &inputs.booked));
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}
