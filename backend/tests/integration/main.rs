//! One integration-test binary: the real console and real simulated sites on loopback.

mod access;
mod aggregate;
mod api;
mod crash;
mod ctl;
mod demo;
mod deployments;
mod health;
mod helpers;
mod images;
mod jobs;
mod l1;
mod metrics;
mod placement;
mod prometheus;
mod registry;
mod security;
mod sim;
