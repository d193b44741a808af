//! Seat map types, and the resolvers behind `Showtime.seatMap` and `availableSeats`.

use std::collections::HashMap;
use std::sync::Arc;

use async_graphql::{Context, Enum, ID, InputObject, Object, Result, SimpleObject, Subscription};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;

use super::best;
use super::blocks;
use super::rooms;
use super::seat_map::{self, SeatStates};
use crate::auth::model::Viewer;
use crate::catalog::graphql::SeatKindGql;
use crate::catalog::layout::SeatLayout;
use crate::catalog::model::Showtime;
use crate::db::enums::Role;
use crate::error::AppError;
use crate::graphql::engine::seat_maps::Reads;
use crate::graphql::guards::{RoleGuard, SignedIn, viewer};
use crate::graphql::loaders::{BookedSeatsOf, HoldsOf, ScreenKey, ShowtimeKey};
use crate::graphql::scalars::DateTime;
use crate::graphql::scalars::{MoneyObject, int};
use crate::graphql::seat_map::Handoff;
use crate::graphql::seat_map::seat_list::SeatList;
use crate::graphql::{app, loaders};
use crate::ids::parse_uuid;
use crate::money::Money;
use crate::seating::follow::{Follower, Start, Step};
use crate::seating::history::Cursor;
use crate::seating::holds::{self, Holds, SeatLock};
use crate::seating::live::LiveEvent;

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
    seats: SeatList,
}

#[derive(SimpleObject)]
#[graphql(name = "Seat")]
pub struct SeatObject {
    /// Row label and number, e.g. `C7`.
    pub(crate) number: String,
    /// Position in the row from 0, counting aisle gaps: seats with a gap between them
    /// have columns that differ by more than one.
    pub(crate) column: i32,
    pub(crate) kind: SeatKindGql,
    pub(crate) state: SeatStateGql,
    pub(crate) held_by_me: bool,
    pub(crate) price: MoneyObject,
    /// Why the house keeps this seat back (`blockSeats`): staff only, null for everyone
    /// else and for seats blocked without a reason.
    pub(crate) blocked_reason: Option<String>,
}

struct SeatInputs {
    layout: Arc<SeatLayout>,
    holds: Arc<Holds>,
    /// Redis's, read with the holds; Postgres's when Redis does not know them all.
    booked: Arc<Vec<String>>,
}

/// A showtime's room, its holds and its sold seats. The usual case reads nothing but
/// Redis: the layout comes from the process's room cache, and the sold seats with the
/// holds, in one step at one version; Postgres is asked only for what those lack.
async fn load_inputs(ctx: &Context<'_>, showtime: &Arc<Showtime>) -> Result<SeatInputs> {
    let loaders = loaders(ctx)?;
    let cached = rooms::cached(app(ctx)?, showtime.id).map(|room| room.layout.clone());
    let (layout, holds) = futures_util::future::try_join(
        async {
            match cached {
                Some(layout) => Ok(layout),
                None => layout_from_postgres(ctx, showtime).await,
            }
        },
        async {
            Ok::<_, async_graphql::Error>(
                loaders
                    .load_one(HoldsOf(showtime.id))
                    .await?
                    .unwrap_or_default(),
            )
        },
    )
    .await?;
    if let Some(reads) = ctx.data_opt::<Reads>() {
        reads.record(showtime.id, &holds);
    }
    let booked = match &holds.booked {
        Some(booked) => booked.clone(),
        None => loaders
            .load_one(BookedSeatsOf(showtime.id))
            .await?
            .unwrap_or_default(),
    };
    Ok(SeatInputs {
        layout,
        holds,
        booked,
    })
}

/// Through the batched screen loader (a page of many showtimes is one statement), and
/// kept in the room cache for the next reader.
async fn layout_from_postgres(
    ctx: &Context<'_>,
    showtime: &Arc<Showtime>,
) -> Result<Arc<SeatLayout>> {
    let screen = loaders(ctx)?
        .load_one(ScreenKey(showtime.screen_id))
        .await?
        .ok_or_else(|| {
            AppError::internal(anyhow::anyhow!(
                "screen {} of showtime {} not found",
                showtime.screen_id,
                showtime.id
            ))
        })?;
    let layout = screen.layout()?.clone();
    rooms::remember(
        app(ctx)?,
        showtime.clone(),
        screen.row.clone(),
        layout.clone(),
    );
    Ok(layout)
}

