//! The federation engine: what the console knows and does about many sites at once.
//! It sits between the API and the per-site client layer, and never blocks on a site
//! it knows to be unreachable.

pub mod health;
pub mod sessions;

pub use health::{HealthConfig, HealthMonitor, SiteEvent};
pub use sessions::SessionPool;
