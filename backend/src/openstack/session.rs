//! A site's session: Keystone authentication with a cached token and catalog, calls to
//! the site's services with deadlines, re-authentication on 401, and retries of
//! idempotent calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use overcast_api_types::SiteCredentials;
use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use super::catalog::{Catalog, CatalogEntry, ServiceType};
use super::{api_error, error_message, OpenStackError};

/// Where and as whom the console signs in to a site.
#[derive(Debug, Clone)]
pub struct SiteAuth {
    pub auth_url: String,
    pub credentials: SiteCredentials,
    pub region: Option<String>,
    pub interface: String,
    pub tls: super::Tls,
}

#[derive(Debug, Clone)]
struct CachedToken {
    id: String,
    /// Refresh a little before Keystone's expiry so no call races it.
    refresh_after: time::OffsetDateTime,
    catalog: Arc<Catalog>,
    /// The project the token is scoped to: where the console's own servers go.
    project_id: Option<String>,
}

/// A successful call's answer.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: bytes::Bytes,
}

pub struct SiteSession {
    http: reqwest::Client,
    auth: SiteAuth,
    /// A mutex, not a lock-free cell, so that concurrent callers wait for one sign-in
    /// instead of each signing in.
    token: tokio::sync::Mutex<Option<CachedToken>>,
    /// Nova's (min, max) microversions, learned once per session.
    compute_versions: tokio::sync::OnceCell<((u16, u16), (u16, u16))>,
    /// The aliases of Neutron's API extensions, learned once per session.
    network_extensions: tokio::sync::OnceCell<Arc<std::collections::BTreeSet<String>>>,
    /// Services the health checks found not answering, with why: calls to them fail at
    /// once instead of waiting for their deadline.
    down: std::sync::Mutex<BTreeMap<&'static str, String>>,
    /// Sign-ins Keystone refused lately: the next is not tried before `retry_at`, so a
    /// wrong password costs Keystone one attempt a minute at most (with
    /// `lockout_failure_attempts` set, more would lock the console's account out).
    refusals: std::sync::Mutex<Refusals>,
}

#[derive(Debug, Default)]
struct Refusals {
    count: u32,
    retry_at: Option<Instant>,
    message: String,
}

/// The wait before another sign-in after `count` refusals in a row: 5 s, doubling, at
/// most a minute.
fn sign_in_backoff(count: u32) -> Duration {
    (Duration::from_secs(5) * 2u32.pow(count.saturating_sub(1).min(4))).min(Duration::from_secs(60))
}

/// Every call asks for JSON: Glance, for one, answers errors as HTML pages otherwise.
const JSON: &str = "application/json";
const TOKEN_REFRESH_MARGIN: time::Duration = time::Duration::minutes(2);
const MAX_ATTEMPTS: u32 = 3;

impl SiteSession {
    pub fn new(http: reqwest::Client, auth: SiteAuth) -> Self {
        SiteSession {
            http,
            auth,
            token: tokio::sync::Mutex::new(None),
            compute_versions: tokio::sync::OnceCell::new(),
            network_extensions: tokio::sync::OnceCell::new(),
            down: std::sync::Mutex::default(),
            refusals: std::sync::Mutex::default(),
        }
    }

    fn tokens_url(&self) -> String {
        let base = self.auth.auth_url.trim_end_matches('/');
        if base.ends_with("/v3") {
            format!("{base}/auth/tokens")
        } else {
            format!("{base}/v3/auth/tokens")
        }
    }

    fn auth_body(&self) -> Value {
        match &self.auth.credentials {
            SiteCredentials::Password {
                username,
                password,
                project_name,
                user_domain_name,
                project_domain_name,
            } => json!({
                "auth": {
                    "identity": {"methods": ["password"], "password": {"user": {
                        "name": username, "domain": {"name": user_domain_name}, "password": password}}},
                    "scope": {"project": {"name": project_name, "domain": {"name": project_domain_name}}}
                }
            }),
            SiteCredentials::ApplicationCredential { id, secret } => json!({
                "auth": {"identity": {"methods": ["application_credential"],
                         "application_credential": {"id": id, "secret": secret}}}
            }),
        }
    }

