//! Console settings, layered: built-in defaults, then an optional TOML file, then
//! `OVERCAST_*` environment variables, then command-line flags (clap reads both of the
//! last two, flag first).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Flags of `overcast serve`. Every option is optional here so that the TOML file can
/// fill what the command line and environment leave unset.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML file with any of the settings below (keys are the long flag names with `_`).
    #[arg(long, env = "OVERCAST_CONFIG")]
    pub config: Option<PathBuf>,
    /// Address the console listens on [default: 127.0.0.1:8080].
    #[arg(long, env = "OVERCAST_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Directory for the SQLite database and generated key files [default: ./data].
    #[arg(long, env = "OVERCAST_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// `sqlite://…` or `postgres://…` [default: sqlite in the data dir].
    #[arg(long, env = "OVERCAST_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Directory of the built dashboard (index.html and the WASM bundle).
    #[arg(long, env = "OVERCAST_WEB_DIR")]
    pub web_dir: Option<PathBuf>,
    /// Log format [default: human].
    #[arg(long, env = "OVERCAST_LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,
    /// Log filter in `tracing` syntax [default: info].
    #[arg(long, env = "OVERCAST_LOG")]
    pub log: Option<String>,
    /// Password of the bootstrap user `admin`, applied when the user is first created
    /// (a random one is generated and printed once when unset).
    #[arg(long, env = "OVERCAST_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,
    /// Key that encrypts site credentials at rest (a key file in the data dir when unset).
    #[arg(long, env = "OVERCAST_SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Key that signs session tokens; replicas must share it (a key file in the data dir when unset).
    #[arg(long, env = "OVERCAST_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Lifetime of a login session token, in seconds [default: 3600].
    #[arg(long, env = "OVERCAST_TOKEN_TTL_S")]
    pub token_ttl_s: Option<u64>,
    /// Deadline for one API request, in seconds [default: 30].
    #[arg(long, env = "OVERCAST_REQUEST_TIMEOUT_S")]
    pub request_timeout_s: Option<u64>,
    /// Reverse proxies whose `X-Forwarded-For` is believed, as addresses or networks,
    /// `127.0.0.1,10.0.0.0/8` [default: none: the connection's address is the client's].
    #[arg(long, env = "OVERCAST_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Option<Vec<String>>,
    /// Seconds between two collections of a site's metrics [default: 60].
    #[arg(long, env = "OVERCAST_METRICS_INTERVAL_S")]
    pub metrics_interval_s: Option<u64>,
    /// Hours raw metric samples are kept [default: 48].
    #[arg(long, env = "OVERCAST_METRICS_RAW_HOURS")]
    pub metrics_raw_hours: Option<u64>,
    /// Days per-minute metric averages are kept [default: 14].
    #[arg(long, env = "OVERCAST_METRICS_MINUTE_DAYS")]
    pub metrics_minute_days: Option<u64>,
    /// Days hourly metric averages are kept [default: 400].
    #[arg(long, env = "OVERCAST_METRICS_HOUR_DAYS")]
    pub metrics_hour_days: Option<u64>,
}

/// The same keys as [`ServeArgs`], read from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    listen: Option<SocketAddr>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    web_dir: Option<PathBuf>,
    log_format: Option<LogFormat>,
    log: Option<String>,
    admin_password: Option<String>,
    secret_key: Option<String>,
    jwt_secret: Option<String>,
    token_ttl_s: Option<u64>,
    request_timeout_s: Option<u64>,
    trusted_proxies: Option<Vec<String>>,
    metrics_interval_s: Option<u64>,
    metrics_raw_hours: Option<u64>,
    metrics_minute_days: Option<u64>,
    metrics_hour_days: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}: {source}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid setting {name}: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Resolved settings of the console.
#[derive(Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub web_dir: PathBuf,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub admin_password: Option<String>,
    pub secret_key: Option<String>,
    pub jwt_secret: Option<String>,
    pub token_ttl: Duration,
    pub request_timeout: Duration,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub metrics: crate::metrics::MetricsConfig,
}

/// Secrets stay out of logs even when the whole settings struct is printed.
impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Settings")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &redact_url_password(&self.database_url))
            .field("web_dir", &self.web_dir)
            .field("log_format", &self.log_format)
            .field("log_filter", &self.log_filter)
            .field("admin_password", &redacted(&self.admin_password))
            .field("secret_key", &redacted(&self.secret_key))
            .field("jwt_secret", &redacted(&self.jwt_secret))
            .field("token_ttl", &self.token_ttl)
            .field("request_timeout", &self.request_timeout)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("metrics", &self.metrics)
            .finish()
    }
}

