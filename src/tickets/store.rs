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
}

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
        Ok(Self { store })
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
    let png = ticket_png(code, &caption(app, booking.id).await?)?;
    app.ticket_images.put(booking.id, code, png.clone()).await?;
    Ok(Some(png))
}

#[derive(diesel::QueryableByName)]
struct Caption {
    #[diesel(sql_type = diesel::sql_types::Text)]
    line: String,
}

/// What the ticket says under its code, a line each: the film, its age rating (for the
/// door to check), the cinema and screen, the start in the theater's time zone, and the
/// seats with any ticket type that is not ADULT.
pub async fn caption(app: &App, booking: Uuid) -> AppResult<Vec<String>> {
    use diesel_async::RunQueryDsl;
    let mut conn = app.db().await?;
    let lines: Vec<Caption> = diesel::sql_query(
        "SELECT unnest(ARRAY[ \
             m.title, \
             coalesce('Rated ' || m.age_rating_system || ' ' || m.age_rating_code || ' (' || \
                 CASE WHEN m.age_rating_min_age = 0 THEN 'all ages' \
                 ELSE m.age_rating_min_age || '+' END || ')', ''), \
             t.name || ', screen ' || sc.screen_number, \
             to_char(s.start_time AT TIME ZONE t.timezone, 'Dy DD Mon YYYY HH24:MI'), \
             'Seats ' || coalesce((SELECT string_agg(bs.seat_number || CASE WHEN bs.ticket_type = 'ADULT' \
                 THEN '' ELSE ' ' || bs.ticket_type END, ', ' ORDER BY bs.seat_number) \
                 FROM booking_seats bs WHERE bs.booking_id = b.id), '')]) AS line \
         FROM bookings b JOIN showtimes s ON s.id = b.showtime_id \
         JOIN movies m ON m.id = s.movie_id JOIN screens sc ON sc.id = s.screen_id \
         JOIN theaters t ON t.id = sc.theater_id WHERE b.id = $1",
    )
    .bind::<diesel::sql_types::Uuid, _>(booking)
    .load(&mut conn)
    .await?;
    Ok(lines
        .into_iter()
        .map(|c| c.line)
        .filter(|l| !l.is_empty())
        .collect())
}

/// The outbox's `ticket_image`: stores a confirmed booking's image.
pub async fn store_for(app: &App, booking: Uuid) -> AppResult<()> {
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
