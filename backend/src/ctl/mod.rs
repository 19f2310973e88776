//! `overcast ctl`: the REST API from a shell, for scripts and bulk operations.
//!
//! Exit codes: 0 when every targeted site succeeded; 1 when some site failed, was
//! unreachable or was cancelled; 2 for a bad command line; 3 when the console refused
//! the request or could not be reached.

mod client;
mod output;

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use overcast_api_types::jobs::{Job, JobList, Rollout, Targets};
use overcast_api_types::{
    Aggregate, ImportReport, LoginResponse, NewSite, Site, SiteCredentials, SiteList,
};
use serde::Serialize;
use serde_json::{json, Value};
use time::OffsetDateTime;

use output::{Style, Times};

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
    /// `table` for people (times in UTC to the second), `wide` for more columns and
    /// relative times, `json` for scripts (the API's answer untouched).
    #[arg(long, value_enum, default_value_t = Output::Table, global = true)]
    pub output: Output,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Aligned columns, times as `2026-12-01T18:13:20Z`.
    Table,
    /// More columns, times as `3 min ago`.
    Wide,
    /// The API's JSON, as it answered.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Sign in and print a token: `export OVERCAST_TOKEN=$(overcast ctl login --username admin)`.
    Login {
        /// The console user to sign in as.
        #[arg(long)]
        username: String,
        /// The password; read from OVERCAST_PASSWORD, else from standard input.
        #[arg(long, env = "OVERCAST_PASSWORD", hide_env_values = true)]
        password: Option<String>,
    },
    /// Registered sites: list, show, add, label, import, remove.
    #[command(subcommand)]
    Sites(SitesCommand),
    /// List a resource across sites: servers, images, flavors, networks, volumes, projects, users.
    List(ListArgs),
    /// Bulk operations: one task per site, with rollout limits.
    #[command(subcommand)]
    Job(JobCommand),
    /// Images across sites: the catalog by content, and verified copies.
    #[command(subcommand)]
    Image(ImageCommand),
}