pub fn redact_url_password(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}:<redacted>{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Where `make` puts the built dashboard, for runs from a source checkout.
const DEFAULT_WEB_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../frontend/dist");

impl Settings {
    pub fn load(args: &ServeArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => read_file(path)?,
            None => FileSettings::default(),
        };
        let data_dir = pick(args.data_dir.clone(), file.data_dir, || {
            PathBuf::from("./data")
        });
        let database_url = pick(args.database_url.clone(), file.database_url, || {
            sqlite_url(&data_dir.join("overcast.db"))
        });
        let token_ttl_s = pick(args.token_ttl_s, file.token_ttl_s, || 3600);
        if token_ttl_s == 0 {
            return Err(ConfigError::Invalid {
                name: "token_ttl_s",
                reason: "must be at least 1 second".into(),
            });
        }
        let request_timeout_s = pick(args.request_timeout_s, file.request_timeout_s, || 30);
        if request_timeout_s == 0 {
            return Err(ConfigError::Invalid {
                name: "request_timeout_s",
                reason: "must be at least 1 second".into(),
            });
        }
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres:")
            || database_url.starts_with("postgresql:"))
        {
            return Err(ConfigError::Invalid {
                name: "database_url",
                reason: "must start with sqlite:// or postgres://".into(),
            });
        }
        let positive = |name: &'static str, value: u64| {
            if value == 0 {
                return Err(ConfigError::Invalid {
                    name,
                    reason: "must be at least 1".into(),
                });
            }
            Ok(value)
        };
        let metrics = crate::metrics::MetricsConfig {
            interval: Duration::from_secs(positive(
                "metrics_interval_s",
                pick(args.metrics_interval_s, file.metrics_interval_s, || 60),
            )?),
            raw_retention: Duration::from_secs(
                3600 * positive(
                    "metrics_raw_hours",
                    pick(args.metrics_raw_hours, file.metrics_raw_hours, || 48),
                )?,
            ),
            minute_retention: Duration::from_secs(
                86_400
                    * positive(
                        "metrics_minute_days",
                        pick(args.metrics_minute_days, file.metrics_minute_days, || 14),
                    )?,
            ),
            hour_retention: Duration::from_secs(
                86_400
                    * positive(
                        "metrics_hour_days",
                        pick(args.metrics_hour_days, file.metrics_hour_days, || 400),
                    )?,
            ),
        };
        let trusted_proxies = args
            .trusted_proxies
            .clone()
            .or(file.trusted_proxies)
            .unwrap_or_default()
            .iter()
            .map(|text| parse_network(text))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Settings {
            metrics,
            trusted_proxies,
            listen: pick(args.listen, file.listen, || {
                SocketAddr::from(([127, 0, 0, 1], 8080))
            }),
            data_dir,
            database_url,
            web_dir: pick(args.web_dir.clone(), file.web_dir, || {
                PathBuf::from(DEFAULT_WEB_DIR)
            }),
            log_format: pick(args.log_format, file.log_format, LogFormat::default),
            log_filter: pick(args.log.clone(), file.log, || "info".into()),
            admin_password: args.admin_password.clone().or(file.admin_password),
            secret_key: args.secret_key.clone().or(file.secret_key),
            jwt_secret: args.jwt_secret.clone().or(file.jwt_secret),
            token_ttl: Duration::from_secs(token_ttl_s),
            request_timeout: Duration::from_secs(request_timeout_s),
        })
    }
}

/// An address (`10.0.0.1`) or a network (`10.0.0.0/8`).
fn parse_network(text: &str) -> Result<ipnet::IpNet, ConfigError> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| ConfigError::Invalid {
            name: "trusted_proxies",
            reason: format!("{text:?} is not an IP address or network (10.0.0.0/8)"),
        })
}

pub fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

fn pick<T>(from_args: Option<T>, from_file: Option<T>, default: impl FnOnce() -> T) -> T {
    from_args.or(from_file).unwrap_or_else(default)
}

fn read_file(path: &Path) -> Result<FileSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|source| ConfigError::Parse {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_win_over_file_and_file_over_defaults() {
        let dir = std::env::temp_dir().join(format!("overcast-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("overcast.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9999\"\nlog = \"debug\"\n").unwrap_or_default();
        let args = ServeArgs {
            config: Some(path),
            log: Some("warn".into()),
            ..ServeArgs::default()
        };
        let settings = Settings::load(&args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.listen.port(), 9999);
        assert_eq!(settings.log_filter, "warn");
        assert_eq!(settings.token_ttl, Duration::from_secs(3600));
        assert!(settings
            .database_url
            .starts_with("sqlite://./data/overcast.db"));
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = std::env::temp_dir().join(format!("overcast-config-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        let path = dir.join("overcast.toml");
        std::fs::write(&path, "lisen = \"127.0.0.1:9999\"\n").unwrap_or_default();
        let args = ServeArgs {
            config: Some(path),
            ..ServeArgs::default()
        };
        let error = Settings::load(&args)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(error.contains("unknown field `lisen`"), "{error}");
    }

    #[test]
    fn trusted_proxies_are_addresses_or_networks() {
        let args = ServeArgs {
            trusted_proxies: Some(vec!["127.0.0.1".into(), "10.0.0.0/8".into()]),
            ..ServeArgs::default()
        };
        let settings = Settings::load(&args).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settings.trusted_proxies.len(), 2);
        let args = ServeArgs {
            trusted_proxies: Some(vec!["proxy.example".into()]),
            ..ServeArgs::default()
        };
        assert!(Settings::load(&args).is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let args = ServeArgs {
            admin_password: Some("hunter2".into()),
            database_url: Some("postgres://app:s3cret@db/overcast".into()),
            ..ServeArgs::default()
        };
        let settings = Settings::load(&args).unwrap_or_else(|e| panic!("{e}"));
        let shown = format!("{settings:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("s3cret"),
            "{shown}"
        );
    }
}
