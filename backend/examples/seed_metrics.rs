//! Seeds a console's database with `HOURS` of collected figures for the sites named in
//! `NAMES_FILE`, one sample per site every `INTERVAL_S` seconds up to now, then rolls them
//! up with the console's own maintenance pass. For the metrics benchmark
//! (`bench/metrics.py`): a series query over 24 h needs 24 h of history.
//!
//! Usage: cargo run --release --example seed_metrics -- DATA_DIR NAMES_FILE HOURS [INTERVAL_S]
//!
//! The database is opened exactly as `overcast serve --data-dir DATA_DIR` opens it (same
//! migrations, same store, same rollup code); every figure of every sample is measured
//! (no NaN), the largest a site's history can be. Prints one JSON line.

use std::time::Instant;

use clap::Parser;
use overcast::app::Application;
use overcast::cli::{Cli, Command};
use overcast::config::Settings;
use overcast::metrics::unix_now;
use overcast::metrics::values::{Values, METRICS};
use overcast::store::SampleRow;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data_dir, names_file, hours, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: seed_metrics DATA_DIR NAMES_FILE HOURS [INTERVAL_S]");
    };
    let hours: i64 = hours.parse()?;
    let interval: i64 = rest.first().map_or(Ok(60), |s| s.parse())?;
    let names: Vec<String> = std::fs::read_to_string(names_file)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let cli = Cli::parse_from([
        "overcast",
        "serve",
        "--data-dir",
        data_dir,
        "--listen",
        "127.0.0.1:0",
    ]);
    let Command::Serve(serve) = cli.command else {
        anyhow::bail!("not a serve command");
    };
    let app = Application::build(Settings::load(&serve)?).await?;
    let state = app.state();

    let now = unix_now();
    let first = (now - hours * 3600).div_euclid(interval) * interval;
    let started = Instant::now();
    let mut rows = 0u64;
    for (round, ts) in (first..now).step_by(interval as usize).enumerate() {
        let samples: Vec<SampleRow> = names
            .iter()
            .enumerate()
            .map(|(n, site)| SampleRow {
                site: site.clone(),
                ts,
                vals: figures(n, round).encode(),
            })
            .collect();
        state.store.insert_round(&samples, &[]).await?;
        rows += samples.len() as u64;
    }
    let seeded_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    state.metrics.maintain(now).await?;
    let rolled_s = started.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"sites": names.len(), "hours": hours, "interval_s": interval,
                           "samples": rows, "seed_s": seeded_s, "rollup_s": rolled_s})
    );
    Ok(())
}

/// Plausible figures of site `n` at collection `round`: every metric measured, the
/// usage moving a little from round to round.
fn figures(n: usize, round: usize) -> Values {
    let mut values = Values::default();
    let wobble = ((n * 7 + round) % 13) as f64;
    for (at, metric) in METRICS.iter().enumerate() {
        values.set(metric, 1000.0 + (n % 50) as f64 * 10.0 + at as f64 + wobble);
    }
    values.set("site_up", 1.0);
    values
}
