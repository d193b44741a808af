//! Ticket images in an object store: a local folder by default, S3 when configured.
//! An image is made when the booking is confirmed (through the outbox) and, should it
//! be missing, again when it is first fetched.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, PutPayload};
use uuid::Uuid;

use super::image::ticket_png;
use crate::app::App;
use crate::booking::model::Booking;
use crate::config::TicketStore;
use crate::db::schema::bookings;
use crate::error::{AppError, AppResult};
use secrecy::ExposeSecret;

pub struct TicketImages {
    store: Arc<dyn ObjectStore>,
    /// What a showtime's tickets say above their seats (film, rating, cinema, time), for
    /// a little while: every ticket of a showing shares it, and reading it per ticket
    /// cost checkout a sixth of its throughput. A film's rating changed by an admin is
    /// on new tickets within `CAPTION_TTL`.
    captions: moka::sync::Cache<Uuid, Arc<Vec<String>>>,
}

const CAPTION_TTL: std::time::Duration = std::time::Duration::from_secs(30);

/// Per booking and code: a booking whose code is issued again (part of it refunded)
/// gets a new image, and the old one is never served for it.
fn path(booking: Uuid, code: &str) -> Path {
    use sha2::Digest;
    let digest = hex::encode(sha2::Sha256::digest(code.as_bytes()));
    Path::from(format!("tickets/{booking}/{}.png", &digest[..16]))
}

fn store_error(e: object_store::Error) -> AppError {
    AppError::internal(anyhow::Error::new(e).context("ticket image store"))
}

impl TicketImages {
    pub fn new(config: &TicketStore) -> anyhow::Result<Self> {
        let store: Arc<dyn ObjectStore> = match config {
            TicketStore::Local { dir } => {
                std::fs::create_dir_all(dir)?;
                Arc::new(LocalFileSystem::new_with_prefix(dir)?)
            }
            TicketStore::S3 {
                bucket,
                region,
                endpoint,
                access_key_id,
                secret_access_key,
            } => {
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(bucket)
                    .with_region(region);
                if let Some(endpoint) = endpoint {
                    builder = builder
                        .with_endpoint(endpoint)
                        .with_allow_http(endpoint.starts_with("http://"))
                        .with_virtual_hosted_style_request(false);
                }
                if let (Some(id), Some(secret)) = (access_key_id, secret_access_key) {
                    builder = builder
                        .with_access_key_id(id)
                        .with_secret_access_key(secret.expose_secret());
                }
                Arc::new(builder.build()?)
            }
        };
        Ok(Self {
            store,
            captions: moka::sync::Cache::builder()
                .max_capacity(10_000)
                .time_to_live(CAPTION_TTL)
                .build(),
        })
    }

    pub async fn put(&self, booking: Uuid, code: &str, png: Vec<u8>) -> AppResult<()> {
        self.store
            .put(&path(booking, code), PutPayload::from(png))
            .await
            .map_err(store_error)?;
        Ok(())
    }

