//! The site registry: parsing and validating what an operator registers, sealing its
//! credentials, and turning stored rows back into API objects.

pub mod clouds_yaml;

use std::collections::BTreeMap;
use std::sync::Arc;

use overcast_api_types::{
    FieldError, ImportIssue, ImportReport, NewSite, Site, SiteCredentials, SiteState, SiteUpdate,
};

use crate::openstack::{SiteAuth, Tls};
use crate::secrets::Sealer;
use crate::store::{SiteHealthRow, SiteIndexRow, SiteRow, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SiteError {
    #[error("invalid site")]
    Invalid(Vec<FieldError>),
    #[error("site {0} not found")]
    NotFound(String),
    #[error("site {0} already exists")]
    AlreadyExists(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for SiteError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict(what) => SiteError::AlreadyExists(what),
            other => SiteError::Store(other),
        }
    }
}

pub fn now_rfc3339() -> String {
    rfc3339(time::OffsetDateTime::now_utc())
}

/// The one text form of times in the API and the database.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// Names that `/api/v1/sites/{name}` cannot take because a route sits there, now
/// (`import`) or in the plans of the API (`export`, `batch`, `new`).
const RESERVED_SITE_NAMES: [&str; 4] = ["import", "export", "batch", "new"];

/// Bounds of what a registration stores, so that no field can grow the database (or
/// every answer that shows it) without limit.
const MAX_AUTH_URL_CHARS: usize = 2048;
const MAX_REGION_CHARS: usize = 255;
const MAX_LABELS: usize = 64;
const MAX_CREDENTIAL_NAME_CHARS: usize = 255;
const MAX_SECRET_CHARS: usize = 4096;
const MAX_CA_BUNDLE_BYTES: usize = 1024 * 1024;

/// A site name: 1–63 characters of `[a-z0-9_.-]` starting with a letter or digit, so that
/// it is safe in URLs, label values and file names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SiteName(String);