    /// A valid token and the catalog that came with it, signing in when needed.
    async fn token(&self, deadline: Instant) -> Result<CachedToken, OpenStackError> {
        let mut cached = self.token.lock().await;
        if let Some(token) = cached.as_ref() {
            if token.refresh_after > time::OffsetDateTime::now_utc() {
                return Ok(token.clone());
            }
        }
        let fresh = self.sign_in(deadline).await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Signs in, unless Keystone refused the credentials moments ago.
    async fn sign_in(&self, deadline: Instant) -> Result<CachedToken, OpenStackError> {
        if let Some(refused) = self.refused_lately() {
            return Err(refused);
        }
        let result = self.ask_for_token(deadline).await;
        let mut refusals = self
            .refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match &result {
            Err(OpenStackError::AuthFailed(message)) => {
                refusals.count += 1;
                refusals.retry_at = Some(Instant::now() + sign_in_backoff(refusals.count));
                refusals.message.clone_from(message);
            }
            Ok(_) => *refusals = Refusals::default(),
            Err(_) => {}
        }
        result
    }

    /// The last refusal while its backoff lasts, without asking Keystone.
    fn refused_lately(&self) -> Option<OpenStackError> {
        let refusals = self
            .refusals
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let left = refusals.retry_at?.saturating_duration_since(Instant::now());
        (!left.is_zero()).then(|| {
            OpenStackError::AuthFailed(format!(
                "{} (refused {} times; not asked again for {} s, so that Keystone does not lock the account out)",
                refusals.message,
                refusals.count,
                left.as_secs().max(1)
            ))
        })
    }

    async fn ask_for_token(&self, deadline: Instant) -> Result<CachedToken, OpenStackError> {
        #[derive(Deserialize)]
        struct TokenBody {
            token: TokenFields,
        }
        #[derive(Deserialize)]
        struct TokenFields {
            expires_at: String,
            #[serde(default)]
            catalog: Vec<CatalogEntry>,
            #[serde(default)]
            project: Option<ScopedProject>,
        }
        #[derive(Deserialize)]
        struct ScopedProject {
            id: String,
        }

        let remaining = remaining(deadline)?;
        let response = self
            .http
            .post(self.tokens_url())
            .header(reqwest::header::ACCEPT, JSON)
            .json(&self.auth_body())
            .timeout(remaining)
            .send()
            .await
            .map_err(|e| OpenStackError::from_transport(e, remaining))?;
        let status = response.status();
        let subject = response
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if status.is_redirection() {
            return Err(redirected("identity", status, response.headers()));
        }
        let body = read_body("identity", response, TOKEN_BODY_LIMIT, status, remaining).await?;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(OpenStackError::AuthFailed(error_message(
                status,
                &String::from_utf8_lossy(&body),
            )));
        }
        if !status.is_success() {
            return Err(api_error("identity", status, &body));
        }
        let bad = |detail: String| OpenStackError::BadResponse {
            service: "identity",
            detail,
        };
        let id = subject.ok_or_else(|| bad("token issued without X-Subject-Token".into()))?;
        let parsed: TokenBody =
            serde_json::from_slice(&body).map_err(|e| bad(format!("token body: {e}")))?;
        let expires_at = time::OffsetDateTime::parse(
            &parsed.token.expires_at,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| bad(format!("expires_at: {e}")))?;
        Ok(CachedToken {
            id,
            refresh_after: expires_at - TOKEN_REFRESH_MARGIN,
            catalog: Arc::new(Catalog::new(parsed.token.catalog)),
            project_id: parsed.token.project.map(|p| p.id),
        })
    }

    /// The base URL of a service for this site's region and interface. Identity paths
    /// are written for `/v3`, which some catalogs include and others (DevStack's) leave out.
    fn endpoint(
        &self,
        token: &CachedToken,
        service: ServiceType,
    ) -> Result<String, OpenStackError> {
        let url = token
            .catalog
            .endpoint(service, &self.auth.interface, self.auth.region.as_deref())
            .ok_or(OpenStackError::MissingService(service.name()))?;
        Ok(match service {
            ServiceType::Identity if !url.ends_with("/v3") => format!("{url}/v3"),
            _ => url,
        })
    }

