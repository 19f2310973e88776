//! The inventory cache: the last-known items of each site, per resource kind.
//!
//! Every successful read of a site refreshes it; a background pass keeps online sites'
//! snapshots from ageing. Reads are served from memory. Snapshots reach the database
//! from a background flusher: only the newest snapshot of each site and kind, serialized
//! off the request path, in one transaction per flush, so a restarted console is not
//! blind and a busy one does not serialize every answer twice.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use overcast_api_types::l1::{Flavor, Image};
use overcast_api_types::InventorySummary;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::resources::{ResourceError, SiteOps};
use crate::sites::rfc3339;
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

    /// The names of `ALL`, in its order: what `overcast ctl list` takes.
    pub const NAMES: [&'static str; 7] = [
        "servers", "images", "flavors", "networks", "volumes", "projects", "users",
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
    /// Typed look-ups made from `items` on first use: once per snapshot, that is once per
    /// change of the site's inventory, not once per request that reads them.
    flavors: OnceLock<HashMap<String, FlavorSize>>,
    active_image_hashes: OnceLock<HashSet<String>>,
}

/// What one server of a flavor takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlavorSize {
    pub vcpus: u32,
    pub ram_mb: u64,
    pub disk_gb: u64,
}

impl Snapshot {
    pub fn new(items: Vec<Value>, as_of: OffsetDateTime) -> Snapshot {
        Snapshot {
            items,
            as_of,
            flavors: OnceLock::new(),
            active_image_hashes: OnceLock::new(),
        }
    }

    /// The flavor of that name, in a snapshot of flavors (the first, if several share it).
    pub fn flavor(&self, name: &str) -> Option<FlavorSize> {
        self.flavors
            .get_or_init(|| {
                let mut by_name = HashMap::with_capacity(self.items.len());
                for item in &self.items {
                    if let Ok(f) = Flavor::deserialize(item) {
                        by_name.entry(f.name).or_insert(FlavorSize {
                            vcpus: f.vcpus,
                            ram_mb: f.ram_mb,
                            disk_gb: f.disk_gb,
                        });
                    }
                }
                by_name
            })
            .get(name)
            .copied()
    }

    /// Whether a snapshot of images has an active image of that sha512.
    pub fn holds_active_image(&self, sha512: &str) -> bool {
        self.active_image_hashes
            .get_or_init(|| {
                self.items
                    .iter()
                    .filter_map(|item| Image::deserialize(item).ok())
                    .filter(|i| i.status == "active")
                    .filter_map(|i| i.hash)
                    .collect()
            })
            .contains(sha512)
    }

    pub fn age(&self) -> Duration {
        (OffsetDateTime::now_utc() - self.as_of)
            .try_into()
            .unwrap_or(Duration::ZERO)
    }
}

type Key = (String, String);

pub struct Inventory {
    entries: RwLock<HashMap<Key, Arc<Snapshot>>>,
    /// Snapshots newer than what the database holds.
    unsaved: std::sync::Mutex<HashMap<Key, Arc<Snapshot>>>,
}

