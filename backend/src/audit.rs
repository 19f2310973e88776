//! The audit log: who did what to which sites, with what outcome. Entries are only ever
//! appended; the API reads them and offers no way to change one.

use overcast_api_types::access::AuditEntry;

use crate::store::{AuditFilter, AuditRow, Store, StoreError};

/// One thing that happened.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub sites: Vec<String>,
    pub outcome: String,
    pub status: Option<u16>,
    pub detail: Option<String>,
}

#[derive(Clone)]
pub struct Audit {
    store: Store,
}

impl Audit {
    pub fn new(store: Store) -> Self {
        Audit { store }
    }

    /// Appends a record. A failed write is logged, never lost silently, and never fails
    /// the operation it describes.
    pub async fn record(&self, record: Record) {
        let row = AuditRow {
            id: 0,
            at: crate::sites::now_rfc3339(),
            sites: serde_json::to_string(&record.sites).unwrap_or_else(|_| "[]".into()),
            actor: record.actor,
            action: record.action,
            target: record.target,
            outcome: record.outcome,
            status: record.status.map(i64::from),
            detail: record.detail,
        };
        if let Err(error) = self.store.append_audit(&row).await {
            tracing::error!(%error, actor = %row.actor, action = %row.action, outcome = %row.outcome, "cannot write the audit log");
        }
    }

    /// Records in the background, for callers that hold a lock or must not wait.
    pub fn record_later(&self, record: Record) {
        let audit = self.clone();
        tokio::spawn(async move { audit.record(record).await });
    }

    pub async fn query(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>, StoreError> {
        Ok(self
            .store
            .query_audit(filter)
            .await?
            .into_iter()
            .map(|row| AuditEntry {
                id: row.id,
                at: row.at,
                actor: row.actor,
                action: row.action,
                target: row.target,
                sites: serde_json::from_str(&row.sites).unwrap_or_default(),
                outcome: row.outcome,
                status: row.status.and_then(|s| u16::try_from(s).ok()),
                detail: row.detail,
            })
            .collect())
    }
}
