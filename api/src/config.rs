//! The server's configuration: read from the environment once, at start-up, into a
//! typed struct. Nothing else reads the environment.

use std::fmt;
use std::time::Duration;

use registry_core::{DatabaseUrl, PoolOptions};

/// The default database: an SQLite file under `./data/`, created when missing.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/registry.db";
pub const DEFAULT_BIND: &str = "127.0.0.1:8080";
pub const DEFAULT_AUDIENCE: &str = "pso-registry";
pub const DEFAULT_LOG_FILTER: &str = "info";
/// The register's name in its checkpoints and signed answers (`iss`).
pub const DEFAULT_ORIGIN: &str = "localhost/pso-registry";
/// An admin token shorter than this is refused at start-up.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 32;

/// The scheme owner's bearer token. Never printed: `Debug` shows `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminToken(String);

impl AdminToken {
    pub fn new(token: String) -> Result<Self, ConfigError> {
        if token.chars().count() < MIN_ADMIN_TOKEN_CHARS {
            return Err(ConfigError::Invalid {
                variable: "REGISTRY_ADMIN_TOKEN",
                reason: format!("must be at least {MIN_ADMIN_TOKEN_CHARS} characters"),
            });
        }
        Ok(Self(token))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

/// How webhooks are delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOptions {
    /// The wait before the first retry; each later one waits twice as long
    /// (with jitter), up to `max_retry`.
    pub first_retry: Duration,
    pub max_retry: Duration,
    /// A subscription failing this long is disabled.
    pub disable_after: Duration,
    /// A receiver has this long to answer.
    pub timeout: Duration,
    /// Deliveries in flight at once, per process.
    pub concurrency: usize,
}

/// Everything the server needs to know from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATABASE_URL`.
    pub database_url: DatabaseUrl,
    /// `BIND`: the address and port to listen on.
    pub bind: String,
    /// `REGISTRY_AUDIENCE`: the `aud` that CBs' signed requests must carry.
    pub audience: String,
    /// `REGISTRY_ADMIN_TOKEN`: no admin API without it.
    pub admin_token: Option<AdminToken>,
    /// `DATABASE_POOL_SIZE`.
    pub pool: PoolOptions,
    /// `REGISTRY_EXPIRY_INTERVAL_SECS`: how often expired periods are recorded in
    /// the event log.
    pub expiry_interval: Duration,
    /// `REGISTRY_JWKS_MIN_REFETCH_SECS`: an unknown `kid` makes the register
    /// fetch a CB's published key set at most this often.
    pub jwks_min_refetch: Duration,
    /// `REGISTRY_WORKERS`: HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// `RUST_LOG`: which logs to write (tracing's filter syntax).
    pub log_filter: String,
    /// `LOG_FORMAT`: `text` (default) or `json` (one object a line).
    pub log_json: bool,
    /// `REGISTRY_HSTS_SECS`: when the register is served over TLS (behind a
    /// proxy that ends it), the `Strict-Transport-Security` header to send.
    pub hsts_header: Option<String>,
    /// `REGISTRY_ORIGIN`: the register's name in its log's checkpoints and
    /// the `iss` of its signed answers (`host/path`, no scheme, no spaces or `+`).
    pub origin: String,
    /// `REGISTRY_SIGNING_KEY_FILE`: the register's Ed25519 key (PKCS#8 PEM).
    /// Required on PostgreSQL; on SQLite, made at first start beside the
    /// database file when not given.
    pub signing_key_file: Option<std::path::PathBuf>,
    /// `REGISTRY_RETIRED_KEYS_FILE`: public keys (PEM) the register signed
    /// with before, still published and trusted for what they signed.
    pub retired_keys_file: Option<std::path::PathBuf>,
    /// `REGISTRY_CHECKPOINT_SECS`: a checkpoint is signed and kept at least
    /// this often while the log grows.
    pub checkpoint_interval: Duration,
    /// `REGISTRY_CHECKPOINT_EVENTS`: … and whenever this many entries were
    /// added since the last one.
    pub checkpoint_events: u64,
    /// What the register calls (key sets, webhooks) may lead to.
    pub outbound: crate::outbound::Guard,
    /// Webhook deliveries: how they are retried and when a subscription is
    /// given up.
    pub webhooks: WebhookOptions,
    /// Rate limits per client key and per address.
    pub limits: crate::rate_limit::Limits,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable} {reason}")]
    Invalid {
        variable: &'static str,
        reason: String,
    },
    #[error(transparent)]
    Database(#[from] registry_core::StorageError),
}

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let database_url = DatabaseUrl::parse(
            &get("DATABASE_URL").unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
        )?;
        let number = |variable: &'static str,
                      default: u64,
                      range: std::ops::RangeInclusive<u64>|
         -> Result<u64, ConfigError> {
            match get(variable) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .ok()
                    .filter(|n| range.contains(n))
                    .ok_or(ConfigError::Invalid {
                        variable,
                        reason: format!(
                            "must be a whole number from {} to {}, got {v:?}",
                            range.start(),
                            range.end()
                        ),
                    }),
            }
        };
        let flag = |variable: &'static str| -> Result<bool, ConfigError> {
            match get(variable).as_deref().map(str::trim) {
                None | Some("0" | "false" | "no") => Ok(false),
                Some("1" | "true" | "yes") => Ok(true),
                Some(other) => Err(ConfigError::Invalid {
                    variable,
                    reason: format!("must be 1 or 0 (true or false), got {other:?}"),
                }),
            }
        };
        let pool = PoolOptions {
            max_size: number("DATABASE_POOL_SIZE", 16, 1..=512)? as u32,
            ..PoolOptions::default()
        };
        Ok(Self {
            database_url,
            bind: get("BIND").unwrap_or_else(|| DEFAULT_BIND.into()),
            audience: get("REGISTRY_AUDIENCE").unwrap_or_else(|| DEFAULT_AUDIENCE.into()),
            admin_token: get("REGISTRY_ADMIN_TOKEN")
                .map(AdminToken::new)
                .transpose()?,
            pool,
            expiry_interval: Duration::from_secs(number(
                "REGISTRY_EXPIRY_INTERVAL_SECS",
                300,
                1..=86_400,
            )?),
            jwks_min_refetch: Duration::from_secs(number(
                "REGISTRY_JWKS_MIN_REFETCH_SECS",
                10,
                1..=3600,
            )?),
            workers: match get("REGISTRY_WORKERS") {
                None => None,
                Some(_) => Some(number("REGISTRY_WORKERS", 1, 1..=256)? as usize),
            },
            hsts_header: match get("REGISTRY_HSTS_SECS") {
                None => None,
                Some(_) => Some(format!(
                    "max-age={}; includeSubDomains",
                    number("REGISTRY_HSTS_SECS", 0, 1..=63_072_000)?
                )),
            },
            origin: {
                let origin = get("REGISTRY_ORIGIN").unwrap_or_else(|| DEFAULT_ORIGIN.into());
                registry_core::log::note::check_name(&origin).map_err(|e| {
                    ConfigError::Invalid {
                        variable: "REGISTRY_ORIGIN",
                        reason: e.to_string(),
                    }
                })?;
                origin
            },
            signing_key_file: get("REGISTRY_SIGNING_KEY_FILE").map(Into::into),
            retired_keys_file: get("REGISTRY_RETIRED_KEYS_FILE").map(Into::into),
            checkpoint_interval: Duration::from_secs(number(
                "REGISTRY_CHECKPOINT_SECS",
                60,
                1..=86_400,
            )?),
            checkpoint_events: number("REGISTRY_CHECKPOINT_EVENTS", 1000, 1..=10_000_000)?,
            outbound: crate::outbound::Guard {
                allow_loopback: flag("REGISTRY_ALLOW_LOOPBACK_TARGETS")?,
            },
            webhooks: WebhookOptions {
                first_retry: Duration::from_millis(number(
                    "REGISTRY_WEBHOOK_FIRST_RETRY_MS",
                    5_000,
                    10..=3_600_000,
                )?),
                max_retry: Duration::from_secs(number(
                    "REGISTRY_WEBHOOK_MAX_RETRY_SECS",
                    3_600,
                    1..=86_400,
                )?),
                disable_after: Duration::from_secs(number(
                    "REGISTRY_WEBHOOK_DISABLE_AFTER_SECS",
                    3 * 86_400,
                    1..=30 * 86_400,
                )?),
                timeout: Duration::from_secs(number("REGISTRY_WEBHOOK_TIMEOUT_SECS", 10, 1..=10)?),
                concurrency: number("REGISTRY_WEBHOOK_CONCURRENCY", 4, 1..=64)? as usize,
            },
            limits: crate::rate_limit::Limits {
                anonymous_cheap: number("REGISTRY_RATE_ANON_STATUS", 600, 1..=1_000_000_000)?
                    as u32,
                anonymous_costly: number("REGISTRY_RATE_ANON_SEARCH", 120, 1..=1_000_000_000)?
                    as u32,
                client_cheap: number("REGISTRY_RATE_CLIENT_STATUS", 6_000, 1..=1_000_000_000)?
                    as u32,
                client_costly: number("REGISTRY_RATE_CLIENT_SEARCH", 1_200, 1..=1_000_000_000)?
                    as u32,
                window: Duration::from_secs(number("REGISTRY_RATE_WINDOW_SECS", 60, 1..=3_600)?),
            },
            trusted_proxies: match get("REGISTRY_TRUSTED_PROXIES") {
                None => Vec::new(),
                Some(list) => list
                    .split(',')
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(|a| {
                        a.parse().map_err(|_| ConfigError::Invalid {
                            variable: "REGISTRY_TRUSTED_PROXIES",
                            reason: format!("{a:?} is not an IP address"),
                        })
                    })
                    .collect::<Result<_, _>>()?,
            },
            log_filter: get("RUST_LOG").unwrap_or_else(|| DEFAULT_LOG_FILTER.into()),
            log_json: match get("LOG_FORMAT").as_deref() {
                None | Some("text") => false,
                Some("json") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        variable: "LOG_FORMAT",
                        reason: format!("must be text or json, got {other:?}"),
                    });
                }
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults_serve_on_embedded_sqlite() {
        let c = config(&[]).expect("defaults");
        assert_eq!(c.database_url.redacted(), "sqlite://data/registry.db");
        assert_eq!(c.bind, "127.0.0.1:8080");
        assert!(c.admin_token.is_none());
    }

    #[test]
    fn bad_values_are_named() {
        let e = config(&[("DATABASE_URL", "mysql://x")])
            .expect_err("bad url")
            .to_string();
        assert!(e.contains("DATABASE_URL"), "{e}");
        let e = config(&[("REGISTRY_ADMIN_TOKEN", "short")])
            .expect_err("short token")
            .to_string();
        assert!(
            e.contains("REGISTRY_ADMIN_TOKEN") && !e.contains("short\""),
            "{e}"
        );
        let e = config(&[("DATABASE_POOL_SIZE", "0")])
            .expect_err("pool")
            .to_string();
        assert!(e.contains("DATABASE_POOL_SIZE"), "{e}");
    }

    #[test]
    fn the_admin_token_never_prints() {
        let token = "x".repeat(40);
        let c = config(&[("REGISTRY_ADMIN_TOKEN", &token)]).expect("token");
        assert!(!format!("{c:?}").contains(&token));
    }
}