fn states<'a>(ctx: &Context<'_>, showtime: &'a Showtime, inputs: &'a SeatInputs) -> SeatStates<'a> {
    let me = ctx.data_opt::<Viewer>().map(|v| v.user_id);
    SeatStates {
        booked: inputs.booked.iter().map(String::as_str).collect(),
        // Redis's, read with the holds at one version; the showtime's own list (which
        // may come from a cache a moment old) only when Redis does not know them all.
        blocked: match &inputs.holds.blocked {
            Some(blocked) => blocked.iter().map(String::as_str).collect(),
            None => showtime
                .blocked_seats
                .iter()
                .flatten()
                .map(String::as_str)
                .collect(),
        },
        held: inputs
            .holds
            .held
            .iter()
            .map(|(seat, user)| (seat.as_str(), Some(*user) == me))
            .collect(),
    }
}

pub async fn seat_map(ctx: &Context<'_>, showtime: &Arc<Showtime>) -> Result<SeatMapObject> {
    let inputs = load_inputs(ctx, showtime).await?;
    let layout = &inputs.layout;
    let base = Money::new(showtime.base_price, app(ctx)?.config.currency);
    let map = seat_map::build(
        layout,
        base,
        &states(ctx, showtime, &inputs),
        inputs.holds.version,
    );
    let reasons = block_reasons(app(ctx)?, ctx.data_opt::<Viewer>(), showtime.id, &map).await?;
    Ok(map_object(map, reasons.as_ref()))
}

fn is_staff(viewer: Option<&Viewer>) -> bool {
    viewer.is_some_and(|v| matches!(v.role, Role::Operator | Role::Admin))
}

/// Why the map's blocked seats are blocked, for staff (one statement, and only when
/// the map has a blocked seat); `None` for everyone else.
async fn block_reasons(
    app: &crate::app::App,
    viewer: Option<&Viewer>,
    showtime: uuid::Uuid,
    map: &seat_map::SeatMap,
) -> Result<Option<HashMap<String, String>>> {
    let any_blocked = map
        .rows
        .iter()
        .flat_map(|row| &row.seats)
        .any(|seat| seat.state == seat_map::SeatState::Blocked);
    if !is_staff(viewer) || !any_blocked {
        return Ok(None);
    }
    Ok(Some(blocks::reasons(app, showtime).await?))
}

fn map_object(map: seat_map::SeatMap, reasons: Option<&HashMap<String, String>>) -> SeatMapObject {
    SeatMapObject {
        version: int(map.version),
        rows: map
            .rows
            .into_iter()
            .map(|row| SeatRowObject {
                label: row.label,
                seats: SeatList(
                    row.seats
                        .into_iter()
                        .map(|seat| SeatObject {
                            blocked_reason: (seat.state == seat_map::SeatState::Blocked)
                                .then(|| reasons.and_then(|r| r.get(&seat.number)).cloned())
                                .flatten(),
                            number: seat.number,
                            column: int(seat.column),
                            kind: seat.kind.into(),
                            state: seat.state.into(),
                            held_by_me: seat.held_by_me,
                            price: seat.price.into(),
                        })
                        .collect(),
                ),
            })
            .collect(),
    }
}

pub async fn available_seats(ctx: &Context<'_>, showtime: &Arc<Showtime>) -> Result<i32> {
    let inputs = load_inputs(ctx, showtime).await?;
    let layout = &inputs.layout;
    let count = seat_map::available_count(layout, &states(ctx, showtime, &inputs));
    Ok(int(count))
}

#[derive(SimpleObject)]
#[graphql(name = "SeatLock")]
pub struct SeatLockObject {
    /// Pass it to `createBooking`, `extendSeatLock` or `releaseSeats`.
    lock_token: String,
    expires_at: DateTime,
    locked_seats: Vec<String>,
}

impl From<SeatLock> for SeatLockObject {
    fn from(l: SeatLock) -> Self {
        Self {
            lock_token: l.token,
            expires_at: DateTime(l.expires_at),
            locked_seats: l.seats,
        }
    }
}

#[derive(InputObject)]
pub struct LockSeatsInput {
    showtime_id: ID,
    /// Row label and number, e.g. `["C7", "C8"]`.
    seat_numbers: Vec<String>,
}

