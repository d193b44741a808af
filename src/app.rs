//! The shared application state: one `App` behind an `Arc`, built once at start-up.

use std::sync::{Arc, OnceLock};

use crate::auth::password::Passwords;
use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::db::{self, Pool, StatementCounter};
use crate::http::metrics::Metrics;
use crate::notifications::email::Mailer;
use crate::notifications::sms::{HttpSms, SmsSender};
use crate::payments::gateway::PaymentGateway;
use crate::payments::simulated::SimulatedGateway;
use crate::payments::stripe::StripeGateway;
use crate::redis::Redis;
use crate::seating::live::LiveHub;
use crate::tickets::code::TicketSigner;
use crate::tickets::store::TicketImages;
use secrecy::ExposeSecret;

pub struct App {
    pub config: Config,
    pub db: Pool,
    pub redis: Redis,
    pub clock: Arc<dyn Clock>,
    pub metrics: Metrics,
    pub statements: StatementCounter,
    pub passwords: Passwords,
    pub live: LiveHub,
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
    pub catalog: crate::catalog::cache::CatalogCache,
    pub shutdown: crate::shutdown::Shutdown,
    pub lock_log: crate::seating::lock_log::LockLog,
    /// This node's open websockets, by user and by client.
    pub websockets: Arc<crate::http::ws::sessions::Websockets>,
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
        )?;
        let redis = Redis::connect(
            config.redis.url.expose_secret(),
            &config.redis.key_prefix,
            4,
        )?;
        let passwords = Passwords::new(&config.auth.passwords)?;
        let live = LiveHub::new(config.redis.url.expose_secret(), config.holds.live_backlog)?;
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
            shutdown: Default::default(),
            websockets: Default::default(),
            catalog: crate::catalog::cache::CatalogCache::new(config.catalog.cache_ttl),
            lock_log: crate::seating::lock_log::LockLog::new(db.clone()),
            ticket_images,
            mailer,
            sms,
            live,
            payments,
            base_url,
            tickets: TicketSigner::from_seed(&config.tickets.signing_seed.expose_secret().0),
            passwords,
            metrics,
            config,
            db,
            redis,
            clock,
            statements,
        });
        app.live.start(&app);
        crate::auth::sessions::listen(&app);
        Ok(app)
    }

    pub async fn db(&self) -> Result<db::Conn, db::PoolError> {
        self.db.get().await
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
