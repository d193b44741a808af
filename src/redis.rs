//! Redis: the client pool and the key names. Every key and channel starts with the
//! configured prefix, so that tests (and several deployments) can share one server.

use std::time::Duration;

use anyhow::Context;
use fred::prelude::*;

#[derive(Clone)]
pub struct Redis {
    pool: Pool,
    prefix: String,
}

impl Redis {
    /// Connects in the background: a node whose Redis is down still starts, reports
    /// itself unready, and recovers when Redis comes back.
    pub fn connect(url: &str, prefix: &str, pool_size: usize) -> anyhow::Result<Self> {
        let mut config = Config::from_url(url).context("parsing REDIS_URL")?;
        config.fail_fast = false;
        let pool = Builder::from_config(config)
            .with_connection_config(|c| {
                c.connection_timeout = Duration::from_secs(2);
                c.internal_command_timeout = Duration::from_secs(2);
                c.max_command_attempts = 2;
            })
            .with_performance_config(|p| {
                // A request never hangs on a Redis that is away.
                p.default_command_timeout = Duration::from_secs(2);
            })
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 2_000, 2))
            .build_pool(pool_size)
            .context("building the Redis pool")?;
        pool.connect();
        Ok(Self {
            pool,
            prefix: prefix.to_owned(),
        })
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A client of the pool to send a command with. A cluster client must have read the
    /// cluster's slots before it can route a script, so one that is still connecting
    /// is waited for (as long as a command may take) rather than failing at once.
    pub async fn client(&self) -> &Client {
        let client = self.pool.next();
        if !client.is_connected() {
            let _ = tokio::time::timeout(Duration::from_secs(2), client.wait_for_connect()).await;
        }
        client
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `<prefix>:<rest>`
    pub fn key(&self, rest: &str) -> String {
        format!("{}:{}", self.prefix, rest)
    }

    pub async fn ping(&self) -> anyhow::Result<()> {
        let _: String = self.pool.next().ping(None).await?;
        Ok(())
    }

    pub async fn quit(&self) {
        let _ = self.pool.quit().await;
    }
}