#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Every site's images, one line per content (sha512), with the sites holding it.
    Catalog {
        /// Only images whose name contains this.
        #[arg(long)]
        name: Option<String>,
    },
    /// Copy one site's image to other sites: `overcast ctl image copy --from site-002
    /// --image 6f1c… --selector region=eu --wait`.
    Copy {
        /// The site that holds the image.
        #[arg(long, value_parser = parse_site_name)]
        from: String,
        /// The image's id on that site.
        #[arg(long)]
        image: String,
        #[command(flatten)]
        targets: SelectionArgs,
        /// Wait, showing each target's bytes; the exit code then says whether every
        /// target holds a verified copy.
        #[arg(long)]
        wait: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum SitesCommand {
    /// Every site with its state (`--selector` to filter).
    List {
        /// Only sites whose labels match, `region=eu,tier!=test`.
        #[arg(long)]
        selector: Option<String>,
    },
    /// Everything the console knows of one site: state and its reason, labels, services.
    Show {
        /// The site's name.
        #[arg(value_parser = parse_site_name)]
        name: String,
    },
    /// Register one site: `overcast ctl sites add edge-7 --auth-url https://… --username admin
    /// --password-stdin --project admin --label region=eu`.
    Add(Box<SiteAddArgs>),
    /// Set or remove labels: `overcast ctl sites label edge-7 tier=prod region-`
    /// (`key=value` sets, `key-` removes).
    Label {
        /// The site's name.
        #[arg(value_parser = parse_site_name)]
        name: String,
        /// `key=value` to set a label, `key-` to remove one.
        #[arg(required = true, value_name = "KEY=VALUE|KEY-", value_parser = parse_label_edit)]
        edits: Vec<LabelEdit>,
    },
    /// Register every cloud of a clouds.yaml.
    Import {
        /// The clouds.yaml to read (CA files it names are read here and sent inline).
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
        /// The site's name.
        #[arg(value_parser = parse_site_name)]
        name: String,
    },
}

/// `sites add`: what `POST /api/v1/sites` takes, as flags.
#[derive(Debug, Args)]
#[command(group(
    clap::ArgGroup::new("credentials")
        .args(["username", "app_credential_id"])
        .required(true)
))]
pub struct SiteAddArgs {
    /// The site's name in the console: 1-63 characters of a-z, 0-9, '-', '_', '.'.
    #[arg(value_parser = parse_site_name)]
    pub name: String,
    /// The site's Keystone v3 URL, e.g. `https://keystone.edge-7.example:5000/v3`.
    #[arg(long, value_parser = parse_auth_url)]
    pub auth_url: String,
    /// The region of the site's catalog to use (its only region when unset).
    #[arg(long)]
    pub region: Option<String>,
    /// Which catalog endpoints the console calls [default: public].
    #[arg(long, value_parser = ["public", "internal", "admin"])]
    pub interface: Option<String>,
    /// The Keystone user the console signs in as (with a password and --project).
    #[arg(long, requires = "project")]
    pub username: Option<String>,
    /// That user's password. Other local users can read it in the process list: prefer
    /// --password-stdin.
    #[arg(long, conflicts_with = "password_stdin")]
    pub password: Option<String>,
    /// Read the password (or the application credential's secret) from the first line
    /// of standard input.
    #[arg(long)]
    pub password_stdin: bool,
    /// The project the console's token is scoped to.
    #[arg(long)]
    pub project: Option<String>,
    /// The user's domain.
    #[arg(long, default_value = "Default")]
    pub user_domain: String,
    /// The project's domain.
    #[arg(long, default_value = "Default")]
    pub project_domain: String,
    /// An application credential's id, instead of a username and password.
    #[arg(long, conflicts_with_all = ["username", "password", "project"])]
    pub app_credential_id: Option<String>,
    /// The application credential's secret (or --password-stdin).
    #[arg(
        long,
        requires = "app_credential_id",
        conflicts_with = "password_stdin"
    )]
    pub app_credential_secret: Option<String>,
    /// A label, `key=value` (repeatable).
    #[arg(long = "label", value_name = "KEY=VALUE", value_parser = parse_label)]
    pub labels: Vec<(String, String)>,
    /// Do not check the site's TLS certificate (test sites only).
    #[arg(long, conflicts_with = "ca_bundle")]
    pub insecure: bool,
    /// A PEM file of the CAs that sign the site's certificates; its content is sent.
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<std::path::PathBuf>,
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
    /// Deadline for asking the sites, in milliseconds [default: the console's, 2000].
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Use cached data younger than this (milliseconds) without asking the site.
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
    /// The latest jobs, newest first.
    List {
        /// Only jobs in this state: pending, running, succeeded, partially_failed, failed, cancelled.
        #[arg(long)]
        state: Option<String>,
        /// At most this many jobs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
    },
    /// One job with every site's task.
    Show {
        /// The job's id.
        id: String,
    },
    /// Wait for a job to finish, with a progress bar on a terminal.
    Wait {
        /// The job's id.
        id: String,
    },
    /// Stop a job: tasks not yet started are cancelled, running ones finish their attempt.
    Cancel {
        /// The job's id.
        id: String,
    },
    /// Run the failed and cancelled tasks again.
    Retry {
        /// The job's id.
        id: String,
        /// Wait for the job to finish; the exit code then says whether every site succeeded.
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
    /// Sites worked on at the same time [default: the console's, 50].
    #[arg(long)]
    pub max_parallel: Option<u32>,
    /// Failed sites tolerated before the rollout stops.
    #[arg(long)]
    pub max_failures: Option<u32>,
    /// Failed sites tolerated before the rollout stops, as a percentage of the targets.
    #[arg(long)]
    pub max_failure_percent: Option<u8>,
    /// Sites that go first, `a,b`.
    #[arg(long)]
    pub canary: Option<String>,
    /// How many sites go first: the first N targets by name (instead of --canary).
    #[arg(long)]
    pub canary_count: Option<u32>,
    /// How long tasks of unreachable sites wait, in seconds.
    #[arg(long)]
    pub ttl_s: Option<u64>,
    /// Wait for the job to finish; the exit code then says whether every site succeeded.
    #[arg(long)]
    pub wait: bool,
}

/// One change of `sites label`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelEdit {
    Set(String, String),
    Remove(String),
}