impl SiteName {
    pub fn parse(text: &str) -> Result<SiteName, String> {
        let valid_char =
            |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.');
        let starts_well = text
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
        if text.is_empty() || text.len() > 63 || !starts_well || !text.chars().all(valid_char) {
            return Err("must be 1-63 characters of a-z, 0-9, '-', '_', '.', starting with a letter or digit".into());
        }
        if RESERVED_SITE_NAMES.contains(&text) {
            return Err(format!(
                "{text:?} is reserved: /api/v1/sites/{text} is a route of its own (reserved: {})",
                RESERVED_SITE_NAMES.join(", ")
            ));
        }
        Ok(SiteName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Checks an auth URL: http or https, a host, no userinfo (credentials belong in the
/// sealed credentials, never in a URL that is shown and logged).
pub fn validate_auth_url(url: &str) -> Result<(), String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err("scheme must be http or https".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("must not contain a user name or password".into());
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    Ok(())
}

/// A label as every registration checks it; `overcast ctl` checks its flags with it too.
pub fn validate_label(key: &str, value: &str) -> Result<(), String> {
    let ok = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'))
    };
    if !ok(key, 63) {
        return Err("label keys are 1-63 characters of letters, digits, '-', '_', '.', '/'".into());
    }
    if !ok(value, 63) {
        return Err(
            "label values are 1-63 characters of letters, digits, '-', '_', '.', '/'".into(),
        );
    }
    Ok(())
}

fn field(name: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        field: name.into(),
        message: message.into(),
    }
}

fn check_credential(errors: &mut Vec<FieldError>, name: &str, value: &str, max: usize) {
    if value.is_empty() {
        errors.push(field(format!("credentials.{name}"), "must not be empty"));
    } else if value.chars().count() > max {
        errors.push(field(
            format!("credentials.{name}"),
            format!("at most {max} characters"),
        ));
    }
}

/// Validates a registration, reporting every field at fault at once.
pub fn validate_new_site(site: &NewSite) -> Result<SiteName, SiteError> {
    let mut errors = Vec::new();
    let name = SiteName::parse(&site.name)
        .map_err(|m| errors.push(field("name", m)))
        .ok();
    if site.auth_url.chars().count() > MAX_AUTH_URL_CHARS {
        errors.push(field(
            "auth_url",
            format!("at most {MAX_AUTH_URL_CHARS} characters"),
        ));
    } else if let Err(m) = validate_auth_url(&site.auth_url) {
        errors.push(field("auth_url", m));
    }
    if let Some(region) = &site.region {
        if region.trim().is_empty() || region.chars().count() > MAX_REGION_CHARS {
            errors.push(field("region", format!("1-{MAX_REGION_CHARS} characters")));
        } else if region.chars().any(char::is_control) {
            errors.push(field("region", "must not contain control characters"));
        }
    }
    if site.labels.len() > MAX_LABELS {
        errors.push(field("labels", format!("at most {MAX_LABELS} labels")));
    }
    if let Some(interface) = &site.interface {
        if !matches!(interface.as_str(), "public" | "internal" | "admin") {
            errors.push(field("interface", "must be public, internal or admin"));
        }
    }
    for (key, value) in &site.labels {
        if let Err(m) = validate_label(key, value) {
            errors.push(field(format!("labels.{key}"), m));
        }
    }
    if let Some(pem) = &site.ca_bundle {
        if pem.len() > MAX_CA_BUNDLE_BYTES {
            errors.push(field("ca_bundle", "at most 1 MiB of PEM text"));
        } else if site.insecure {
            errors.push(field(
                "insecure",
                "give either a CA bundle or insecure, not both",
            ));
        } else if let Err(message) = crate::openstack::http_client_for(&Tls::CaBundle(pem.clone()))
        {
            errors.push(field("ca_bundle", message));
        }
    }
    match &site.credentials {
        SiteCredentials::Password {
            username,
            password,
            project_name,
            user_domain_name,
            project_domain_name,
        } => {
            for (name, value, max) in [
                ("username", username, MAX_CREDENTIAL_NAME_CHARS),
                ("password", password, MAX_SECRET_CHARS),
                ("project_name", project_name, MAX_CREDENTIAL_NAME_CHARS),
                (
                    "user_domain_name",
                    user_domain_name,
                    MAX_CREDENTIAL_NAME_CHARS,
                ),
                (
                    "project_domain_name",
                    project_domain_name,
                    MAX_CREDENTIAL_NAME_CHARS,
                ),
            ] {
                check_credential(&mut errors, name, value, max);
            }
        }
        SiteCredentials::ApplicationCredential { id, secret } => {
            check_credential(&mut errors, "id", id, MAX_CREDENTIAL_NAME_CHARS);
            check_credential(&mut errors, "secret", secret, MAX_SECRET_CHARS);
        }
    }
    match name {
        Some(name) if errors.is_empty() => Ok(name),
        _ => Err(SiteError::Invalid(errors)),
    }
}

/// The health facts about a site that are persisted.
#[derive(Debug, Clone)]
pub struct SiteHealthRecord {
    pub state: SiteState,
    pub last_seen: Option<String>,
    pub latency_ms: Option<u64>,
    /// Only written when a full probe read them.
    pub capabilities: Option<BTreeMap<String, String>>,
}

/// What the console keeps in memory of a registered site: what selecting, scoping and
/// placing need, and no credentials or CA bundle (those are read from the database only
/// when a session is made).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedSite {
    /// Shared, so that handing a site's labels to a plan or a selection is not a copy.
    pub labels: Arc<BTreeMap<String, String>>,
    pub region: Option<String>,
    /// The state last persisted by the health checks (the live one is the monitor's).
    pub state: SiteState,
}

/// Every registered site by name, as the registry's index holds it.
pub type SiteIndex = BTreeMap<String, IndexedSite>;

/// Sites by name with their labels, shared with the index.
pub type SiteLabels = BTreeMap<String, Arc<BTreeMap<String, String>>>;

/// The index of the registry: loaded from the database on first use, then kept current
/// by the registry's own changes. Changes are serialized by `writer`, so that a change
/// and the load cannot interleave; readers take a shared snapshot (`Arc`) and never wait
/// for the database.
#[derive(Default)]
struct Index {
    writer: tokio::sync::Mutex<()>,
    sites: std::sync::RwLock<Option<Arc<SiteIndex>>>,
}

impl Index {
    fn current(&self) -> Option<Arc<SiteIndex>> {
        self.sites
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Applies a change to a loaded index (copy on write: a reader's snapshot stays as
    /// it was). An index not loaded yet is left alone: its load reads the change.
    fn modify(&self, change: impl FnOnce(&mut SiteIndex)) {
        let mut sites = self
            .sites
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(index) = sites.as_mut() {
            change(Arc::make_mut(index));
        }
    }
}

fn parse_state(text: &str) -> SiteState {
    match text {
        "online" => SiteState::Online,
        "degraded" => SiteState::Degraded,
        "unreachable" => SiteState::Unreachable,
        _ => SiteState::Unknown,
    }
}

/// A stored column of a site's row, read back as JSON.
fn stored_json<T: serde::de::DeserializeOwned>(
    site: &str,
    what: &str,
    text: &str,
) -> Result<T, SiteError> {
    serde_json::from_str(text)
        .map_err(|e| SiteError::Store(StoreError::Corrupt(format!("{what} of site {site}: {e}"))))
}

fn indexed_from_row(row: &SiteRow) -> Result<IndexedSite, SiteError> {
    Ok(IndexedSite {
        labels: Arc::new(stored_json(&row.name, "labels", &row.labels)?),
        region: row.region.clone(),
        state: parse_state(&row.state),
    })
}

fn indexed_from_index_row(row: SiteIndexRow) -> Result<(String, IndexedSite), SiteError> {
    let site = IndexedSite {
        labels: Arc::new(stored_json(&row.name, "labels", &row.labels)?),
        region: row.region,
        state: parse_state(&row.state),
    };
    Ok((row.name, site))
}

/// The registry over the store, sealing credentials on the way in.
#[derive(Clone)]
pub struct SiteRegistry {
    store: Store,
    sealer: Sealer,
    /// Woken on every registration change, so background work sees sites join and leave.
    changed: Arc<tokio::sync::watch::Sender<u64>>,
    index: Arc<Index>,
    /// Health records not written yet, the newest of each site: at most one per site.
    pending_health: Arc<std::sync::Mutex<std::collections::HashMap<String, SiteHealthRecord>>>,
}

/// How long a health record may wait before it is written.
const HEALTH_WRITE_EVERY: std::time::Duration = std::time::Duration::from_secs(1);
/// Health rows written per transaction.
const HEALTH_ROWS_PER_TRANSACTION: usize = 500;

impl SiteRegistry {
    pub fn new(store: Store, sealer: Sealer) -> Self {
        SiteRegistry {
            store,
            sealer,
            changed: Arc::new(tokio::sync::watch::Sender::new(0)),
            index: Arc::default(),
            pending_health: Arc::default(),
        }
    }

    /// Every registered site's name, labels, region and state, from memory (the database
    /// is read once, on first use). Costs one reference count, whatever the fleet.
    pub async fn index(&self) -> Result<Arc<SiteIndex>, SiteError> {
        if let Some(index) = self.index.current() {
            return Ok(index);
        }
        let _writer = self.index.writer.lock().await;
        if let Some(index) = self.index.current() {
            return Ok(index);
        }
        let loaded: SiteIndex = self
            .store
            .list_site_index()
            .await?
            .into_iter()
            .map(indexed_from_index_row)
            .collect::<Result<_, _>>()?;
        let loaded = Arc::new(loaded);
        *self
            .index
            .sites
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(loaded.clone());
        Ok(loaded)
    }

    /// The names of every registered site, in order, from the index.
    pub async fn names(&self) -> Result<Vec<String>, SiteError> {
        Ok(self.index().await?.keys().cloned().collect())
    }

    pub async fn register(&self, new: NewSite) -> Result<Site, SiteError> {
        let name = validate_new_site(&new)?;
        let row = self.new_row(&name, new);
        let indexed = indexed_from_row(&row)?;
        {
            let _writer = self.index.writer.lock().await;
            self.store.insert_site(&row).await?;
            self.index.modify(|index| {
                index.insert(row.name.clone(), indexed);
            });
        }
        self.changed.send_modify(|version| *version += 1);
        site_from_row(row)
    }

    /// The row of a validated registration, its credentials sealed.
    fn new_row(&self, name: &SiteName, new: NewSite) -> SiteRow {
        let credentials = serde_json::to_vec(&new.credentials).unwrap_or_default();
        SiteRow {
            name: name.as_str().to_owned(),
            auth_url: new.auth_url,
            region: new.region,
            interface: new.interface.unwrap_or_else(|| "public".into()),
            labels: serde_json::to_string(&new.labels).unwrap_or_else(|_| "{}".into()),
            credentials: self.sealer.seal(&credentials),
            insecure: i64::from(new.insecure),
            ca_bundle: new.ca_bundle,
            state: SiteState::Unknown.as_str().into(),
            last_seen: None,
            latency_ms: None,
            capabilities: "{}".into(),
            created_at: now_rfc3339(),
        }
    }

    pub async fn list(&self) -> Result<Vec<Site>, SiteError> {
        let mut sites = self
            .store
            .list_sites()
            .await?
            .into_iter()
            .map(site_from_row)
            .collect::<Result<Vec<_>, _>>()?;
        for site in &mut sites {
            self.with_pending_health(site);
        }
        Ok(sites)
    }

    pub async fn get(&self, name: &str) -> Result<Site, SiteError> {
        match self.store.get_site(name).await? {
            Some(row) => {
                let mut site = site_from_row(row)?;
                self.with_pending_health(&mut site);
                Ok(site)
            }
            None => Err(SiteError::NotFound(name.to_owned())),
        }
    }

    /// A site as its newest health record says, written or not yet: a record and the
    /// site's state agree whenever they are read.
    fn with_pending_health(&self, site: &mut Site) {
        let pending = self
            .pending_health
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(health) = pending.get(&site.name) else {
            return;
        };
        site.state = health.state;
        if health.last_seen.is_some() {
            site.last_seen.clone_from(&health.last_seen);
        }
        site.latency_ms = health.latency_ms;
        if let Some(capabilities) = &health.capabilities {
            site.capabilities.clone_from(capabilities);
        }
    }

    pub async fn remove(&self, name: &str) -> Result<(), SiteError> {
        let removed = {
            let _writer = self.index.writer.lock().await;
            let removed = self.store.delete_site(name).await?;
            self.index.modify(|index| {
                index.remove(name);
            });
            removed
        };
        if removed {
            self.changed.send_modify(|version| *version += 1);
            Ok(())
        } else {
            Err(SiteError::NotFound(name.to_owned()))
        }
    }

    /// Changes a registration; what the update leaves out stays. The result is validated
    /// as a whole, exactly like a new registration.
    pub async fn update(&self, name: &str, update: SiteUpdate) -> Result<Site, SiteError> {
        let row = self
            .store
            .get_site(name)
            .await?
            .ok_or_else(|| SiteError::NotFound(name.to_owned()))?;
        let current = site_from_row(row.clone())?;
        let merged = NewSite {
            name: row.name.clone(),
            auth_url: update.auth_url.unwrap_or(current.auth_url),
            region: update.region.or(current.region),
            interface: update.interface.or(Some(current.interface)),
            labels: update.labels.unwrap_or(current.labels),
            credentials: match update.credentials {
                Some(credentials) => credentials,
                None => self.open_credentials(&row)?,
            },
            insecure: update.insecure.unwrap_or(current.insecure),
            ca_bundle: match update.ca_bundle {
                Some(pem) if pem.trim().is_empty() => None,
                Some(pem) => Some(pem),
                None => row.ca_bundle.clone(),
            },
        };
        validate_new_site(&merged)?;
        let updated = SiteRow {
            auth_url: merged.auth_url,
            region: merged.region,
            interface: merged.interface.unwrap_or_else(|| "public".into()),
            labels: serde_json::to_string(&merged.labels).unwrap_or_else(|_| "{}".into()),
            credentials: self
                .sealer
                .seal(&serde_json::to_vec(&merged.credentials).unwrap_or_default()),
            insecure: i64::from(merged.insecure),
            ca_bundle: merged.ca_bundle,
            ..row
        };
        let indexed = indexed_from_row(&updated)?;
        {
            let _writer = self.index.writer.lock().await;
            if !self.store.update_site(&updated).await? {
                return Err(SiteError::NotFound(name.to_owned()));
            }
            // The state is the health checks': what the index holds of it stays.
            self.index.modify(|index| {
                if let Some(site) = index.get_mut(name) {
                    site.labels = indexed.labels;
                    site.region = indexed.region;
                }
            });
        }
        self.changed.send_modify(|version| *version += 1);
        site_from_row(updated)
    }

    /// Registers every cloud of a clouds.yaml. A cloud that cannot be registered is
    /// reported and the others go on; an existing site is skipped, or with `replace`
    /// registered anew from the file. What is written is written in one transaction: all
    /// of it, or (when the database refuses, e.g. a site registered meanwhile) none.
    pub async fn import(
        &self,
        text: &str,
        labels: &BTreeMap<String, String>,
        replace: bool,
    ) -> Result<ImportReport, SiteError> {
        let entries = clouds_yaml::parse(text, labels)
            .map_err(|reason| SiteError::Invalid(vec![field("body", reason)]))?;
        let existing: std::collections::HashSet<String> =
            self.store.site_names().await?.into_iter().collect();
        let mut report = ImportReport::default();
        let failed = |name: String, reason: String, fields: Vec<FieldError>| ImportIssue {
            name,
            reason,
            fields,
        };
        let (mut inserts, mut updates) = (Vec::new(), Vec::new());
        for (name, entry) in entries {
            let new = match entry {
                Ok(new) => new,
                Err(reason) => {
                    report.failed.push(failed(name, reason, Vec::new()));
                    continue;
                }
            };
            let exists = existing.contains(&name);
            if exists && !replace {
                report.skipped.push(failed(
                    name,
                    "already registered (import with replace=true to update it)".into(),
                    Vec::new(),
                ));
                continue;
            }
            let site_name = match validate_new_site(&new) {
                Ok(site_name) => site_name,
                Err(SiteError::Invalid(fields)) => {
                    report
                        .failed
                        .push(failed(name, "invalid site".into(), fields));
                    continue;
                }
                Err(other) => return Err(other),
            };
            let row = self.new_row(&site_name, new);
            if exists {
                updates.push(row);
                report.replaced.push(name);
            } else {
                inserts.push(row);
                report.created.push(name);
            }
        }
        if inserts.is_empty() && updates.is_empty() {
            return Ok(report);
        }
        let index_rows = |rows: &[SiteRow]| {
            rows.iter()
                .map(|row| Ok((row.name.clone(), indexed_from_row(row)?)))
                .collect::<Result<Vec<_>, SiteError>>()
        };
        let (inserted, replaced) = (index_rows(&inserts)?, index_rows(&updates)?);
        {
            let _writer = self.index.writer.lock().await;
            self.store
                .import_sites(&inserts, &updates)
                .await
                .map_err(|error| match error {
                    StoreError::Conflict(what) => SiteError::Conflict(format!(
                        "{what} was registered by another request meanwhile; nothing was imported, import again"
                    )),
                    other => other.into(),
                })?;
            // A replaced site keeps its state, as its row does (only its registration is
            // rewritten).
            self.index.modify(|index| {
                index.extend(inserted);
                for (name, site) in replaced {
                    match index.get_mut(&name) {
                        Some(known) => {
                            known.labels = site.labels;
                            known.region = site.region;
                        }
                        None => {
                            index.insert(name, site);
                        }
                    }
                }
            });
        }
        self.changed.send_modify(|version| *version += 1);
        Ok(report)
    }

    /// A receiver that sees every registration change, even those made while its
    /// owner was busy: `changed().await` returns at once if one happened since the last look.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// How to sign in to a site, credentials in clear: for the client layer only.
    pub async fn auth(&self, name: &str) -> Result<SiteAuth, SiteError> {
        let row = self
            .store
            .get_site(name)
            .await?
            .ok_or_else(|| SiteError::NotFound(name.to_owned()))?;
        let credentials = self.open_credentials(&row)?;
        let tls = match (row.insecure != 0, row.ca_bundle) {
            (true, _) => Tls::Insecure,
            (false, Some(pem)) => Tls::CaBundle(pem),
            (false, None) => Tls::Default,
        };
        Ok(SiteAuth {
            auth_url: row.auth_url,
            credentials,
            region: row.region,
            interface: row.interface,
            tls,
        })
    }

    /// Records what a health probe found. The database sees it from the health writer
    /// ([`SiteRegistry::write_health_forever`]), within `HEALTH_WRITE_EVERY`: one
    /// transaction for many sites instead of one per check, so that 10,000 sites'
    /// checks do not queue for SQLite's one writer ahead of every request that writes.
    pub fn record_health(&self, name: &str, health: &SiteHealthRecord) {
        {
            let mut pending = self
                .pending_health
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let merged = match pending.remove(name) {
                // What a newer record leaves out, the older one still says.
                Some(older) => SiteHealthRecord {
                    state: health.state,
                    last_seen: health.last_seen.clone().or(older.last_seen),
                    latency_ms: health.latency_ms,
                    capabilities: health.capabilities.clone().or(older.capabilities),
                },
                None => health.clone(),
            };
            pending.insert(name.to_owned(), merged);
        }
        // Only a change of state touches the index: most checks leave it as it is.
        let changed = self
            .index
            .current()
            .and_then(|index| index.get(name).map(|site| site.state != health.state))
            .unwrap_or(false);
        if changed {
            self.index.modify(|index| {
                if let Some(site) = index.get_mut(name) {
                    site.state = health.state;
                }
            });
        }
    }

    /// Writes the health records not written yet. A failed write puts them back, unless
    /// a newer record of the same site came meanwhile.
    pub async fn flush_health(&self) -> Result<usize, SiteError> {
        let pending = std::mem::take(
            &mut *self
                .pending_health
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if pending.is_empty() {
            return Ok(0);
        }
        let rows: Vec<SiteHealthRow> = pending
            .iter()
            .map(|(name, health)| SiteHealthRow {
                name: name.clone(),
                state: health.state.as_str().to_owned(),
                last_seen: health.last_seen.clone(),
                latency_ms: health
                    .latency_ms
                    .map(|ms| i64::try_from(ms).unwrap_or(i64::MAX)),
                capabilities: health
                    .capabilities
                    .as_ref()
                    .map(|c| serde_json::to_string(c).unwrap_or_else(|_| "{}".into())),
            })
            .collect();
        if let Err(error) = self
            .store
            .update_sites_health(&rows, HEALTH_ROWS_PER_TRANSACTION)
            .await
        {
            let mut queued = self
                .pending_health
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for (name, health) in pending {
                queued.entry(name).or_insert(health);
            }
            return Err(error.into());
        }
        Ok(rows.len())
    }

    /// Writes the health records every `HEALTH_WRITE_EVERY` until the task is dropped.
    pub async fn write_health_forever(self) {
        let mut tick = tokio::time::interval(HEALTH_WRITE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(error) = self.flush_health().await {
                tracing::warn!(%error, "cannot record site health; kept for the next write");
            }
        }
    }

    /// The site's credentials in clear, for the client layer only.
    pub async fn credentials(&self, name: &str) -> Result<SiteCredentials, SiteError> {
        let row = self
            .store
            .get_site(name)
            .await?
            .ok_or_else(|| SiteError::NotFound(name.to_owned()))?;
        self.open_credentials(&row)
    }

    fn open_credentials(&self, row: &SiteRow) -> Result<SiteCredentials, SiteError> {
        let corrupt = |e: String| {
            SiteError::Store(StoreError::Corrupt(format!(
                "credentials of site {}: {e}",
                row.name
            )))
        };
        let bytes = self
            .sealer
            .open(&row.credentials)
            .map_err(|e| corrupt(e.to_string()))?;
        serde_json::from_slice(&bytes).map_err(|e| corrupt(e.to_string()))
    }
}

fn site_from_row(row: SiteRow) -> Result<Site, SiteError> {
    let labels: BTreeMap<String, String> = stored_json(&row.name, "labels", &row.labels)?;
    let capabilities: BTreeMap<String, String> =
        stored_json(&row.name, "capabilities", &row.capabilities)?;
    let state = parse_state(&row.state);
    Ok(Site {
        name: row.name,
        auth_url: row.auth_url,
        region: row.region,
        interface: row.interface,
        labels,
        state,
        state_reason: None,
        last_seen: row.last_seen,
        latency_ms: row.latency_ms.and_then(|ms| u64::try_from(ms).ok()),
        capabilities,
        insecure: row.insecure != 0,
        created_at: row.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_names_are_url_safe() {
        assert!(SiteName::parse("site-001").is_ok());
        assert!(SiteName::parse("").is_err());
        assert!(SiteName::parse("-x").is_err());
        assert!(SiteName::parse("Site").is_err());
        assert!(SiteName::parse("a/b").is_err());
        assert!(SiteName::parse(&"a".repeat(64)).is_err());
    }

    #[test]
    fn auth_urls_must_be_http_without_userinfo() {
        assert!(validate_auth_url("https://keystone.example:5000/v3").is_ok());
        assert!(validate_auth_url("ftp://keystone.example").is_err());
        assert!(validate_auth_url("https://user:pw@keystone.example").is_err());
        assert!(validate_auth_url("not a url").is_err());
    }

    #[test]
    fn every_bad_field_is_reported() {
        let new = NewSite {
            name: "Bad Name".into(),
            auth_url: "ftp://x".into(),
            region: None,
            interface: Some("private".into()),
            labels: BTreeMap::from([("tier".into(), "".into())]),
            credentials: SiteCredentials::ApplicationCredential {
                id: "".into(),
                secret: "s".into(),
            },
            insecure: false,
            ca_bundle: None,
        };
        let Err(SiteError::Invalid(fields)) = validate_new_site(&new) else {
            panic!("expected invalid")
        };
        let names: Vec<_> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(
            names,
            [
                "name",
                "auth_url",
                "interface",
                "labels.tier",
                "credentials.id"
            ]
        );
    }
}