/// How often new snapshots are written: what a restart may miss at most.
const FLUSH_EVERY: Duration = Duration::from_secs(2);
const BATCH: usize = 500;

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
                        Arc::new(Snapshot::new(items, as_of)),
                    );
                }
                _ => {
                    tracing::warn!(site = %row.site, resource = %row.resource, "unreadable inventory snapshot skipped")
                }
            }
        }
        let inventory = Arc::new(Inventory {
            entries: RwLock::new(entries),
            unsaved: std::sync::Mutex::default(),
        });
        tokio::spawn(flush_forever(store, Arc::downgrade(&inventory)));
        Ok(inventory)
    }

    pub fn get(&self, site: &str, resource: &str) -> Option<Arc<Snapshot>> {
        self.read()
            .get(&(site.to_owned(), resource.to_owned()))
            .cloned()
    }

    /// Records a fresh read and returns its time.
    pub fn put(&self, site: &str, resource: &str, items: Vec<Value>) -> OffsetDateTime {
        self.put_as_of(site, resource, items, OffsetDateTime::now_utc())
    }

    /// Records what a site held at `as_of`.
    pub fn put_as_of(
        &self,
        site: &str,
        resource: &str,
        items: Vec<Value>,
        as_of: OffsetDateTime,
    ) -> OffsetDateTime {
        self.put_shared(site, resource, items, as_of).as_of
    }

    /// Records what a site held at `as_of` and returns the snapshot, shared.
    pub fn put_shared(
        &self,
        site: &str,
        resource: &str,
        items: Vec<Value>,
        as_of: OffsetDateTime,
    ) -> Arc<Snapshot> {
        let snapshot = Arc::new(Snapshot::new(items, as_of));
        let key = (site.to_owned(), resource.to_owned());
        self.write().insert(key.clone(), snapshot.clone());
        self.unsaved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key, snapshot.clone());
        snapshot
    }

    /// Drops the items with these ids from a snapshot, keeping its time: what the
    /// console itself deleted is gone, whatever else is as it was read.
    pub fn remove_items(&self, site: &str, resource: &str, ids: &[String]) {
        let Some(current) = self.get(site, resource) else {
            return;
        };
        let gone: std::collections::HashSet<&str> = ids.iter().map(String::as_str).collect();
        let items = current
            .items
            .iter()
            .filter(|item| !item["id"].as_str().is_some_and(|id| gone.contains(id)))
            .cloned()
            .collect();
        self.put_as_of(site, resource, items, current.as_of);
    }

    fn take_unsaved(&self) -> HashMap<Key, Arc<Snapshot>> {
        std::mem::take(
            &mut *self
                .unsaved
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// Totals over `sites`: servers by status, images, volumes, networks, and how old
    /// the oldest snapshot counted is.
    pub fn summary(&self, sites: &[String]) -> InventorySummary {
        let mut summary = InventorySummary::default();
        let mut oldest: Option<OffsetDateTime> = None;
        for site in sites {
            let mut counted = false;
            for kind in [Kind::Servers, Kind::Images, Kind::Volumes, Kind::Networks] {
                let Some(snapshot) = self.get(site, kind.name()) else {
                    continue;
                };
                counted = true;
                oldest = Some(oldest.map_or(snapshot.as_of, |o| o.min(snapshot.as_of)));
                let count = snapshot.items.len() as u64;
                match kind {
                    Kind::Servers => {
                        for server in &snapshot.items {
                            let status = server["status"].as_str().unwrap_or("UNKNOWN");
                            *summary.servers.entry(status.to_owned()).or_default() += 1;
                        }
                    }
                    Kind::Images => summary.images += count,
                    Kind::Volumes => summary.volumes += count,
                    _ => summary.networks += count,
                }
            }
            summary.sites_counted += u64::from(counted);
        }
        summary.oldest_as_of = oldest.map(rfc3339);
        summary
    }

    /// Drops a site that left the console.
    pub fn forget_site(&self, site: &str) {
        self.write().retain(|(s, _), _| s != site);
        self.unsaved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(s, _), _| s != site);
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

/// Writes the newest unsaved snapshots every `FLUSH_EVERY` until the inventory is gone.
async fn flush_forever(store: Store, inventory: std::sync::Weak<Inventory>) {
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(inventory) = inventory.upgrade() else {
            return;
        };
        let unsaved = inventory.take_unsaved();
        drop(inventory);
        let rows: Vec<InventoryRow> = unsaved
            .into_iter()
            .map(|((site, resource), snapshot)| InventoryRow {
                site,
                resource,
                items: serde_json::to_string(&snapshot.items).unwrap_or_else(|_| "[]".into()),
                as_of: rfc3339(snapshot.as_of),
            })
            .collect();
        for batch in rows.chunks(BATCH) {
            // A site removed meanwhile makes its rows fail the foreign key; the rest of
            // the batch is then written one by one.
            if store.save_inventory_batch(batch).await.is_err() {
                for row in batch {
                    if let Err(error) = store.save_inventory(row).await {
                        tracing::debug!(site = %row.site, %error, "inventory snapshot not saved");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshots_typed_look_ups_find_the_first_flavor_of_a_name_and_active_images_only() {
        let flavor = |id: &str, name: &str, vcpus: u32| {
            serde_json::json!({"id": id, "name": name, "vcpus": vcpus, "ram_mb": 512,
                               "disk_gb": 1, "is_public": true})
        };
        let flavors = Snapshot::new(
            vec![
                flavor("1", "m1.small", 1),
                serde_json::json!({"not": "a flavor"}),
                flavor("2", "m1.small", 8),
                flavor("3", "m1.large", 4),
            ],
            OffsetDateTime::now_utc(),
        );
        assert_eq!(flavors.flavor("m1.small").map(|f| f.vcpus), Some(1));
        assert_eq!(flavors.flavor("m1.large").map(|f| f.vcpus), Some(4));
        assert_eq!(flavors.flavor("m1.tiny"), None);
        let image = |id: &str, status: &str, hash: &str| serde_json::json!({"id": id, "name": id, "status": status, "visibility": "public", "hash": hash});
        let images = Snapshot::new(
            vec![image("a", "active", "aaa"), image("b", "queued", "bbb")],
            OffsetDateTime::now_utc(),
        );
        assert!(images.holds_active_image("aaa"));
        assert!(!images.holds_active_image("bbb"));
        assert!(!images.holds_active_image("ccc"));
    }

    #[test]
    fn the_names_are_those_of_all_kinds() {
        let names: Vec<&str> = Kind::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(names, Kind::NAMES);
        assert!(Kind::NAMES.iter().all(|n| Kind::parse(n).is_some()));
    }
}