    pub async fn get(&self, booking: Uuid, code: &str) -> AppResult<Option<Vec<u8>>> {
        match self.store.get(&path(booking, code)).await {
            Ok(found) => Ok(Some(found.bytes().await.map_err(store_error)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(store_error(e)),
        }
    }
}

/// The booking's ticket image, made and stored if it is not there yet. `None` for a
/// booking without a ticket (not paid, or void: a refunded or cancelled booking keeps
/// its code in the database, but its ticket is served no more).
pub async fn image_of(app: &App, booking: &Booking) -> AppResult<Option<Vec<u8>>> {
    let Some(code) = super::valid_code(booking) else {
        return Ok(None);
    };
    if let Some(png) = app.ticket_images.get(booking.id, code).await? {
        return Ok(Some(png));
    }
    let png = ticket_png(code, &caption(app, booking.id, booking.showtime_id).await?)?;
    app.ticket_images.put(booking.id, code, png.clone()).await?;
    Ok(Some(png))
}

/// What the ticket says under its code, a line each: the film, its age rating (for the
/// door to check), the cinema and screen, the start in the theater's time zone, and the
/// seats with any ticket type that is not ADULT. The showing's part is shared by its
/// tickets (`TicketImages::captions`); the seats are read per ticket.
pub async fn caption(app: &App, booking: Uuid, showtime: Uuid) -> AppResult<Vec<String>> {
    caption_of(app, showtime, None, booking).await
}

/// As `caption`, with the booking's `(seat, ticket type)` when the caller has them; a
/// showing whose lines are cached and seats in hand read nothing.
async fn caption_of(
    app: &App,
    showtime: Uuid,
    seats: Option<Vec<(String, String)>>,
    booking: Uuid,
) -> AppResult<Vec<String>> {
    use crate::db::schema::{booking_seats, movies, screens, showtimes, theaters};
    use diesel::dsl::sql;
    use diesel::prelude::*;
    use diesel::sql_types::Timestamp;
    use diesel_async::RunQueryDsl;
    let showing = match app.ticket_images.captions.get(&showtime) {
        Some(lines) => lines,
        None => {
            let mut conn = app.db().await?;
            let found: Option<Header> = showtimes::table
                .inner_join(movies::table)
                .inner_join(screens::table.inner_join(theaters::table))
                .filter(showtimes::id.eq(showtime))
                .select((
                    movies::title,
                    movies::age_rating_system,
                    movies::age_rating_code,
                    movies::age_rating_min_age,
                    theaters::name,
                    screens::screen_number,
                    sql::<Timestamp>("showtimes.start_time AT TIME ZONE theaters.timezone"),
                ))
                .first(&mut conn)
                .await
                .optional()?;
            let Some(header) = found else {
                return Ok(Vec::new());
            };
            let lines = Arc::new(showing_lines(&header));
            app.ticket_images.captions.insert(showtime, lines.clone());
            lines
        }
    };
    let mut seats: Vec<(String, String)> = match seats {
        Some(seats) => seats,
        None => {
            let mut conn = app.db().await?;
            booking_seats::table
                .filter(booking_seats::booking_id.eq(booking))
                .select((booking_seats::seat_number, booking_seats::ticket_type))
                .load(&mut conn)
                .await?
        }
    };
    // In the order a seat map reads (SeatNumber's order: row, then number).
    seats.sort_by_cached_key(|(seat, _)| seat.parse::<crate::catalog::layout::SeatNumber>().ok());
    let seats: Vec<String> = seats
        .iter()
        .map(|(seat, kind)| {
            if kind == crate::catalog::ticket_prices::ADULT {
                seat.clone()
            } else {
                format!("{seat} {kind}")
            }
        })
        .collect();
    let mut lines = showing.as_ref().clone();
    lines.push(format!("Seats {}", seats.join(", ")));
    Ok(lines)
}

/// The film, its rating, age limits, where, when and which seats.
type Header = (
    String,
    Option<String>,
    Option<String>,
    Option<i32>,
    String,
    i32,
    chrono::NaiveDateTime,
);

fn showing_lines(header: &Header) -> Vec<String> {
    let (title, system, code, min_age, theater, screen, starts) = header;
    let rating = crate::catalog::age_rating::AgeRating::from_columns(
        system.as_deref(),
        code.as_deref(),
        *min_age,
    );
    let mut lines = vec![title.clone()];
    if let Some(r) = rating {
        let ages = if r.min_age == 0 {
            "all ages".to_owned()
        } else {
            format!("{}+", r.min_age)
        };
        lines.push(format!("Rated {} ({ages})", r.label()));
    }
    lines.push(format!("{theater}, screen {screen}"));
    lines.push(starts.format("%a %d %b %Y %H:%M").to_string());
    lines
}

/// The outbox's `ticket_image`: stores a confirmed booking's image.
/// What the transaction that confirmed a booking hands its ticket image (`outbox`'s
/// in-hand): the booking as confirmed, and its seats with their ticket types.
pub struct Confirmed {
    pub booking: Booking,
    pub seats: Vec<(String, String)>,
}

pub async fn store_for(
    app: &App,
    booking: Uuid,
    in_hand: crate::outbox::InHand<'_>,
) -> AppResult<()> {
    if let Some(c) = in_hand
        .and_then(|h| h.downcast_ref::<Confirmed>())
        .filter(|c| c.booking.id == booking)
    {
        let Some(code) = super::valid_code(&c.booking) else {
            return Ok(());
        };
        let caption =
            caption_of(app, c.booking.showtime_id, Some(c.seats.clone()), booking).await?;
        return app
            .ticket_images
            .put(booking, code, ticket_png(code, &caption)?)
            .await;
    }
    use diesel::prelude::*;
    use diesel_async::RunQueryDsl;
    // The connection goes back before the image is made: making it reads the caption
    // with a connection of its own, and a delivery holding two at once would starve
    // the pool when many tickets are stored together.
    let found: Option<Booking> = {
        let mut conn = app.db().await?;
        bookings::table
            .find(booking)
            .select(Booking::as_select())
            .first(&mut conn)
            .await
            .optional()?
    };
    if let Some(booking) = found {
        image_of(app, &booking).await?;
    }
    Ok(())
}
