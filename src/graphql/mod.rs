//! GraphQL: the engine every transport runs operations through (`engine`, with the
//! websocket transport under it), the schema assembled from each domain's roots
//! (`schema`), the seat map's fast paths (`seat_map`), and what a domain's
//! `graphql.rs` builds its resolvers with: guards, scalars, dataloaders, the error
//! boundary and the context accessors below.

pub mod engine;
pub mod error;
pub mod guards;
pub mod loaders;
pub mod paging;
pub mod scalars;
pub mod schema;
pub mod seat_map;
pub mod showtime_list;

use async_graphql::Context;

use crate::app::AppState;
use crate::error::AppError;
use loaders::Loaders;

pub use schema::{AppSchema, build_schema, sdl};

/// The complexity of a root field that reads the database on every call (aliases are
/// not batched): without it, hundreds of aliases of `me { id }` fit under the limit
/// and cost hundreds of SQL statements.
pub const PER_CALL_QUERY_COST: usize = 10;

/// The application state, for resolvers.
pub fn app<'a>(ctx: &Context<'a>) -> Result<&'a AppState, AppError> {
    ctx.data::<AppState>().map_err(|_| {
        AppError::internal(anyhow::anyhow!(
            "schema built without the application state"
        ))
    })
}

/// The request's dataloaders.
pub fn loaders<'a>(ctx: &Context<'a>) -> Result<&'a Loaders, AppError> {
    ctx.data::<Loaders>()
        .map_err(|_| AppError::internal(anyhow::anyhow!("request executed without dataloaders")))
}