/// `key=value` into a label, checked as the console checks it, so a bad label is a bad
/// command line (exit 2) rather than a refusal by the console.
fn parse_label(text: &str) -> Result<(String, String), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not key=value"))?;
    crate::sites::validate_label(key, value)?;
    Ok((key.to_owned(), value.to_owned()))
}

/// `key=value` (set) or `key-` (remove), as kubectl takes them.
fn parse_label_edit(text: &str) -> Result<LabelEdit, String> {
    if text.contains('=') {
        let (key, value) = parse_label(text)?;
        return Ok(LabelEdit::Set(key, value));
    }
    match text.strip_suffix('-') {
        Some(key) if !key.is_empty() => Ok(LabelEdit::Remove(key.to_owned())),
        _ => Err(format!(
            "{text:?} is neither key=value (set a label) nor key- (remove one)"
        )),
    }
}

fn parse_site_name(text: &str) -> Result<String, String> {
    crate::sites::SiteName::parse(text).map(|name| name.as_str().to_owned())
}

fn parse_auth_url(text: &str) -> Result<String, String> {
    crate::sites::validate_auth_url(text)?;
    Ok(text.to_owned())
}

/// What a command's outcome means for the exit code.
enum Verdict {
    Success,
    SomeSitesFailed,
}

/// Where a command's answer goes: the API's JSON for scripts, text for people.
#[derive(Clone, Copy)]
struct Show {
    output: Output,
    style: Style,
}

impl Show {
    /// Reads the clock once, here at the edge, so that every formatter below is given
    /// the time rather than reading it (and can be tested with a fixed one).
    fn new(output: Output, now: OffsetDateTime) -> Show {
        let times = match output {
            Output::Wide => Times::Relative { now },
            Output::Table | Output::Json => Times::Absolute,
        };
        Show {
            output,
            style: Style {
                times,
                wide: output == Output::Wide,
            },
        }
    }

    fn json(&self) -> bool {
        self.output == Output::Json
    }

    fn answer<T: Serialize>(&self, value: &T, text: impl FnOnce(&T, Style) -> String) {
        if self.json() {
            output::json(value);
        } else {
            output::print(&text(value, self.style));
        }
    }
}

pub async fn run(args: CtlArgs) -> ExitCode {
    let client = Client::new(&args.url, args.token.clone());
    let show = Show::new(args.output, OffsetDateTime::now_utc());
    match dispatch(&client, &args.command, show).await {
        Ok(Verdict::Success) => ExitCode::SUCCESS,
        Ok(Verdict::SomeSitesFailed) => ExitCode::from(1),
        Err(error) => {
            if show.json() {
                println!("{}", json!({"error": error.to_string()}));
            } else {
                eprintln!("overcast ctl: {error}");
            }
            match error {
                CtlError::Usage(_) => ExitCode::from(2),
                _ => ExitCode::from(3),
            }
        }
    }
}

async fn dispatch(client: &Client, command: &CtlCommand, show: Show) -> Result<Verdict, CtlError> {
    match command {
        CtlCommand::Login { username, password } => {
            let password = match password {
                Some(p) => p.clone(),
                None => read_secret("password")?,
            };
            let login: LoginResponse = client
                .login(&json!({"username": username, "password": password}))
                .await?;
            show.answer(&login, |login, _| format!("{}\n", login.access_token));
            Ok(Verdict::Success)
        }
        CtlCommand::Sites(command) => sites(client, command, show).await,
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
            show.answer(&answer, |answer, _| output::aggregate(answer));
            if !show.json() {
                // Standard error, so that standard output stays the table.
                eprint!("{}", output::aggregate_summary(&answer, show.style.times));
            }
            let all_ok = answer.sites.values().all(|a| a.status.is_complete());
            Ok(if all_ok {
                Verdict::Success
            } else {
                Verdict::SomeSitesFailed
            })
        }
        CtlCommand::Job(command) => jobs(client, command, show).await,
        CtlCommand::Image(command) => images(client, command, show).await,
    }
}