#[derive(InputObject)]
pub struct HoldBestAvailableInput {
    showtime_id: ID,
    /// How many seats (1 to the per-showtime maximum, 10 by default).
    count: i32,
    /// Only seats of this kind.
    kind: Option<SeatKindGql>,
    /// Side by side in one row (the default). With false, when no such block is free,
    /// the best single seats instead.
    #[graphql(default = true)]
    adjacent: bool,
    /// Of `count`, how many must be ACCESSIBLE seats (wheelchair spaces); the others
    /// are companion seats of any kind beside them, in the same block.
    #[graphql(default = 0)]
    accessible_seats: i32,
}

#[derive(Default)]
pub struct SeatingMutation;

#[Object]
impl SeatingMutation {
    /// Holds every seat asked for, or none: SEATS_UNAVAILABLE lists exactly the seats
    /// someone else holds, has bought, or the house has blocked.
    #[graphql(guard = "SignedIn")]
    async fn lock_seats(&self, ctx: &Context<'_>, input: LockSeatsInput) -> Result<SeatLockObject> {
        let viewer = viewer(ctx)?;
        let showtime = parse_uuid("showtimeId", &input.showtime_id)?;
        crate::sale_queue::gate_hold(app(ctx)?, viewer, showtime).await?;
        Ok(
            holds::lock_seats(app(ctx)?, viewer, showtime, &input.seat_numbers)
                .await?
                .into(),
        )
    }

    /// Finds the best block left (as `bestAvailableSeats` ranks them) and holds it, in
    /// one step: the search and the hold are one Redis script, so a buyer racing others
    /// gets the best block free at that instant and never one someone took meanwhile.
    /// SEATS_UNAVAILABLE (naming no seat) when no block fits.
    #[graphql(guard = "SignedIn")]
    async fn hold_best_available(
        &self,
        ctx: &Context<'_>,
        input: HoldBestAvailableInput,
    ) -> Result<SeatLockObject> {
        let viewer = viewer(ctx)?;
        let showtime = parse_uuid("showtimeId", &input.showtime_id)?;
        let count = usize::try_from(input.count)
            .map_err(|_| AppError::bad_input("count", "`count` is at least 1"))?;
        let accessible = usize::try_from(input.accessible_seats)
            .map_err(|_| AppError::bad_input("accessibleSeats", "not negative"))?;
        let ask = holds::BestAsk {
            showtime,
            count,
            want: best::Want {
                kind: input.kind.map(Into::into),
                accessible,
                max_multiplier: None,
            },
            adjacent: input.adjacent,
        };
        crate::sale_queue::gate_hold(app(ctx)?, viewer, showtime).await?;
        Ok(holds::hold_best(app(ctx)?, viewer, ask).await?.into())
    }

    /// Another hold period from now, never past 30 minutes (configurable) from the hold.
    #[graphql(guard = "SignedIn")]
    async fn extend_seat_lock(
        &self,
        ctx: &Context<'_>,
        lock_token: String,
    ) -> Result<SeatLockObject> {
        let viewer = viewer(ctx)?;
        Ok(holds::extend(app(ctx)?, viewer, &lock_token).await?.into())
    }

    #[graphql(guard = "SignedIn")]
    async fn release_seats(&self, ctx: &Context<'_>, lock_token: String) -> Result<bool> {
        let viewer = viewer(ctx)?;
        Ok(holds::release(app(ctx)?, viewer, &lock_token).await?)
    }

    /// Operators and admins: keeps seats back (every seat or none). A blocked seat
    /// cannot be held or sold and shows BLOCKED live on every map; staff see `reason`
    /// as `Seat.blockedReason`. A seat someone holds or has bought is CONFLICT naming
    /// it, and nothing is blocked; blocking a blocked seat again replaces its reason.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn block_seats(
        &self,
        ctx: &Context<'_>,
        input: BlockSeatsInput,
    ) -> Result<SeatMapObject> {
        let id = parse_uuid("showtimeId", &input.showtime_id)?;
        let showtime = blocks::block(
            app(ctx)?,
            viewer(ctx)?,
            id,
            &input.seat_numbers,
            &input.reason,
        )
        .await?;
        seat_map(ctx, &Arc::new(showtime)).await
    }

    /// Operators and admins: gives blocked seats back to sale, live on every map. A
    /// seat that is not blocked is BAD_USER_INPUT naming `seatNumbers`, and nothing is
    /// unblocked.
    #[graphql(guard = "RoleGuard::new(Role::Operator).or(RoleGuard::new(Role::Admin))")]
    async fn unblock_seats(
        &self,
        ctx: &Context<'_>,
        input: UnblockSeatsInput,
    ) -> Result<SeatMapObject> {
        let id = parse_uuid("showtimeId", &input.showtime_id)?;
        let showtime = blocks::unblock(app(ctx)?, viewer(ctx)?, id, &input.seat_numbers).await?;
        seat_map(ctx, &Arc::new(showtime)).await
    }
}