    fn refuse_if_down(&self, service: ServiceType) -> Result<(), OpenStackError> {
        match self
            .down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(service.name())
        {
            Some(reason) => Err(OpenStackError::ServiceDown {
                service: service.name(),
                reason: reason.clone(),
            }),
            None => Ok(()),
        }
    }

    /// The services the last check found not answering, with why.
    pub fn down_services(&self) -> Vec<(&'static str, String)> {
        self.down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(service, reason)| (*service, reason.clone()))
            .collect()
    }

    /// Asks each service of the catalog (but Keystone, which the liveness check covers)
    /// for its version document, unauthenticated and at once, and records which do not
    /// answer. A service answering with any status below 500 is up. Without a cached
    /// catalog (not signed in yet) nothing is checked.
    pub async fn check_services(&self, timeout: Duration) {
        let Some(token) = self.token.lock().await.clone() else {
            return;
        };
        let checks = ServiceType::ALL
            .into_iter()
            .filter(|service| *service != ServiceType::Identity)
            .filter_map(|service| Some((service, self.endpoint(&token, service).ok()?)))
            .map(|(service, url)| async move {
                let answer = self
                    .http
                    .get(&url)
                    .header(reqwest::header::ACCEPT, JSON)
                    .timeout(timeout)
                    .send()
                    .await;
                let problem = match answer {
                    Err(error) => Some(OpenStackError::from_transport(error, timeout).to_string()),
                    Ok(response) if response.status().is_server_error() => Some(format!(
                        "its version document answered {}",
                        response.status()
                    )),
                    Ok(_) => None,
                };
                (service.name(), problem)
            });
        let results = futures::future::join_all(checks).await;
        let mut down = self
            .down
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        down.clear();
        down.extend(
            results
                .into_iter()
                .filter_map(|(service, problem)| Some((service, problem?))),
        );
    }

    /// Forgets the cached token, e.g. after the site's credentials changed.
    pub async fn invalidate(&self) {
        *self.token.lock().await = None;
    }

    /// The catalog, signing in when needed.
    pub async fn catalog(&self, deadline: Instant) -> Result<Arc<Catalog>, OpenStackError> {
        Ok(self.token(deadline).await?.catalog)
    }

    /// The id of the project the console works in at this site, signing in when needed;
    /// none for a token scoped to no project.
    pub async fn project_id(&self, deadline: Instant) -> Result<Option<String>, OpenStackError> {
        Ok(self.token(deadline).await?.project_id)
    }

    /// One call to a service of the site. `path` is relative to the service's endpoint.
    /// A 401 leads to one fresh sign-in and one more try; transient failures of
    /// idempotent methods are retried with backoff while the deadline allows.
    pub async fn call(
        &self,
        service: ServiceType,
        method: Method,
        path: &str,
        body: Option<&Value>,
        headers: &[(&'static str, String)],
        deadline: Instant,
    ) -> Result<Answer, OpenStackError> {
        let idempotent = matches!(
            method,
            Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS
        );
        self.refuse_if_down(service)?;
        let mut attempt = 0;
        let mut reauthenticated = false;
        loop {
            attempt += 1;
            let token = self.token(deadline).await?;
            let endpoint = self.endpoint(&token, service)?;
            let url = join(&endpoint, path);
            let result = self
                .send(
                    service,
                    method.clone(),
                    &url,
                    &token.id,
                    body,
                    headers,
                    deadline,
                )
                .await;
            match result {
                Err(OpenStackError::Api { status: 401, .. }) if !reauthenticated => {
                    reauthenticated = true;
                    self.invalidate().await;
                }
                Err(error) if idempotent && error.is_transient() && attempt < MAX_ATTEMPTS => {
                    let backoff = backoff(attempt);
                    if Instant::now() + backoff >= deadline {
                        return Err(error);
                    }
                    tokio::time::sleep(backoff).await;
                }
                other => return other,
            }
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one HTTP call's parts; grouping them would only rename them"
    )]
    async fn send(
        &self,
        service: ServiceType,
        method: Method,
        url: &str,
        token: &str,
        body: Option<&Value>,
        headers: &[(&'static str, String)],
        deadline: Instant,
    ) -> Result<Answer, OpenStackError> {
        let remaining = remaining(deadline)?;
        let mut request = self
            .http
            .request(method, url)
            .header("x-auth-token", token)
            .header(reqwest::header::ACCEPT, JSON)
            .timeout(remaining);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| OpenStackError::from_transport(e, remaining))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(redirected(service.name(), status, response.headers()));
        }
        let response_headers = response.headers().clone();
        let bytes = read_body(
            service.name(),
            response,
            ANSWER_BODY_LIMIT,
            status,
            remaining,
        )
        .await?;
        if status.is_success() {
            Ok(Answer {
                status,
                headers: response_headers,
                body: bytes,
            })
        } else {
            Err(api_error(service.name(), status, &bytes))
        }
    }

    /// Sends a streamed body (image data) and returns once the site has answered.
    /// `deadline` bounds signing in and the wait for the answer's headers only after the
    /// body is sent, so a multi-GiB upload is never cut by it; a stalled transfer is
    /// ended by the connection's own timeouts.
    pub async fn upload(
        &self,
        service: ServiceType,
        path: &str,
        body: reqwest::Body,
        deadline: Instant,
    ) -> Result<Answer, OpenStackError> {
        self.refuse_if_down(service)?;
        let token = self.token(deadline).await?;
        let endpoint = self.endpoint(&token, service)?;
        let response = self
            .http
            .put(join(&endpoint, path))
            .header("x-auth-token", &token.id)
            .header(reqwest::header::ACCEPT, JSON)
            .header("content-type", "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                OpenStackError::from_transport(e, remaining(deadline).unwrap_or_default())
            })?;
        finish(service, response, deadline).await
    }

    /// Starts a streamed download: the answer's headers arrive within `deadline`, the
    /// body is read by the caller at its own pace.
    pub async fn download(
        &self,
        service: ServiceType,
        path: &str,
        deadline: Instant,
    ) -> Result<reqwest::Response, OpenStackError> {
        self.refuse_if_down(service)?;
        let token = self.token(deadline).await?;
        let endpoint = self.endpoint(&token, service)?;
        let left = remaining(deadline)?;
        let sent = tokio::time::timeout(
            left,
            self.http
                .get(join(&endpoint, path))
                .header("x-auth-token", &token.id)
                // Data when it works, an error the console can read when it does not.
                .header(
                    reqwest::header::ACCEPT,
                    "application/octet-stream, application/json",
                )
                .send(),
        )
        .await
        .map_err(|_| OpenStackError::Timeout(left))?
        .map_err(|e| OpenStackError::from_transport(e, left))?;
        if sent.status().is_success() {
            return Ok(sent);
        }
        Err(finish(service, sent, deadline)
            .await
            .err()
            .unwrap_or(OpenStackError::BadResponse {
                service: service.name(),
                detail: "download failed".into(),
            }))
    }

    /// A GET whose JSON answer is decoded into `T`.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        service: ServiceType,
        path: &str,
        headers: &[(&'static str, String)],
        deadline: Instant,
    ) -> Result<T, OpenStackError> {
        let answer = self
            .call(service, Method::GET, path, None, headers, deadline)
            .await?;
        serde_json::from_slice(&answer.body).map_err(|e| OpenStackError::BadResponse {
            service: service.name(),
            detail: e.to_string(),
        })
    }

    /// Nova's supported microversions, asked once.
    pub async fn compute_versions(
        &self,
        deadline: Instant,
    ) -> Result<((u16, u16), (u16, u16)), OpenStackError> {
        #[derive(Deserialize)]
        struct VersionDoc {
            version: VersionFields,
        }
        #[derive(Deserialize)]
        struct VersionFields {
            #[serde(default)]
            min_version: String,
            #[serde(default)]
            version: String,
        }
        self.compute_versions
            .get_or_try_init(|| async {
                let doc: VersionDoc = self
                    .get_json(ServiceType::Compute, "", &[], deadline)
                    .await?;
                let min = parse_microversion(&doc.version.min_version).unwrap_or((2, 1));
                let max = parse_microversion(&doc.version.version).unwrap_or((2, 1));
                Ok((min, max))
            })
            .await
            .copied()
    }

    /// The aliases of the extensions the site's Neutron offers (`auto-allocated-topology`,
    /// `quota_details`, …), asked once.
    pub async fn network_extensions(
        &self,
        deadline: Instant,
    ) -> Result<Arc<std::collections::BTreeSet<String>>, OpenStackError> {
        #[derive(Deserialize)]
        struct Extensions {
            extensions: Vec<Extension>,
        }
        #[derive(Deserialize)]
        struct Extension {
            alias: String,
        }
        self.network_extensions
            .get_or_try_init(|| async {
                let list: Extensions = self
                    .get_json(ServiceType::Network, "v2.0/extensions", &[], deadline)
                    .await?;
                Ok(Arc::new(
                    list.extensions.into_iter().map(|e| e.alias).collect(),
                ))
            })
            .await
            .cloned()
    }

    /// The cheap liveness check: Keystone's unauthenticated version document. Returns the
    /// round trip; a 5xx answer is an `Api` error (the site is up but unwell).
    pub async fn liveness(&self, timeout: Duration) -> Result<Duration, OpenStackError> {
        let started = Instant::now();
        let response = self
            .http
            .get(&self.auth.auth_url)
            .header(reqwest::header::ACCEPT, JSON)
            .timeout(timeout)
            .send()
            .await
            .map_err(|e| OpenStackError::from_transport(e, timeout))?;
        let status = response.status();
        if status.is_server_error() {
            return Err(OpenStackError::Api {
                service: "identity",
                status: status.as_u16(),
                message: format!("identity answered {status}"),
                fault: None,
            });
        }
        Ok(started.elapsed())
    }

    /// Signs in afresh and reads what the site offers: a reachability and credential check
    /// whose latency is the site's round trip to Keystone.
    pub async fn probe(&self, deadline: Instant) -> Result<Probe, OpenStackError> {
        let started = Instant::now();
        let token = self.sign_in(deadline).await?;
        let latency = started.elapsed();
        *self.token.lock().await = Some(token.clone());
        let mut capabilities = BTreeMap::new();
        for service in ServiceType::ALL {
            if token
                .catalog
                .offers(service, &self.auth.interface, self.auth.region.as_deref())
            {
                capabilities.insert(service.name().to_owned(), String::new());
            }
        }
        if capabilities.contains_key("compute") {
            if let Ok((min, max)) = self.compute_versions(deadline).await {
                capabilities.insert(
                    "compute".into(),
                    format!("{}.{}-{}.{}", min.0, min.1, max.0, max.1),
                );
            }
        }
        if capabilities.contains_key("network") {
            if let Ok(aliases) = self.network_extensions(deadline).await {
                if aliases.contains(AUTO_ALLOCATION_EXTENSION) {
                    capabilities.insert(
                        "network".into(),
                        overcast_api_types::l1::AUTO_ALLOCATION.into(),
                    );
                }
            }
        }
        // A catalog with endpoints, none for this region and interface: every call would
        // be a 404 "no such service"; say so instead of calling the site online.
        let problem = (capabilities.is_empty() && !token.catalog.is_empty()).then(|| {
            let regions: Vec<&str> = token.catalog.regions().into_iter().collect();
            format!(
                "the catalog has no {} endpoint in region {}; its regions: {}",
                self.auth.interface,
                self.auth.region.as_deref().unwrap_or("(any)"),
                if regions.is_empty() {
                    "none named".to_owned()
                } else {
                    regions.join(", ")
                }
            )
        });
        Ok(Probe {
            latency,
            capabilities,
            problem,
        })
    }
}

/// Neutron's extension behind Nova's `"networks": "auto"`.
pub const AUTO_ALLOCATION_EXTENSION: &str = "auto-allocated-topology";

/// What a probe learned.
#[derive(Debug, Clone)]
pub struct Probe {
    pub latency: Duration,
    pub capabilities: BTreeMap<String, String>,
    /// Why the site cannot be used as configured although it answered.
    pub problem: Option<String>,
}

/// Reads an answer's body and turns an error status into `OpenStackError::Api`.
async fn finish(
    service: ServiceType,
    response: reqwest::Response,
    deadline: Instant,
) -> Result<Answer, OpenStackError> {
    let status = response.status();
    if status.is_redirection() {
        return Err(redirected(service.name(), status, response.headers()));
    }
    let headers = response.headers().clone();
    let left = remaining(deadline).unwrap_or(Duration::from_secs(5));
    let body = tokio::time::timeout(
        left,
        read_body(service.name(), response, ANSWER_BODY_LIMIT, status, left),
    )
    .await
    .map_err(|_| OpenStackError::Timeout(left))??;
    if status.is_success() {
        Ok(Answer {
            status,
            headers,
            body,
        })
    } else {
        Err(api_error(service.name(), status, &body))
    }
}

/// The most a sign-in answer (a token and its catalog) may weigh: real catalogs are
/// tens of KiB, so this is generous and still keeps a hostile site from filling memory.
const TOKEN_BODY_LIMIT: usize = 8 * 1024 * 1024;
/// The most any other JSON answer may weigh: a page of 1,000 Nova servers in detail is
/// about 5 MiB. Image data never goes through here; it is streamed.
const ANSWER_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Of an error answer only the start is read: the message is cut to 512 characters anyway.
const ERROR_BODY_LIMIT: usize = 64 * 1024;

/// Reads an answer's body, at most `limit` bytes of a successful one (more is that
/// site's error, not the console's memory) and the first `ERROR_BODY_LIMIT` bytes of
/// an error.
async fn read_body(
    service: &'static str,
    mut response: reqwest::Response,
    limit: usize,
    status: StatusCode,
    wait: Duration,
) -> Result<bytes::Bytes, OpenStackError> {
    let too_large = || OpenStackError::BadResponse {
        service,
        detail: format!(
            "the answer is larger than {} MiB, the most Overcast reads from a site for one call",
            limit / (1024 * 1024)
        ),
    };
    let error = !status.is_success();
    if !error
        && response
            .content_length()
            .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| OpenStackError::from_transport(e, wait))?
    {
        if error {
            let room = ERROR_BODY_LIMIT.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if body.len() >= ERROR_BODY_LIMIT {
                break;
            }
        } else if body.len() + chunk.len() > limit {
            return Err(too_large());
        } else {
            body.extend_from_slice(&chunk);
        }
    }
    Ok(body.freeze())
}