async fn images(client: &Client, command: &ImageCommand, show: Show) -> Result<Verdict, CtlError> {
    match command {
        ImageCommand::Catalog { name } => {
            let query: Vec<(&str, String)> = name.iter().map(|n| ("name", n.clone())).collect();
            let catalog: overcast_api_types::images::ImageCatalog =
                client.get_query("/api/v1/images/catalog", &query).await?;
            show.answer(&catalog, output::catalog);
            Ok(Verdict::Success)
        }
        ImageCommand::Copy {
            from,
            image,
            targets: selection,
            wait: wait_for_it,
        } => {
            let body = json!({
                "source": {"site": from, "image_id": image},
                "targets": targets(selection)?,
            });
            let job: Job = client.post("/api/v1/images/copy", &body).await?;
            if *wait_for_it {
                return wait(client, &job.id, show).await;
            }
            show.answer(&job, |job: &Job, _: output::Style| format!("{}\n", job.id));
            Ok(Verdict::Success)
        }
    }
}

/// A secret from standard input (prompted for on a terminal), so it is not on the
/// command line where other local users can read it.
fn read_secret(what: &str) -> Result<String, CtlError> {
    if std::io::stdin().is_terminal() {
        eprint!("{what}: ");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| CtlError::Usage(format!("cannot read the {what}: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

async fn sites(client: &Client, command: &SitesCommand, show: Show) -> Result<Verdict, CtlError> {
    match command {
        SitesCommand::List { selector } => {
            let mut list: SiteList = client.get("/api/v1/sites").await?;
            if let Some(text) = selector {
                let selector = crate::federation::Selector::parse(text).map_err(CtlError::Usage)?;
                list.items.retain(|s| selector.matches(&s.labels));
            }
            show.answer(&list, |list, style| output::sites(&list.items, style));
        }
        SitesCommand::Show { name } => {
            let site: Site = client.get(&format!("/api/v1/sites/{name}")).await?;
            show.answer(&site, output::site);
        }
        SitesCommand::Add(add) => {
            let new = new_site(add, read_secret)?;
            let site: Site = client.post("/api/v1/sites", &new).await?;
            show.answer(&site, output::site);
        }
        SitesCommand::Label { name, edits } => {
            let path = format!("/api/v1/sites/{name}");
            let site: Site = client.get(&path).await?;
            let mut labels = site.labels.clone();
            for note in apply_label_edits(&mut labels, edits) {
                eprintln!("overcast ctl: {note}");
            }
            // PATCH replaces the labels whole: read, change, write back. Two people
            // labelling one site at the same instant can lose one change; the console
            // has no conditional update yet.
            let site: Site = if labels == site.labels {
                site
            } else {
                client.patch(&path, &json!({ "labels": labels })).await?
            };
            show.answer(&site, |site, _| output::labels(site));
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
            show.answer(&report, |report, _| output::import(report));
            if !report.failed.is_empty() {
                return Ok(Verdict::SomeSitesFailed);
            }
        }
        SitesCommand::Remove { name } => {
            client.delete(&format!("/api/v1/sites/{name}")).await?;
            show.answer(&json!({"removed": name}), |_, _| {
                format!("removed {name}\n")
            });
        }
    }
    Ok(Verdict::Success)
}

/// The registration `sites add` sends; `read_secret` is asked for a secret only when
/// `--password-stdin` says it comes from standard input.
fn new_site(
    add: &SiteAddArgs,
    read_secret: impl FnOnce(&str) -> Result<String, CtlError>,
) -> Result<NewSite, CtlError> {
    let credentials = match (&add.username, &add.app_credential_id) {
        (Some(username), None) => {
            let password = match (&add.password, add.password_stdin) {
                (_, true) => read_secret("password")?,
                (Some(password), false) => password.clone(),
                (None, false) => {
                    return Err(CtlError::Usage(
                        "--username needs a password: --password-stdin (or --password)".into(),
                    ))
                }
            };
            // `requires = "project"` makes clap refuse a missing project first.
            let project_name = add.project.clone().ok_or_else(|| {
                CtlError::Usage("--username needs --project, the project to sign in to".into())
            })?;
            SiteCredentials::Password {
                username: username.clone(),
                password,
                project_name,
                user_domain_name: add.user_domain.clone(),
                project_domain_name: add.project_domain.clone(),
            }
        }
        (None, Some(id)) => {
            let secret = match (&add.app_credential_secret, add.password_stdin) {
                (_, true) => read_secret("application credential secret")?,
                (Some(secret), false) => secret.clone(),
                (None, false) => return Err(CtlError::Usage(
                    "--app-credential-id needs its secret: --password-stdin (or --app-credential-secret)"
                        .into(),
                )),
            };
            SiteCredentials::ApplicationCredential {
                id: id.clone(),
                secret,
            }
        }
        // clap's `credentials` group lets exactly one through; this is its message.
        _ => {
            return Err(CtlError::Usage(
                "say how the console signs in to the site: --username with --project and a \
                 password, or --app-credential-id"
                    .into(),
            ))
        }
    };
    let ca_bundle = match &add.ca_bundle {
        Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
            CtlError::Usage(format!("cannot read --ca-bundle {}: {e}", path.display()))
        })?),
        None => None,
    };
    Ok(NewSite {
        name: add.name.clone(),
        auth_url: add.auth_url.clone(),
        region: add.region.clone(),
        interface: add.interface.clone(),
        labels: add.labels.iter().cloned().collect(),
        credentials,
        insecure: add.insecure,
        ca_bundle,
    })
}

/// Applies `sites label` edits in order; returns notes on edits that changed nothing.
fn apply_label_edits(labels: &mut BTreeMap<String, String>, edits: &[LabelEdit]) -> Vec<String> {
    let mut notes = Vec::new();
    for edit in edits {
        match edit {
            LabelEdit::Set(key, value) => {
                labels.insert(key.clone(), value.clone());
            }
            LabelEdit::Remove(key) => {
                if labels.remove(key).is_none() {
                    notes.push(format!("label {key} was not set"));
                }
            }
        }
    }
    notes
}

async fn jobs(client: &Client, command: &JobCommand, show: Show) -> Result<Verdict, CtlError> {
    let id_only = |job: &Job, _: Style| format!("{}\n", job.id);
    match command {
        JobCommand::Create(create) => {
            let body = job_body(create)?;
            let job: Job = client.post("/api/v1/jobs", &body).await?;
            if create.wait {
                return wait(client, &job.id, show).await;
            }
            show.answer(&job, id_only);
            Ok(Verdict::Success)
        }
        JobCommand::List { state, limit } => {
            let mut query = vec![("limit", limit.to_string())];
            if let Some(state) = state {
                query.push(("state", state.clone()));
            }
            let list: JobList = client.get_query("/api/v1/jobs", &query).await?;
            show.answer(&list, |list, style| output::job_list(&list.items, style));
            Ok(Verdict::Success)
        }
        JobCommand::Show { id } => {
            let job: Job = client.get(&format!("/api/v1/jobs/{id}")).await?;
            show.answer(&job, output::job);
            Ok(verdict(&job))
        }
        JobCommand::Wait { id } => wait(client, id, show).await,
        JobCommand::Cancel { id } => {
            let job: Job = client
                .post(&format!("/api/v1/jobs/{id}/cancel"), &json!({}))
                .await?;
            show.answer(&job, output::job);
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
                return wait(client, &job.id, show).await;
            }
            show.answer(&job, id_only);
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
async fn wait(client: &Client, id: &str, show: Show) -> Result<Verdict, CtlError> {
    let draw = !show.json() && std::io::stderr().is_terminal();
    let path = format!("/api/v1/jobs/{id}");
    let mut drawn = 0;
    loop {
        let job: Job = client.get(&path).await?;
        if draw {
            drawn = output::progress(&job, drawn);
        }
        if job.state.is_finished() {
            if draw {
                eprintln!();
            }
            show.answer(&job, output::job);
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
    fn label_edits_set_with_key_value_and_remove_with_key_dash() {
        assert_eq!(
            parse_label_edit("tier=prod"),
            Ok(LabelEdit::Set("tier".into(), "prod".into()))
        );
        assert_eq!(
            parse_label_edit("region-"),
            Ok(LabelEdit::Remove("region".into()))
        );
        for bad in ["tier", "-", "=prod", "tier=", "ti er=x", "tier=a,b"] {
            assert!(parse_label_edit(bad).is_err(), "{bad}");
        }
        let mut labels = BTreeMap::from([
            ("region".to_owned(), "eu".to_owned()),
            ("tier".to_owned(), "edge".to_owned()),
        ]);
        let notes = apply_label_edits(
            &mut labels,
            &[
                LabelEdit::Set("tier".into(), "prod".into()),
                LabelEdit::Remove("region".into()),
                LabelEdit::Remove("owner".into()),
                LabelEdit::Set("owner".into(), "ops".into()),
            ],
        );
        assert_eq!(
            labels,
            BTreeMap::from([
                ("owner".to_owned(), "ops".to_owned()),
                ("tier".to_owned(), "prod".to_owned()),
            ])
        );
        assert_eq!(notes, vec!["label owner was not set".to_owned()]);
    }

    /// `sites add`'s flags alone, parsed as clap parses them.
    #[derive(Debug, clap::Parser)]
    struct AddOnly {
        #[command(flatten)]
        add: SiteAddArgs,
    }

    fn parse_add<'a>(args: impl IntoIterator<Item = &'a str>) -> Result<SiteAddArgs, String> {
        use clap::Parser;
        AddOnly::try_parse_from(std::iter::once("add").chain(args))
            .map(|parsed| parsed.add)
            .map_err(|e| e.to_string())
    }

    fn add_args(extra: &[&str]) -> Result<SiteAddArgs, String> {
        let base = ["edge-7", "--auth-url", "https://keystone.example/v3"];
        parse_add(base.into_iter().chain(extra.iter().copied()))
    }

    #[test]
    fn sites_add_builds_the_registration_and_reads_the_password_from_stdin() {
        let add = add_args(&[
            "--username",
            "admin",
            "--password-stdin",
            "--project",
            "admin",
            "--label",
            "region=eu",
            "--label",
            "tier=edge",
        ]);
        let add = add.unwrap_or_else(|e| panic!("{e}"));
        let mut asked = Vec::new();
        let new = new_site(&add, |what| {
            asked.push(what.to_owned());
            Ok("from-stdin".into())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(asked, vec!["password".to_owned()]);
        assert_eq!(
            serde_json::to_value(&new).unwrap_or_default(),
            json!({
                "name": "edge-7", "auth_url": "https://keystone.example/v3", "region": null,
                "interface": null, "labels": {"region": "eu", "tier": "edge"},
                "credentials": {"type": "password", "username": "admin", "password": "from-stdin",
                                "project_name": "admin", "user_domain_name": "Default",
                                "project_domain_name": "Default"},
                "insecure": false, "ca_bundle": null
            })
        );
        let app = add_args(&["--app-credential-id", "ac1", "--app-credential-secret", "s"])
            .unwrap_or_else(|e| panic!("{e}"));
        let new = new_site(&app, |_| panic!("no stdin wanted")).unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            new.credentials,
            SiteCredentials::ApplicationCredential { .. }
        ));
        let no_password = add_args(&["--username", "admin", "--project", "admin"])
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            new_site(&no_password, |_| Ok(String::new())),
            Err(CtlError::Usage(_))
        ));
    }

    #[test]
    fn sites_add_refuses_a_bad_command_line_before_asking_the_console() {
        for (extra, says) in [
            (&[][..], "--username"),
            (&["--username", "admin", "--password", "p"][..], "--project"),
            (
                &[
                    "--username",
                    "a",
                    "--project",
                    "p",
                    "--app-credential-id",
                    "x",
                ][..],
                "cannot be used with",
            ),
            (
                &["--username", "a", "--project", "p", "--label", "tier"][..],
                "is not key=value",
            ),
            (
                &[
                    "--username",
                    "a",
                    "--project",
                    "p",
                    "--interface",
                    "private",
                ][..],
                "invalid value",
            ),
        ] {
            let error = add_args(extra).err().unwrap_or_default();
            assert!(error.contains(says), "{extra:?}: {error}");
        }
        let bad_name = parse_add([
            "Edge 7",
            "--auth-url",
            "https://k/v3",
            "--app-credential-id",
            "x",
        ]);
        let error = bad_name.err().unwrap_or_default();
        assert!(error.contains("must be 1-63 characters"), "{error}");
        let bad_url = parse_add([
            "edge-7",
            "--auth-url",
            "ftp://k/v3",
            "--app-credential-id",
            "x",
        ]);
        let error = bad_url.err().unwrap_or_default();
        assert!(error.contains("scheme must be http or https"), "{error}");
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
