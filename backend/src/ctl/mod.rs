//! `overcast ctl`: the REST API from a shell, for scripts and bulk operations.
//!
//! Exit codes: 0 when every targeted site succeeded; 1 when some site failed, was
//! unreachable or was cancelled; 2 for a bad command line; 3 when the console refused
//! the request or could not be reached.

mod client;
mod output;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use overcast_api_types::jobs::{Job, JobList, Rollout, Targets};
use overcast_api_types::{Aggregate, ImportReport, LoginResponse, Site, SiteList};
use serde_json::{json, Value};

pub use client::{Client, CtlError};

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The console's URL.
    #[arg(
        long,
        env = "OVERCAST_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// A bearer token (from `overcast ctl login`, or an API token).
    #[arg(long, env = "OVERCAST_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// `table` for people, `json` for scripts.
    #[arg(long, value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Sign in and print a token: `export OVERCAST_TOKEN=$(overcast ctl login --username admin)`.
    Login {
        #[arg(long)]
        username: String,
        /// The password; read from OVERCAST_PASSWORD, else from standard input.
        #[arg(long, env = "OVERCAST_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Registered sites.
    #[command(subcommand)]
    Sites(SitesCommand),
    /// List a resource across sites: servers, images, flavors, networks, volumes, projects, users.
    List(ListArgs),
    /// Bulk operations.
    #[command(subcommand)]
    Job(JobCommand),
}

