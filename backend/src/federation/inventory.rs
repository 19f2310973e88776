//! The inventory cache: the last-known items of each site, per resource kind.
//!
//! Every successful read of a site refreshes it; a background pass keeps online sites'
//! snapshots from ageing. Reads are served from memory; writes reach the database in
//! batches so that a restarted console is not blind, without one transaction per site.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::resources::{ResourceError, SiteOps};
use crate::store::{InventoryRow, Store, StoreError};

/// The resource kinds kept in the inventory and readable across sites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Servers,
    Images,
    Flavors,
    Networks,
    Volumes,
    Projects,
    Users,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Servers,
        Kind::Images,
        Kind::Flavors,
        Kind::Networks,
        Kind::Volumes,
        Kind::Projects,
        Kind::Users,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Servers => "servers",
            Kind::Images => "images",
            Kind::Flavors => "flavors",
            Kind::Networks => "networks",
            Kind::Volumes => "volumes",
            Kind::Projects => "projects",
            Kind::Users => "users",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == text)
    }

    /// Reads this kind from one site, as JSON items.
    pub async fn read(self, ops: SiteOps) -> Result<Vec<Value>, ResourceError> {
        fn values<T: serde::Serialize>(items: Vec<T>) -> Vec<Value> {
            items
                .into_iter()
                .filter_map(|item| serde_json::to_value(item).ok())
                .collect()
        }
        match self {
            Kind::Servers => ops.servers().await.map(values),
            Kind::Images => ops.images().await.map(values),
            Kind::Flavors => ops.flavors().await.map(values),
            Kind::Networks => ops.networks().await.map(values),
            Kind::Volumes => ops.volumes().await.map(values),
            Kind::Projects => ops.projects().await.map(values),
            Kind::Users => ops.users().await.map(values),
        }
    }
}

/// One site's items of one kind, as they were at `as_of`.
#[derive(Debug)]
pub struct Snapshot {
    pub items: Vec<Value>,
    pub as_of: OffsetDateTime,
}

impl Snapshot {
    pub fn age(&self) -> Duration {
        (OffsetDateTime::now_utc() - self.as_of)
            .try_into()
            .unwrap_or(Duration::ZERO)
    }
}

type Key = (String, String);

pub struct Inventory {
    entries: RwLock<HashMap<Key, Arc<Snapshot>>>,
    writes: mpsc::Sender<InventoryRow>,
}

/// Rows waiting for the database; beyond this, writes are dropped (memory stays current,
/// only a restart would see older data).
const WRITE_QUEUE: usize = 20_000;
const BATCH: usize = 500;

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Inventory {
    /// Loads what the database holds and starts the batch writer.
    pub async fn load(store: Store) -> Result<Arc<Inventory>, StoreError> {
        let mut entries = HashMap::new();
        for row in store.load_inventory().await? {
            let items = serde_json::from_str::<Vec<Value>>(&row.items);
            let as_of =
                OffsetDateTime::parse(&row.as_of, &time::format_description::well_known::Rfc3339);
            match (items, as_of) {
                (Ok(items), Ok(as_of)) => {
                    entries.insert(
                        (row.site, row.resource),
                        Arc::new(Snapshot { items, as_of }),
                    );
                }
                _ => {
                    tracing::warn!(site = %row.site, resource = %row.resource, "unreadable inventory snapshot skipped")
                }
            }
        }
        let (writes, queue) = mpsc::channel(WRITE_QUEUE);
        tokio::spawn(write_batches(store, queue));
        Ok(Arc::new(Inventory {
            entries: RwLock::new(entries),
            writes,
        }))
    }

    pub fn get(&self, site: &str, resource: &str) -> Option<Arc<Snapshot>> {
        self.read()
            .get(&(site.to_owned(), resource.to_owned()))
            .cloned()
    }

    /// Records a fresh read and returns its time.
    pub fn put(&self, site: &str, resource: &str, items: Vec<Value>) -> OffsetDateTime {
        let snapshot = Snapshot {
            items,
            as_of: OffsetDateTime::now_utc(),
        };
        let row = InventoryRow {
            site: site.to_owned(),
            resource: resource.to_owned(),
            items: serde_json::to_string(&snapshot.items).unwrap_or_else(|_| "[]".into()),
            as_of: rfc3339(snapshot.as_of),
        };
        let as_of = snapshot.as_of;
        self.write()
            .insert((site.to_owned(), resource.to_owned()), Arc::new(snapshot));
        if self.writes.try_send(row).is_err() {
            tracing::debug!(
                site,
                resource,
                "inventory write queue full; kept in memory only"
            );
        }
        as_of
    }

    /// Drops a site that left the console.
    pub fn forget_site(&self, site: &str) {
        self.write().retain(|(s, _), _| s != site);
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<Key, Arc<Snapshot>>> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<Key, Arc<Snapshot>>> {
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

async fn write_batches(store: Store, mut queue: mpsc::Receiver<InventoryRow>) {
    while let Some(first) = queue.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(row) => batch.push(row),
                Err(_) => break,
            }
        }
        // A site removed meanwhile makes its rows fail the foreign key; the rest of the
        // batch is then written one by one.
        if store.save_inventory_batch(&batch).await.is_err() {
            for row in &batch {
                if let Err(error) = store.save_inventory(row).await {
                    tracing::debug!(site = %row.site, %error, "inventory snapshot not saved");
                }
            }
        }
    }
}
