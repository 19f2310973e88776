//! One `SiteSession` per registered site, made on first use and dropped when the site's
//! registration changes, all sharing one HTTP connection pool.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use crate::openstack::{http_client_for, SiteSession, Tls};
use crate::sites::{SiteError, SiteRegistry};

#[derive(Clone)]
pub struct SessionPool {
    http: reqwest::Client,
    registry: SiteRegistry,
    sessions: Arc<RwLock<HashMap<String, Arc<SiteSession>>>>,
}

impl SessionPool {
    pub fn new(http: reqwest::Client, registry: SiteRegistry) -> Self {
        SessionPool {
            http,
            registry,
            sessions: Arc::default(),
        }
    }

    pub async fn session(&self, site: &str) -> Result<Arc<SiteSession>, SiteError> {
        if let Some(session) = self.read().get(site) {
            return Ok(session.clone());
        }
        let auth = self.registry.auth(site).await?;
        let http = match &auth.tls {
            Tls::Default => self.http.clone(),
            // Checked when the site was registered; a failure here means a stored bundle went bad.
            tls => http_client_for(tls).map_err(|e| {
                SiteError::Invalid(vec![overcast_api_types::FieldError {
                    field: "ca_bundle".into(),
                    message: e,
                }])
            })?,
        };
        let session = Arc::new(SiteSession::new(http, auth));
        // Two callers may race here; the first one's session wins and the other is dropped.
        Ok(self
            .write()
            .entry(site.to_owned())
            .or_insert(session)
            .clone())
    }

    /// Forgets a site's session (its registration changed or it left).
    pub fn forget(&self, site: &str) {
        self.write().remove(site);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, Arc<SiteSession>>> {
        self.sessions
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, Arc<SiteSession>>> {
        self.sessions
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