#[derive(InputObject)]
pub struct BlockSeatsInput {
    showtime_id: ID,
    /// Row label and number, e.g. `["C7", "C8"]`.
    seat_numbers: Vec<String>,
    /// Why, for staff: one line, 1 to 200 characters.
    reason: String,
}

#[derive(InputObject)]
pub struct UnblockSeatsInput {
    showtime_id: ID,
    seat_numbers: Vec<String>,
}

#[derive(SimpleObject, Clone)]
#[graphql(name = "SeatChange")]
pub struct SeatChangeObject {
    pub(crate) number: String,
    state: SeatStateGql,
}

/// One step of a live seat map. The first event has `snapshot` and no `changes`
/// (unless it resumes with `since`: then the first is the change after that version);
/// each event without a snapshot has the version one more than the event before it.
#[derive(SimpleObject)]
#[graphql(name = "SeatMapEvent")]
pub struct SeatMapEventObject {
    showtime_id: ID,
    version: i32,
    /// Changes when the server lost the showtime's live data and versions started
    /// again. Pass it with `version` as `since` to resume after a reconnection.
    epoch: String,
    /// Replaces all the client knew, when present.
    snapshot: Option<SeatMapObject>,
    changes: Vec<SeatChangeObject>,
    available_seats: i32,
}

fn snapshot_event(
    showtime: uuid::Uuid,
    epoch: &str,
    (map, available): (seat_map::SeatMap, usize),
    reasons: Option<&HashMap<String, String>>,
) -> SeatMapEventObject {
    SeatMapEventObject {
        showtime_id: ID(showtime.to_string()),
        version: int(map.version),
        epoch: epoch.to_owned(),
        snapshot: Some(map_object(map, reasons)),
        changes: Vec::new(),
        available_seats: int(available),
    }
}

fn change_event(showtime: uuid::Uuid, event: &LiveEvent) -> Option<SeatMapEventObject> {
    let LiveEvent::Changes {
        version,
        epoch,
        changes,
        available,
        ..
    } = event
    else {
        return None;
    };
    Some(SeatMapEventObject {
        showtime_id: ID(showtime.to_string()),
        version: int(*version),
        epoch: epoch.to_string(),
        snapshot: None,
        changes: changes
            .iter()
            .map(|(number, state)| SeatChangeObject {
                number: number.clone(),
                state: (*state).into(),
            })
            .collect(),
        available_seats: int(*available),
    })
}

/// A live map's follower, and the app when the subscriber is staff (whose snapshots
/// carry the blocked seats' reasons, read afresh each time).
type Following = (Follower, Option<crate::app::AppState>);

async fn next_event((mut follower, staff): Following) -> Option<(SeatMapEventObject, Following)> {
    let showtime = follower.showtime();
    let event = match follower.next().await {
        Step::Change(event) => change_event(showtime, &event)?,
        Step::Resnapshot => {
            let snapshot = follower.resnapshot().await?;
            let reasons = match &staff {
                Some(app) => snapshot_reasons(app, showtime, &snapshot.0).await,
                None => None,
            };
            snapshot_event(showtime, follower.epoch(), snapshot, reasons.as_ref())
        }
        Step::Closed => return None,
    };
    Some((event, (follower, staff)))
}

/// A staff subscriber's reasons for a snapshot; a failure to read them leaves them out
/// rather than ending the live map.
async fn snapshot_reasons(
    app: &crate::app::App,
    showtime: uuid::Uuid,
    map: &seat_map::SeatMap,
) -> Option<HashMap<String, String>> {
    let staff = Viewer {
        user_id: uuid::Uuid::nil(),
        role: Role::Operator,
    };
    block_reasons(app, Some(&staff), showtime, map)
        .await
        .ok()
        .flatten()
}

/// Where a live map left off: the `epoch` and `version` of the last event received.
#[derive(InputObject)]
pub struct SeatMapCursorInput {
    epoch: String,
    version: i32,
}

#[derive(Default)]
pub struct SeatingSubscription;

