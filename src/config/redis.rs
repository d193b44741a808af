//! Redis: `REDIS_URL`, `REDIS_KEY_PREFIX`.

use super::ConfigError;
use super::secret::ServiceUrl;
use super::vars::Vars;

pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

#[derive(Debug, Clone)]
pub struct RedisSettings {
    /// `redis://`, `rediss://` or `redis-cluster://`; may carry the password.
    pub url: ServiceUrl,
    /// Every key and channel starts with `<prefix>:`.
    pub key_prefix: String,
}

impl RedisSettings {
    pub(super) fn read(vars: &Vars) -> Result<Self, ConfigError> {
        let url = vars.string("REDIS_URL", DEFAULT_REDIS_URL);
        if !(url.starts_with("redis://")
            || url.starts_with("rediss://")
            || url.starts_with("redis-cluster://"))
        {
            return Err(ConfigError::new("REDIS_URL", "expected a redis:// URL"));
        }
        let key_prefix = vars.string("REDIS_KEY_PREFIX", "screema");
        // Braces would make a hash tag of the prefix (every key on one cluster slot);
        // `*` and spaces would break the patterns that scan and subscribe.
        if key_prefix.contains(['{', '}', ' ', '*']) {
            return Err(ConfigError::new(
                "REDIS_KEY_PREFIX",
                "must not contain braces, spaces or `*`",
            ));
        }
        Ok(Self {
            url: ServiceUrl::new(url),
            key_prefix,
        })
    }
}