/// The console never follows a redirect: a 307 or 308 would re-send the site's password
/// (or a token) to wherever the answer points, another host or the console itself.
fn redirected(
    service: &'static str,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> OpenStackError {
    let location = headers
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(no location)");
    OpenStackError::Api {
        service,
        status: status.as_u16(),
        message: format!(
            "redirected to {location}; Overcast does not follow redirects, which would re-send \
             the site's credentials elsewhere: register the URL the site really answers on"
        ),
        fault: None,
    }
}

fn remaining(deadline: Instant) -> Result<Duration, OpenStackError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(OpenStackError::Timeout(Duration::ZERO))
    } else {
        Ok(left)
    }
}

/// Exponential backoff with full jitter: 100 ms, 200 ms, … each scaled by a random factor.
fn backoff(attempt: u32) -> Duration {
    let ceiling = 100u64.saturating_mul(1 << attempt.min(6));
    Duration::from_millis(rand::thread_rng().gen_range(ceiling / 2..=ceiling))
}

fn join(endpoint: &str, path: &str) -> String {
    if path.is_empty() {
        endpoint.to_owned()
    } else {
        format!("{endpoint}/{}", path.trim_start_matches('/'))
    }
}

pub fn parse_microversion(text: &str) -> Option<(u16, u16)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microversions_parse() {
        assert_eq!(parse_microversion("2.96"), Some((2, 96)));
        assert_eq!(parse_microversion("2"), None);
        assert_eq!(parse_microversion(""), None);
    }

    #[test]
    fn paths_join_with_one_slash() {
        assert_eq!(
            join("http://a/compute/v2.1", "/servers"),
            "http://a/compute/v2.1/servers"
        );
        assert_eq!(
            join("http://a/compute/v2.1", "servers"),
            "http://a/compute/v2.1/servers"
        );
        assert_eq!(join("http://a/compute/v2.1", ""), "http://a/compute/v2.1");
    }

    #[test]
    fn backoff_grows_and_stays_bounded() {
        assert!(backoff(1) <= Duration::from_millis(200));
        assert!(backoff(3) >= Duration::from_millis(400));
        assert!(backoff(60) <= Duration::from_millis(6400));
    }
}
