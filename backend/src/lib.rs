//! Overcast: one console for many independent OpenStack sites, through their public APIs only.
//!
//! Dependencies point one way: `api` (HTTP) → domain modules (`auth`, `sites`) →
//! `store` (persistence) and `openstack` (site clients). `sim` is a separate product: a
//! fleet of simulated OpenStack clouds that the console only ever reaches over HTTP.

pub mod api;
pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod ctl;
pub mod demo;
pub mod federation;
pub mod images;
pub mod instruments;
pub mod jobs;
pub mod metrics;
pub mod openstack;
pub mod placement;
pub mod resources;
pub mod secrets;
pub mod sim;
pub mod sites;
pub mod store;
pub mod telemetry;
