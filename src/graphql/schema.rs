//! The schema: each domain's roots merged, the limits every request runs under, and
//! the SDL that `schema.graphql` holds.

use async_graphql::{MergedObject, MergedSubscription, Schema, SchemaBuilder};

use crate::admin::graphql::AdminQuery;
use crate::app::AppState;
use crate::auth::graphql::{AuthMutation, AuthQuery};
use crate::booking::graphql::{BookingMutation, BookingQuery};
use crate::box_office::graphql::{BoxOfficeMutation, BoxOfficeQuery};
use crate::catalog::graphql::{CatalogMutation, CatalogQuery};
use crate::config::GraphqlLimits;
use crate::door::graphql::{DoorMutation, DoorSubscription};
use crate::notifications::graphql::{
    NotificationsMutation, NotificationsQuery, NotificationsSubscription,
};
use crate::payments::graphql::PaymentsMutation;
use crate::sale_queue::graphql::{SaleQueueMutation, SaleQueueSubscription};
use crate::seating::graphql::{SeatingMutation, SeatingQuery, SeatingSubscription};
use crate::vouchers::graphql::{VoucherMutation, VoucherQuery};
use crate::waitlist::graphql::{WaitlistMutation, WaitlistQuery, WaitlistSubscription};

#[derive(MergedObject, Default)]
#[graphql(name = "Query")]
pub struct QueryRoot(
    CatalogQuery,
    AuthQuery,
    SeatingQuery,
    BookingQuery,
    NotificationsQuery,
    AdminQuery,
    VoucherQuery,
    BoxOfficeQuery,
    WaitlistQuery,
);

#[derive(MergedObject, Default)]
#[graphql(name = "Mutation")]
pub struct MutationRoot(
    AuthMutation,
    CatalogMutation,
    SeatingMutation,
    BookingMutation,
    PaymentsMutation,
    DoorMutation,
    BoxOfficeMutation,
    NotificationsMutation,
    VoucherMutation,
    WaitlistMutation,
    SaleQueueMutation,
);

#[derive(MergedSubscription, Default)]
#[graphql(name = "Subscription")]
pub struct SubscriptionRoot(
    SeatingSubscription,
    NotificationsSubscription,
    DoorSubscription,
    WaitlistSubscription,
    SaleQueueSubscription,
);

type RootSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The schema, twice: as callers who may introspect it see it, and for everyone
/// else without "Did you mean …?" in validation errors. Suggestions are the
/// schema's names, a field at a time (`clairvoyance` rebuilds a schema from them),
/// and async-graphql turns them off only for a whole schema, so the engine picks
/// one of the two per request (`engine::reticence` says what else such callers are spared).
/// Built once each at start-up; a request costs no more than before.
#[derive(Clone)]
pub struct AppSchema {
    open: RootSchema,
    closed: RootSchema,
}

impl AppSchema {
    /// The schema for a caller; `closed` when introspection is closed to them.
    pub fn for_caller(&self, closed: bool) -> &RootSchema {
        if closed { &self.closed } else { &self.open }
    }
}

fn builder(limits: &GraphqlLimits) -> SchemaBuilder<QueryRoot, MutationRoot, SubscriptionRoot> {
    Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot::default(),
    )
    .limit_depth(limits.max_depth)
    .limit_complexity(limits.max_complexity)
    .limit_recursive_depth(32)
    .limit_directives(8)
}

pub fn build_schema(app: AppState) -> AppSchema {
    // No extensions: what they did is in `engine`, which says why.
    AppSchema {
        open: builder(&app.config.graphql).data(app.clone()).finish(),
        closed: builder(&app.config.graphql)
            .disable_suggestions()
            .data(app)
            .finish(),
    }
}

/// The SDL that `schema.graphql` holds: sorted, so that diffs are about meaning.
pub fn sdl() -> String {
    let limits = GraphqlLimits {
        max_depth: 1,
        max_complexity: 1,
        max_body_bytes: 1,
        introspection: crate::config::Introspection::Open,
        batch_delay: std::time::Duration::ZERO,
        probe_timeout: std::time::Duration::from_secs(1),
        persisted_queries: 0,
        public_max_age: std::time::Duration::ZERO,
    };
    builder(&limits).finish().sdl_with_options(
        async_graphql::SDLExportOptions::new()
            .sorted_fields()
            .sorted_arguments()
            .sorted_enum_items(),
    )
}
