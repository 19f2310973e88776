//! Faults a simulated site can be put in, at start (flags) or at run time (`/_sim`).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The fault mode of one site; it applies to every endpoint of that site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum Fault {
    Up,
    /// Connections fail at once.
    Down,
    /// Requests are accepted and never answered.
    Blackhole,
    Latency {
        ms: u64,
        #[serde(default)]
        jitter_ms: u64,
    },
    /// A share of requests (0.0–1.0) fail with `status`.
    Errors {
        rate: f64,
        #[serde(default = "default_error_status")]
        status: u16,
    },
    /// Bodies trickle at this rate both ways (downloads out, uploads in), as over a
    /// slow link.
    Bandwidth {
        bytes_per_s: u64,
    },
    /// Alternates between down and up, each for `period_ms`.
    Flapping {
        period_ms: u64,
    },
}

fn default_error_status() -> u16 {
    500
}

impl Fault {
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Fault::Errors { rate, status } => {
                if !(0.0..=1.0).contains(rate) {
                    return Err("rate must be between 0 and 1".into());
                }
                if !(400..=599).contains(status) {
                    return Err("status must be between 400 and 599".into());
                }
            }
            Fault::Bandwidth { bytes_per_s: 0 } => {
                return Err("bytes_per_s must be positive".into())
            }
            Fault::Flapping { period_ms: 0 } => return Err("period_ms must be positive".into()),
            _ => {}
        }
        Ok(())
    }

    /// Parses the `--fault` flag's value: `down`, `blackhole`, `latency:MS[:JITTER]`,
    /// `errors:RATE[:STATUS]`, `bandwidth:BYTES_PER_S`, `flapping:PERIOD_MS`.
    pub fn parse_flag(text: &str) -> Result<Fault, String> {
        let mut parts = text.split(':');
        let mode = parts.next().unwrap_or_default();
        let mut number = |what: &str| -> Result<Option<f64>, String> {
            parts
                .next()
                .map(|p| {
                    p.parse::<f64>()
                        .map_err(|_| format!("{what} must be a number, got {p:?}"))
                })
                .transpose()
        };
        let fault = match mode {
            "up" => Fault::Up,
            "down" => Fault::Down,
            "blackhole" => Fault::Blackhole,
            "latency" => {
                let ms =
                    number("latency ms")?.ok_or("latency needs a value: latency:MS[:JITTER]")?;
                let jitter_ms = number("jitter ms")?.unwrap_or(0.0);
                Fault::Latency {
                    ms: ms as u64,
                    jitter_ms: jitter_ms as u64,
                }
            }
            "errors" => {
                let rate = number("rate")?.ok_or("errors needs a rate: errors:RATE[:STATUS]")?;
                let status = number("status")?.unwrap_or(500.0);
                Fault::Errors {
                    rate,
                    status: status as u16,
                }
            }
            "bandwidth" => Fault::Bandwidth {
                bytes_per_s: number("bytes per second")?
                    .ok_or("bandwidth needs a value: bandwidth:BYTES_PER_S")?
                    as u64,
            },
            "flapping" => Fault::Flapping {
                period_ms: number("period ms")?
                    .ok_or("flapping needs a period: flapping:PERIOD_MS")?
                    as u64,
            },
            other => return Err(format!("unknown fault mode {other:?}")),
        };
        fault.validate()?;
        Ok(fault)
    }

    /// Whether the site refuses connections at this moment (`since_start` drives flapping).
    pub fn is_down(&self, since_start: Duration) -> bool {
        match self {
            Fault::Down => true,
            Fault::Flapping { period_ms } => {
                (since_start.as_millis() / u128::from(*period_ms)) % 2 == 1
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_parse() {
        assert_eq!(Fault::parse_flag("down"), Ok(Fault::Down));
        assert_eq!(
            Fault::parse_flag("latency:200:50"),
            Ok(Fault::Latency {
                ms: 200,
                jitter_ms: 50
            })
        );
        assert_eq!(
            Fault::parse_flag("errors:0.5:503"),
            Ok(Fault::Errors {
                rate: 0.5,
                status: 503
            })
        );
        assert!(Fault::parse_flag("errors:2").is_err());
        assert!(Fault::parse_flag("sideways").is_err());
        assert!(Fault::parse_flag("latency:x").is_err());
    }

    #[test]
    fn json_matches_the_contract() {
        let fault: Result<Fault, _> =
            serde_json::from_str(r#"{"mode":"latency","ms":100,"jitter_ms":10}"#);
        assert_eq!(
            fault.ok(),
            Some(Fault::Latency {
                ms: 100,
                jitter_ms: 10
            })
        );
        let fault: Result<Fault, _> =
            serde_json::from_str(r#"{"mode":"errors","rate":0.1,"status":503}"#);
        assert_eq!(
            fault.ok(),
            Some(Fault::Errors {
                rate: 0.1,
                status: 503
            })
        );
    }

    #[test]
    fn flapping_alternates() {
        let fault = Fault::Flapping { period_ms: 100 };
        assert!(!fault.is_down(Duration::from_millis(50)));
        assert!(fault.is_down(Duration::from_millis(150)));
        assert!(!fault.is_down(Duration::from_millis(250)));
    }
}