#[Subscription]
impl SeatingSubscription {
    /// The showtime's seat map, live: first the whole map, then every change. It
    /// completes soon after the showtime ends; an ended one is BAD_USER_INPUT.
    /// `since` (the `epoch` and `version` of the last event a client had) resumes
    /// after a reconnection: when the server still has every change after that version
    /// the first events are those changes, with no snapshot; otherwise a snapshot comes
    /// first, as without `since`.
    async fn seat_map(
        &self,
        ctx: &Context<'_>,
        showtime_id: ID,
        since: Option<SeatMapCursorInput>,
    ) -> Result<BoxStream<'static, SeatMapEventObject>> {
        let showtime = parse_uuid("showtimeId", &showtime_id)?;
        let since = since
            .map(|c| Cursor::parse("since", c.epoch, i64::from(c.version)))
            .transpose()?;
        let handoff = ctx.data_opt::<Handoff>();
        // The hook's run again after a resnapshot: the subscriber is past `since`.
        let since = since.filter(|_| !handoff.is_some_and(Handoff::is_restart));
        let app = app(ctx)?.clone();
        let me = ctx.data_opt::<Viewer>().map(|v| v.user_id);
        let staff = is_staff(ctx.data_opt::<Viewer>()).then(|| app.clone());
        // An ended showtime's seats no longer change (`ended`): there is nothing to follow.
        if crate::seating::rooms::room(&app, showtime)
            .await?
            .showtime
            .end_time
            <= app.now()
        {
            return Err(crate::error::AppError::bad_input(
                "showtimeId",
                "this showtime has ended: its seats no longer change",
            )
            .into());
        }
        let (follower, start) = Follower::join(&app, showtime, me, since.as_ref()).await?;
        let snapshot = match start {
            Start::Snapshot(snapshot) => snapshot,
            // What it missed comes from the follower, before the room's changes.
            Start::Resumed => {
                if let Some(handoff) = handoff {
                    handoff.put(follower);
                    return Ok(futures_util::stream::empty().boxed());
                }
                return Ok(futures_util::stream::unfold((follower, staff), next_event).boxed());
            }
        };
        let reasons = match &staff {
            Some(app) => snapshot_reasons(app, showtime, &snapshot.0).await,
            None => None,
        };
        let first = snapshot_event(showtime, follower.epoch(), snapshot, reasons.as_ref());
        if let Some(handoff) = handoff {
            // The transport sends the changes itself, built once for all subscribers.
            handoff.put(follower);
            return Ok(futures_util::stream::once(async move { first }).boxed());
        }
        let first = futures_util::stream::once(async move { first });
        Ok(first
            .chain(futures_util::stream::unfold((follower, staff), next_event))
            .boxed())
    }
}

#[derive(Default)]
pub struct SeatingQuery;

#[Object]
impl SeatingQuery {
    /// The best `count` adjacent free seats in one row (optionally of one kind): nearest
    /// the centre of the room, then the middle row, never stranding a single seat when
    /// another choice exists. SEATS_UNAVAILABLE when no such block exists.
    async fn best_available_seats(
        &self,
        ctx: &Context<'_>,
        showtime_id: ID,
        count: i32,
        kind: Option<SeatKindGql>,
    ) -> Result<Vec<SeatObject>> {
        let id = parse_uuid("showtimeId", &showtime_id)?;
        let max = app(ctx)?.config.holds.max_seats_per_user;
        let count = usize::try_from(count)
            .ok()
            .filter(|c| (1..=max).contains(c))
            .ok_or_else(|| AppError::bad_input("count", format!("`count` is 1 to {max}")))?;
        let showtime = loaders(ctx)?
            .load_one(ShowtimeKey(id))
            .await?
            .ok_or_else(|| AppError::bad_input("showtimeId", "no such showtime"))?;
        let inputs = load_inputs(ctx, &showtime).await?;
        let layout = &inputs.layout;
        let states = states(ctx, &showtime, &inputs);
        let want = best::Want {
            kind: kind.map(Into::into),
            ..best::Want::default()
        };
        let chosen = best::choose(layout, count, want, |seat| {
            states.is_available(&seat.to_string())
        })
        .ok_or(AppError::SeatsUnavailable { seats: Vec::new() })?;
        let chosen: Vec<String> = chosen.iter().map(ToString::to_string).collect();
        let base = Money::new(showtime.base_price, app(ctx)?.config.currency);
        let map = map_object(
            seat_map::build(layout, base, &states, inputs.holds.version),
            None,
        );
        Ok(map
            .rows
            .into_iter()
            .flat_map(|row| row.seats.0)
            .filter(|seat| chosen.contains(&seat.number))
            .collect())
    }
}
