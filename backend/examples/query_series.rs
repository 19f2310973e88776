//! Times `Metrics::series` in-process over a data dir that `seed_metrics` filled: the
//! store and the series code alone, without HTTP, the registry or a running fleet. For
//! the metrics benchmark (`bench/metrics.py` measures the same query over HTTP).
//!
//! Usage: cargo run --release --example query_series -- DATA_DIR NAMES_FILE [QUERIES] [NOW]
//!
//! Queries the 24 h before NOW (unix seconds, default now) of `used_vcpus` at step 60, summed over every named site, then
//! the same for the first site alone. Prints one JSON line.

use std::collections::BTreeMap;
use std::time::Instant;

use clap::Parser;
use overcast::app::Application;
use overcast::cli::{Cli, Command};
use overcast::config::Settings;
use overcast::metrics::{unix_now, SeriesQuery};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let [_, data_dir, names_file, rest @ ..] = args.as_slice() else {
        anyhow::bail!("usage: query_series DATA_DIR NAMES_FILE [QUERIES]");
    };
    let queries: usize = rest.first().map_or(Ok(30), |s| s.parse())?;
    // A fixed end lets two builds answer the very same query, to compare their figures.
    let now = rest.get(1).map_or(Ok(unix_now()), |s| s.parse())?;
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
    let metrics = app.state().metrics.clone();
    let query = SeriesQuery::new("used_vcpus", now - 86_400, now, 60, "sum")?;
    let fleet: BTreeMap<String, String> =
        names.iter().map(|n| (n.clone(), String::new())).collect();
    let one: BTreeMap<String, String> = fleet
        .iter()
        .take(1)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut report = serde_json::Map::new();
    for (name, sites) in [("fleet", &fleet), ("one_site", &one)] {
        let mut ms = Vec::with_capacity(queries);
        let (mut points_with_sites, mut value_sum) = (0, 0.0);
        for _ in 0..queries {
            let started = Instant::now();
            let series = metrics.series(&query, sites, now).await?;
            ms.push(started.elapsed().as_secs_f64() * 1000.0);
            let points = || series.series.iter().flat_map(|l| &l.points);
            points_with_sites = points().map(|p| p.sites).sum::<usize>();
            value_sum = points().filter_map(|p| p.value).sum::<f64>();
        }
        ms.sort_by(f64::total_cmp);
        let at = |q: f64| ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1];
        report.insert(
            name.into(),
            serde_json::json!({"sites": sites.len(), "queries": queries, "p50_ms": at(0.5),
                               "p99_ms": at(0.99), "site_points": points_with_sites,
                               "value_sum": value_sum}),
        );
    }
    println!("{}", serde_json::Value::Object(report));
    Ok(())
}
