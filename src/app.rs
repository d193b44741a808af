//! The shared application state: one `App` behind an `Arc`, built once at start-up.

use std::sync::{Arc, OnceLock};

use crate::auth::password::Passwords;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::{self, Pool, StatementCounter};
use crate::metrics::Metrics;
use crate::notifications::email::Mailer;
use crate::notifications::live::Inboxes;
use crate::notifications::sms::{HttpSms, SmsSender};
use crate::payments::gateway::PaymentGateway;
use crate::payments::simulated::SimulatedGateway;
use crate::payments::stripe::StripeGateway;
use crate::pubsub::PubSub;
use crate::redis::Redis;
use crate::seating::live::LiveHub;
use crate::tickets::code::TicketSigner;
use crate::tickets::store::TicketImages;
use secrecy::ExposeSecret;

pub struct App {
    pub config: Config,
    pub db: Pool,
    /// Where catalog reads go: a streaming replica when one is configured.
    pub reads: crate::reads::Reads,
    pub redis: Redis,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub statements: StatementCounter,
    pub passwords: Passwords,
    /// The one Redis subscriber connection, and who listens to which channels.
    pub pubsub: PubSub,
    /// Live seat maps: a room per showtime watched here.
    pub live: LiveHub,
    /// Live notifications: an inbox per user watching here.
    pub inboxes: Arc<Inboxes>,
    /// The door's live check-ins: subscribers per showtime watched here.
    pub check_ins: Arc<crate::door::live::CheckIns>,
    /// Sale queues' live positions: subscribers per showtime watched here.
    pub sale_queues: Arc<crate::sale_queue::live::SaleQueues>,
    pub payments: Arc<dyn PaymentGateway>,
    /// Where this node's server listens, once it does (the simulated gateway posts
    /// its webhooks there).
    pub base_url: Arc<OnceLock<String>>,
    pub tickets: TicketSigner,
    /// `None` when no SMTP server is configured: emails are skipped.
    pub mailer: Option<Mailer>,
    /// `None` when no SMS API is configured: text messages are skipped.
    pub sms: Option<Arc<dyn SmsSender>>,
    pub ticket_images: TicketImages,
    pub rooms: crate::seating::rooms::Rooms,
    /// Copies of showtimes' booked seats into Redis in hand, one at a time each.
    pub booked_loads: crate::seating::sync::BookedLoads,
    pub catalog: crate::catalog::cache::CatalogCache,
    pub shutdown: crate::shutdown::Shutdown,
    pub lock_log: crate::seating::lock_log::LockLog,
    /// The outbox rows this node delivered, recorded in batches.
    pub delivered: crate::outbox::delivered::Delivered,
    /// What delivers each outbox effect.
    pub effects: Arc<dyn crate::outbox::Deliver>,
    /// This node's open websockets, by user and by client.
    pub websockets: Arc<crate::graphql::engine::ws::sessions::Websockets>,
}

pub type AppState = Arc<App>;

impl App {
    /// Builds the state without touching the network: the pools connect lazily.
    pub fn build(config: Config) -> anyhow::Result<AppState> {
        Self::build_with_clock(config, Arc::new(SystemClock))
    }

    pub fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
        let metrics = Metrics::new();
        let statements = StatementCounter(metrics.db_statements());
        let db = db::build_pool(
            config.database.url.expose_secret(),
            config.database.pool_size,
            statements.clone(),
            metrics.db_transactions(),
        )?;
        let reads = match &config.database.read_url {
            Some(url) => crate::reads::Reads::with_replica(
                url.expose_secret(),
                config.database.read_retry,
                metrics.replica_counters(),
            )?,
            None => crate::reads::Reads::primary_only(),
        };
        let redis = Redis::connect(
            config.redis.url.expose_secret(),
            &config.redis.key_prefix,
            4,
        )?;
        let passwords = Passwords::new(&config.auth.passwords)?;
        let pubsub = PubSub::new(config.redis.url.expose_secret())?;
        let live = LiveHub::new(pubsub.clone(), config.holds.live_backlog);
        let base_url = Arc::new(OnceLock::new());
        let payments: Arc<dyn PaymentGateway> = match &config.payments.stripe_secret_key {
            Some(key) => Arc::new(StripeGateway::new(
                key.expose_secret(),
                config.payments.stripe_api_base.as_deref(),
            )?),
            None => Arc::new(SimulatedGateway::new(
                config.payments.webhook_secret.expose_secret(),
                config.payments.simulated_delay,
                clock.clone(),
                base_url.clone(),
            )),
        };
        let mailer = config
            .messaging
            .smtp
            .as_ref()
            .map(Mailer::new)
            .transpose()?;
        let sms: Option<Arc<dyn SmsSender>> = config
            .messaging
            .sms
            .clone()
            .map(|s| Arc::new(HttpSms::new(s)) as Arc<dyn SmsSender>);
        let ticket_images = TicketImages::new(&config.tickets.store)?;
        let app = Arc::new(Self {
            rooms: Default::default(),
            booked_loads: Default::default(),
            shutdown: Default::default(),
            websockets: Default::default(),
            effects: Arc::new(crate::worker::effects::Delivery),
            catalog: crate::catalog::cache::CatalogCache::new(config.catalog.cache_ttl),
            lock_log: crate::seating::lock_log::LockLog::new(db.clone(), metrics.db_batch_writes()),
            delivered: crate::outbox::delivered::Delivered::new(
                db.clone(),
                metrics.db_batch_writes(),
            ),
            ticket_images,
            mailer,
            sms,
            live,
            pubsub,
            inboxes: Default::default(),
            check_ins: Default::default(),
            sale_queues: Default::default(),
            payments,
            base_url,
            tickets: TicketSigner::from_seed(&config.tickets.signing_seed.expose_secret().0),
            passwords,
            metrics,
            config,
            db,
            reads,
            redis,
            clock,
            statements,
        });
        // Every listener is in place before the subscriber connects.
        app.live.start(&app);
        crate::notifications::live::listen(&app);
        crate::door::live::listen(&app);
        crate::sale_queue::live::listen(&app);
        crate::catalog::cache::listen(&app);
        crate::seating::rooms::listen(&app);
        crate::graphql::engine::ws::sessions::listen(&app);
        app.pubsub.start(&app);
        Ok(app)
    }

    pub async fn db(&self) -> Result<db::Conn, db::PoolError> {
        self.db.get().await
    }

    /// Runs a catalog read on the read replica when it can serve it (`db::reads`), else
    /// on the primary. Only for reads that need not see this request's own writes.
    pub async fn read<R, F>(&self, read: F) -> crate::error::AppResult<R>
    where
        for<'r> F: crate::reads::ReadFn<
                &'r mut diesel_async::AsyncPgConnection,
                crate::error::AppResult<R>,
                Fut: Send,
            > + Send
            + Sync,
        R: Send,
    {
        self.reads.run(&self.db, read).await
    }

    /// The base URL clients reach this server at: `PUBLIC_URL`, else where it listens.
    pub fn public_url(&self) -> String {
        match (&self.config.server.public_url, self.base_url.get()) {
            (None, Some(listening)) => listening.clone(),
            _ => self.config.base_url(),
        }
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }
}
