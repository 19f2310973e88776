//! The federation engine: what the console knows and does about many sites at once.
//! It sits between the API and the per-site client layer, and never blocks on a site
//! it knows to be unreachable.

pub mod aggregate;
pub mod health;
pub mod inventory;
pub mod selection;
pub mod sessions;

pub use aggregate::{FanOut, SiteResult};
pub use health::{HealthConfig, HealthMonitor, SiteEvent};
pub use inventory::{Inventory, Kind};
pub use selection::{Selection, Selector};
pub use sessions::SessionPool;