#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// Every site with its state (`--selector` to filter).
    List {
        #[arg(long)]
        selector: Option<String>,
    },
    Show {
        name: String,
    },
    /// Register every cloud of a clouds.yaml.
    Import {
        file: std::path::PathBuf,
        /// Labels for every imported site, `key=value,key2=value2`.
        #[arg(long)]
        labels: Option<String>,
        /// Replace sites that are already registered.
        #[arg(long)]
        replace: bool,
    },
    /// Remove a site from the console (the site itself is untouched).
    Remove {
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct SelectionArgs {
    /// Explicit sites, `a,b,c`.
    #[arg(long, conflicts_with_all = ["selector", "all"])]
    pub sites: Option<String>,
    /// A label selector, `region=eu,tier!=test`.
    #[arg(long, conflicts_with = "all")]
    pub selector: Option<String>,
    /// Every registered site.
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// One of servers, images, flavors, networks, volumes, projects, users.
    #[arg(value_parser = clap::builder::PossibleValuesParser::new(crate::federation::Kind::NAMES))]
    pub resource: String,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// Deadline for asking the sites.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Use cached data younger than this without asking the site.
    #[arg(long)]
    pub max_age_ms: Option<u64>,
    /// Only items whose name contains this.
    #[arg(long)]
    pub name: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum JobCommand {
    /// Start a job: `overcast ctl job create flavor.create --selector region=eu --param name=m1.edge --param vcpus=2 --wait`.
    Create(JobCreateArgs),
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    Show {
        id: String,
    },
    /// Wait for a job to finish, with a progress bar on a terminal.
    Wait {
        id: String,
    },
    Cancel {
        id: String,
    },
    /// Run the failed and cancelled tasks again.
    Retry {
        id: String,
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Args)]
pub struct JobCreateArgs {
    /// flavor.create, flavor.delete, project.create, user.create, quota.set, keypair.create,
    /// network.create, servers.delete.
    pub kind: String,
    #[command(flatten)]
    pub selection: SelectionArgs,
    /// A parameter, `key=value`; a value that reads as JSON (a number, true, [..]) is taken as JSON.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// All parameters as one JSON object (merged under the `--param`s).
    #[arg(long)]
    pub params_json: Option<String>,
    #[arg(long)]
    pub max_parallel: Option<u32>,
    /// Failed sites tolerated before the rollout stops.
    #[arg(long)]
    pub max_failures: Option<u32>,
    #[arg(long)]
    pub max_failure_percent: Option<u8>,
    /// Sites that go first, `a,b`.
    #[arg(long)]
    pub canary: Option<String>,
    #[arg(long)]
    pub canary_count: Option<u32>,
    /// How long tasks of unreachable sites wait, in seconds.
    #[arg(long)]
    pub ttl_s: Option<u64>,
    /// Wait for the job to finish; the exit code then says whether every site succeeded.
    #[arg(long)]
    pub wait: bool,
}

/// What a command's outcome means for the exit code.
enum Verdict {
    Success,
    SomeSitesFailed,
}

pub async fn run(args: CtlArgs) -> ExitCode {
    let client = Client::new(&args.url, args.token.clone());
    match dispatch(&client, &args).await {
        Ok(Verdict::Success) => ExitCode::SUCCESS,
        Ok(Verdict::SomeSitesFailed) => ExitCode::from(1),
        Err(error) => {
            match args.output {
                Output::Json => println!("{}", json!({"error": error.to_string()})),
                Output::Table => eprintln!("overcast ctl: {error}"),
            }
            match error {
                CtlError::Usage(_) => ExitCode::from(2),
                _ => ExitCode::from(3),
            }
        }
    }
}

async fn dispatch(client: &Client, args: &CtlArgs) -> Result<Verdict, CtlError> {
    let out = args.output;
    match &args.command {
        CtlCommand::Login { username, password } => {
            let password = match password {
                Some(p) => p.clone(),
                None => read_password()?,
            };
            let login: LoginResponse = client
                .post(
                    "/api/v1/auth/login",
                    &json!({"username": username, "password": password}),
                )
                .await?;
            match out {
                Output::Json => output::json(&login),
                Output::Table => println!("{}", login.access_token),
            }
            Ok(Verdict::Success)
        }
        CtlCommand::Sites(command) => sites(client, command, out).await,
        CtlCommand::List(list) => {
            let mut query = selection_query(&list.selection)?;
            for (key, value) in [
                ("timeout_ms", list.timeout_ms),
                ("max_age_ms", list.max_age_ms),
            ] {
                if let Some(value) = value {
                    query.push((key, value.to_string()));
                }
            }
            if let Some(name) = &list.name {
                query.push(("name", name.clone()));
            }
            let answer: Aggregate = client
                .get_query(&format!("/api/v1/{}", list.resource), &query)
                .await?;
            match out {
                Output::Json => output::json(&answer),
                Output::Table => output::aggregate(&answer),
            }
            let all_ok = answer.sites.values().all(|a| a.status.is_complete());
            Ok(if all_ok {
                Verdict::Success
            } else {
                Verdict::SomeSitesFailed
            })
        }
        CtlCommand::Job(command) => jobs(client, command, out).await,
    }
}

fn read_password() -> Result<String, CtlError> {
    if std::io::stdin().is_terminal() {
        eprint!("password: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CtlError::Usage(format!("cannot read the password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn sites(client: &Client, command: &SitesCommand, out: Output) -> Result<Verdict, CtlError> {
    match command {
        SitesCommand::List { selector } => {
            let mut list: SiteList = client.get("/api/v1/sites").await?;
            if let Some(text) = selector {
                let selector = crate::federation::Selector::parse(text).map_err(CtlError::Usage)?;
                list.items.retain(|s| selector.matches(&s.labels));
            }
            match out {
                Output::Json => output::json(&list),
                Output::Table => output::sites(&list.items),
            }
        }
        SitesCommand::Show { name } => {
            let site: Site = client.get(&format!("/api/v1/sites/{name}")).await?;
            match out {
                Output::Json => output::json(&site),
                Output::Table => output::sites(std::slice::from_ref(&site)),
            }
        }
        SitesCommand::Import {
            file,
            labels,
            replace,
        } => {
            let yaml = std::fs::read_to_string(file)
                .map_err(|e| CtlError::Usage(format!("cannot read {}: {e}", file.display())))?;
            // CA files named in the clouds.yaml are on this machine: send their content.
            let yaml = crate::sites::clouds_yaml::inline_ca_files(&yaml, |path| {
                std::fs::read_to_string(path).map_err(|e| e.to_string())
            })
            .map_err(CtlError::Usage)?;
            let mut query = Vec::new();
            if let Some(labels) = labels {
                query.push(("labels", labels.clone()));
            }
            if *replace {
                query.push(("replace", "true".to_owned()));
            }
            let report: ImportReport = client
                .post_yaml("/api/v1/sites/import", &query, yaml)
                .await?;
            match out {
                Output::Json => output::json(&report),
                Output::Table => output::import(&report),
            }
            if !report.failed.is_empty() {
                return Ok(Verdict::SomeSitesFailed);
            }
        }
        SitesCommand::Remove { name } => {
            client.delete(&format!("/api/v1/sites/{name}")).await?;
            match out {
                Output::Json => output::json(&json!({"removed": name})),
                Output::Table => println!("removed {name}"),
            }
        }
    }
    Ok(Verdict::Success)
}

async fn jobs(client: &Client, command: &JobCommand, out: Output) -> Result<Verdict, CtlError> {
    match command {
        JobCommand::Create(create) => {
            let body = job_body(create)?;
            let job: Job = client.post("/api/v1/jobs", &body).await?;
            if create.wait {
                return wait(client, &job.id, out).await;
            }
            match out {
                Output::Json => output::json(&job),
                Output::Table => println!("{}", job.id),
            }
            Ok(Verdict::Success)
        }
        JobCommand::List { state, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(state) = state {
                query.push(("state", state.clone()));
            }
            let list: JobList = client.get_query("/api/v1/jobs", &query).await?;
            match out {
                Output::Json => output::json(&list),
                Output::Table => output::job_list(&list.items),
            }
            Ok(Verdict::Success)
        }
        JobCommand::Show { id } => {
            let job: Job = client.get(&format!("/api/v1/jobs/{id}")).await?;
            match out {
                Output::Json => output::json(&job),
                Output::Table => output::job(&job),
            }
            Ok(verdict(&job))
        }
        JobCommand::Wait { id } => wait(client, id, out).await,
        JobCommand::Cancel { id } => {
            let job: Job = client
                .post(&format!("/api/v1/jobs/{id}/cancel"), &json!({}))
                .await?;
            match out {
                Output::Json => output::json(&job),
                Output::Table => output::job(&job),
            }
            Ok(Verdict::Success)
        }
        JobCommand::Retry {
            id,
            wait: then_wait,
        } => {
            let job: Job = client
                .post(&format!("/api/v1/jobs/{id}/retry"), &json!({}))
                .await?;
            if *then_wait {
                return wait(client, &job.id, out).await;
            }
            match out {
                Output::Json => output::json(&job),
                Output::Table => println!("{}", job.id),
            }
            Ok(Verdict::Success)
        }
    }
}

fn verdict(job: &Job) -> Verdict {
    if job.counts.succeeded == job.counts.total {
        Verdict::Success
    } else {
        Verdict::SomeSitesFailed
    }
}

/// Polls the job until it is finished, drawing progress on a terminal.
async fn wait(client: &Client, id: &str, out: Output) -> Result<Verdict, CtlError> {
    let draw = out == Output::Table && std::io::stderr().is_terminal();
    let path = format!("/api/v1/jobs/{id}");
    loop {
        let job: Job = client.get(&path).await?;
        if draw {
            output::progress(&job);
        }
        if job.state.is_finished() {
            if draw {
                eprintln!();
            }
            match out {
                Output::Json => output::json(&job),
                Output::Table => output::job(&job),
            }
            return Ok(verdict(&job));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn selection_query(selection: &SelectionArgs) -> Result<Vec<(&'static str, String)>, CtlError> {
    Ok(match (&selection.sites, &selection.selector) {
        (Some(sites), _) => vec![("sites", sites.clone())],
        (None, Some(selector)) => vec![("selector", selector.clone())],
        (None, None) => Vec::new(),
    })
}

fn targets(selection: &SelectionArgs) -> Result<Targets, CtlError> {
    match (&selection.sites, &selection.selector, selection.all) {
        (Some(sites), None, false) => Ok(Targets {
            sites: Some(split_list(sites)),
            ..Targets::default()
        }),
        (None, Some(selector), false) => Ok(Targets {
            selector: Some(selector.clone()),
            ..Targets::default()
        }),
        (None, None, true) => Ok(Targets {
            all: Some(true),
            ..Targets::default()
        }),
        _ => Err(CtlError::Usage(
            "say which sites: --sites a,b, --selector key=value, or --all".into(),
        )),
    }
}

fn split_list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// `key=value` with the value as JSON when it reads as JSON (`2`, `true`, `["a"]`), else
/// as a string; dotted keys nest (`compute.cores=40`).
fn parse_params(json_text: Option<&str>, pairs: &[String]) -> Result<Value, CtlError> {
    let mut params = match json_text {
        Some(text) => serde_json::from_str::<Value>(text)
            .map_err(|e| CtlError::Usage(format!("--params-json is not JSON: {e}")))?,
        None => json!({}),
    };
    if !params.is_object() {
        return Err(CtlError::Usage(
            "--params-json must be a JSON object".into(),
        ));
    }
    for pair in pairs {
        let (key, raw) = pair
            .split_once('=')
            .ok_or_else(|| CtlError::Usage(format!("--param {pair:?} is not key=value")))?;
        let value = serde_json::from_str::<Value>(raw)
            .ok()
            .filter(|v| !v.is_string())
            .unwrap_or_else(|| Value::String(raw.to_owned()));
        let mut slot = &mut params;
        let parts: Vec<&str> = key.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            if part.is_empty() {
                return Err(CtlError::Usage(format!(
                    "--param {pair:?} has an empty key"
                )));
            }
            let Value::Object(map) = slot else {
                return Err(CtlError::Usage(format!(
                    "--param {pair:?} nests under a value"
                )));
            };
            if i + 1 == parts.len() {
                map.insert((*part).to_owned(), value.clone());
                break;
            }
            slot = map.entry((*part).to_owned()).or_insert_with(|| json!({}));
        }
    }
    Ok(params)
}

fn job_body(create: &JobCreateArgs) -> Result<Value, CtlError> {
    let rollout = Rollout {
        max_parallel: create.max_parallel,
        max_failures: create.max_failures,
        max_failure_percent: create.max_failure_percent,
        canary: create.canary.as_deref().map(split_list).unwrap_or_default(),
        canary_count: create.canary_count,
    };
    let mut body = json!({
        "kind": create.kind,
        "targets": targets(&create.selection)?,
        "params": parse_params(create.params_json.as_deref(), &create.params)?,
        "rollout": rollout,
    });
    if let Some(ttl) = create.ttl_s {
        body["ttl_s"] = json!(ttl);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_read_numbers_as_numbers_and_the_rest_as_text() {
        let params = parse_params(
            None,
            &[
                "name=m1.edge".into(),
                "vcpus=2".into(),
                "compute.cores=40".into(),
                "note=two words".into(),
            ],
        );
        assert_eq!(
            params.ok(),
            Some(
                json!({"name": "m1.edge", "vcpus": 2, "compute": {"cores": 40}, "note": "two words"})
            )
        );
        assert!(parse_params(None, &["novalue".into()]).is_err());
        assert!(parse_params(Some("[1]"), &[]).is_err());
        let merged = parse_params(Some(r#"{"name": "a", "ram_mb": 1}"#), &["name=b".into()]);
        assert_eq!(merged.ok(), Some(json!({"name": "b", "ram_mb": 1})));
    }

    #[test]
    fn a_job_needs_exactly_one_kind_of_target() {
        let none = SelectionArgs {
            sites: None,
            selector: None,
            all: false,
        };
        assert!(targets(&none).is_err());
        let sites = SelectionArgs {
            sites: Some("a, b".into()),
            selector: None,
            all: false,
        };
        assert_eq!(
            targets(&sites).ok().and_then(|t| t.sites),
            Some(vec!["a".into(), "b".into()])
        );
    }
}
