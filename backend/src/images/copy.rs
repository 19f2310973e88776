//! One image copied to one target site: found there already by its content, or created
//! with the source's metadata, uploaded from the spool and checked by the target's own
//! hash.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, Weak};
use std::time::Duration;

use futures::StreamExt;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio::time::Instant;

pub use overcast_api_types::images::ImageRef;

use super::spool::{SourceKey, SourceStream, Spool, Spooled};
use crate::federation::SessionPool;
use crate::resources::{Failure, SiteOps};

/// Custom properties every copy carries: where it came from, to be found again.
pub const ORIGIN_SITE: &str = "overcast_origin_site";
pub const ORIGIN_IMAGE: &str = "overcast_origin_image_id";
/// The tag every copy carries, for people looking at the site's Glance directly.
pub const COPY_TAG: &str = "overcast-copy";

/// Longest a copy to one target may take; long enough for tens of GiB over a slow link.
const COPY_DEADLINE: Duration = Duration::from_secs(12 * 3600);
/// Time to open the source and read its record.
const SOURCE_DEADLINE: Duration = Duration::from_secs(30);

/// Fields of a Glance record that Glance sets itself and a create refuses (or, for
/// `os_glance_*`, reserves), so a copy leaves them out.
const GLANCE_OWNED: &[&str] = &[
    "id",
    "status",
    "owner",
    "size",
    "virtual_size",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "created_at",
    "updated_at",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "stores",
    "protected",
];

/// `image.copy`'s parameters: the image to copy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageCopy {
    pub source: ImageRef,
}

/// `image.delete_copies`'s parameters: the content whose copies go.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteCopies {
    pub sha512: String,
}

/// Whether a text is a sha512 as Glance writes it: 128 hexadecimal digits.
pub fn is_sha512(text: &str) -> bool {
    text.len() == 128 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Removes from one site the copies of this content that Overcast made (tagged
/// [`COPY_TAG`]), never an image someone uploaded there.
pub async fn delete_copies(target: &SiteOps, delete: &DeleteCopies) -> Result<Value, Failure> {
    let sha512 = delete.sha512.to_ascii_lowercase();
    let mut deleted = Vec::new();
    let holding = target
        .images()
        .await?
        .into_iter()
        .filter(|i| i.hash.as_deref() == Some(sha512.as_str()));
    for image in holding {
        let record = target.image_record(&image.id).await?;
        let is_copy = record["tags"]
            .as_array()
            .is_some_and(|tags| tags.iter().any(|t| t == COPY_TAG));
        if !is_copy {
            continue;
        }
        if record["protected"] == true {
            return Err(Failure::Permanent(format!(
                "the copy {} is protected: unprotect it on the site to delete it",
                image.id
            )));
        }
        target.delete_image(&image.id).await?;
        deleted.push(image.id);
    }
    Ok(match deleted.is_empty() {
        true => json!({"outcome": "absent"}),
        false => json!({"outcome": "deleted", "ids": deleted}),
    })
}

/// Bytes sent to a target so far, of how many.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sent {
    pub done: u64,
    pub total: Option<u64>,
}

pub struct ImageCopier {
    sessions: SessionPool,
    spool: Arc<Spool>,
    /// One turn per target site and content: two boots that need the same image at the
    /// same site copy it once; the second finds the first's copy. Entries of copies that
    /// ended are dropped on the next turn taken, so the map holds only copies under way.
    turns: std::sync::Mutex<HashMap<(String, String), Weak<Turn>>>,
}

/// Held by the copy of one content to one site that runs.
type Turn = tokio::sync::Mutex<()>;

impl ImageCopier {
    pub fn new(sessions: SessionPool, spool: Arc<Spool>) -> Self {
        ImageCopier {
            sessions,
            spool,
            turns: std::sync::Mutex::default(),
        }
    }

    fn turn(&self, site: &str, sha512: &str) -> Arc<Turn> {
        let mut turns = self.turns.lock().unwrap_or_else(PoisonError::into_inner);
        turns.retain(|_, turn| turn.strong_count() > 0);
        let key = (site.to_owned(), sha512.to_owned());
        if let Some(turn) = turns.get(&key).and_then(Weak::upgrade) {
            return turn;
        }
        let turn = Arc::new(Turn::new(()));
        turns.insert(key, Arc::downgrade(&turn));
        turn
    }

    /// The deadline a whole copy to one target gets; the engine's shorter one is for
    /// API calls.
    pub fn deadline() -> Instant {
        Instant::now() + COPY_DEADLINE
    }

    /// Copies the image to the site `target` works on, reporting bytes as they go.
    pub async fn copy(
        &self,
        target: &SiteOps,
        copy: &ImageCopy,
        sent: impl Fn(Sent) + Send + Sync + 'static,
    ) -> Result<Value, Failure> {
        let source = &copy.source;
        if target.site == source.site {
            return Ok(json!({"outcome": "is_source", "image_id": source.image_id}));
        }
        let key = SourceKey {
            site: source.site.clone(),
            image_id: source.image_id.clone(),
        };
        // The record first: a source that is gone or not active fails the copy for good,
        // while a source that does not answer makes the copy wait for it.
        let spooled = self.spool.finished(&key).await;
        let record = match &spooled {
            Some(spooled) => spooled.record.clone(),
            None => self.source_record(source).await?,
        };
        let entry = self
            .spool
            .entry(&key, || self.open_source(source, record.clone()))
            .await
            .map_err(|e| Failure::Unreachable(format!("source {}: {e}", source.site)))?;
        let expected = match known_sha512(&record) {
            Some(hash) => hash,
            None => entry
                .finished()
                .await
                .map_err(source_failed)?
                .sha512
                .clone(),
        };
        // Without a turn, a second copy would take the first's upload under way for one
        // an earlier attempt left broken, and delete it.
        let turn = self.turn(&target.site, &expected);
        let _turn = turn.lock().await;
        let found = target.images().await?;
        if let Some(present) = found
            .iter()
            .find(|i| i.status == "active" && i.hash.as_deref() == Some(expected.as_str()))
        {
            return Ok(json!({"outcome": "already_present", "image_id": present.id}));
        }
        // A copy an earlier attempt left half-uploaded is removed, never resumed.
        for broken in found.iter().filter(|i| i.status != "active") {
            if self.is_copy_of(target, &broken.id, source).await {
                target.delete_image(&broken.id).await?;
            }
        }

        let created = target
            .create_image_record(&copy_record(&record, source))
            .await?;
        let total = record["size"].as_u64();
        let mut done = 0u64;
        let data = entry.reader().map(move |chunk| {
            if let Ok(bytes) = &chunk {
                done += bytes.len() as u64;
                sent(Sent { done, total });
            }
            chunk
        });
        if let Err(error) = target
            .upload_image(&created.id, reqwest::Body::wrap_stream(data))
            .await
        {
            // Glance may keep the record `queued` or `saving`; the next attempt must not
            // find it and take it for a copy.
            let _ = target.delete_image(&created.id).await;
            return Err(match entry.fill() {
                super::spool::Fill::Failed(why) => {
                    Failure::Unreachable(format!("source {}: {why}", source.site))
                }
                _ => error.into(),
            });
        }
        let spooled = entry.finished().await.map_err(source_failed)?;
        let shown = target.image_record(&created.id).await?;
        if let Err(why) = verify(&shown, &spooled) {
            let _ = target.delete_image(&created.id).await;
            return Err(Failure::Permanent(why));
        }
        if record["protected"] == true {
            target
                .patch_image(
                    &created.id,
                    &json!([{"op": "replace", "path": "/protected", "value": true}]),
                )
                .await?;
        }
        Ok(json!({"outcome": "copied", "image_id": created.id, "bytes": spooled.size}))
    }

    /// The sha512 of an active image of a site, from its record.
    pub async fn content_of(&self, image: &ImageRef) -> Result<String, String> {
        let record = self
            .source_record(image)
            .await
            .map_err(|failure| match failure {
                Failure::Unreachable(m) | Failure::Transient(m) | Failure::Permanent(m) => m,
            })?;
        known_sha512(&record).ok_or_else(|| {
            format!(
                "image {} on {} has no sha512 (os_hash_value): its Glance is older than Rocky",
                image.image_id, image.site
            )
        })
    }

    async fn source_ops(&self, source: &ImageRef, deadline: Instant) -> Result<SiteOps, Failure> {
        let session = self
            .sessions
            .session(&source.site)
            .await
            .map_err(|e| Failure::Permanent(format!("source {}: {e}", source.site)))?;
        Ok(SiteOps::new(source.site.clone(), session, deadline))
    }

    async fn source_record(&self, source: &ImageRef) -> Result<Value, Failure> {
        let ops = self
            .source_ops(source, Instant::now() + SOURCE_DEADLINE)
            .await?;
        let record = ops.image_record(&source.image_id).await.map_err(|e| {
            let failure = Failure::from(e);
            match failure {
                Failure::Permanent(m) => Failure::Permanent(format!("source {}: {m}", source.site)),
                other => other,
            }
        })?;
        if record["status"] != "active" {
            return Err(Failure::Permanent(format!(
                "source image {} on {} is {}, not active",
                source.image_id,
                source.site,
                record["status"].as_str().unwrap_or("unknown")
            )));
        }
        Ok(record)
    }

    /// The source's data stream, with its record, for the spool to read once.
    async fn open_source(
        &self,
        source: &ImageRef,
        record: Value,
    ) -> Result<(SourceStream, Value), String> {
        let ops = self
            .source_ops(source, ImageCopier::deadline())
            .await
            .map_err(|f| format!("{f:?}"))?;
        let data = ops
            .download_image(&source.image_id)
            .await
            .map_err(|e| e.to_string())?;
        let stream: SourceStream = Box::pin(
            data.response
                .bytes_stream()
                .map(|chunk| chunk.map_err(|e| format!("reading the source: {e}"))),
        );
        Ok((stream, record))
    }

    async fn is_copy_of(&self, target: &SiteOps, id: &str, source: &ImageRef) -> bool {
        target.image_record(id).await.is_ok_and(|r| {
            r[ORIGIN_SITE] == source.site.as_str() && r[ORIGIN_IMAGE] == source.image_id.as_str()
        })
    }
}

fn source_failed(error: super::spool::SpoolError) -> Failure {
    Failure::Unreachable(format!("source: {error}"))
}

/// The source's sha512 where its Glance computed one.
fn known_sha512(record: &Value) -> Option<String> {
    (record["os_hash_algo"] == "sha512")
        .then(|| record["os_hash_value"].as_str().map(str::to_owned))
        .flatten()
}

/// The record a copy is created with: the source's name, formats, sizes, visibility,
/// tags and custom properties, without what Glance sets itself, plus where it came from.
pub fn copy_record(record: &Value, source: &ImageRef) -> Value {
    let mut copy = Map::new();
    if let Some(fields) = record.as_object() {
        for (key, value) in fields {
            if GLANCE_OWNED.contains(&key.as_str())
                || key.starts_with("os_glance")
                || value.is_null()
            {
                continue;
            }
            copy.insert(key.clone(), value.clone());
        }
    }
    let mut tags: Vec<Value> = copy
        .get("tags")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !tags.iter().any(|t| t == COPY_TAG) {
        tags.push(json!(COPY_TAG));
    }
    copy.insert("tags".into(), Value::Array(tags));
    copy.insert(ORIGIN_SITE.into(), json!(source.site));
    copy.insert(ORIGIN_IMAGE.into(), json!(source.image_id));
    Value::Object(copy)
}

/// The target's Glance hashed what it received: it must be what the source holds.
fn verify(shown: &Value, spooled: &Spooled) -> Result<(), String> {
    if shown["status"] != "active" {
        return Err(format!(
            "the copy is {} after its upload, not active",
            shown["status"].as_str().unwrap_or("unknown")
        ));
    }
    let (field, expected) = if shown["os_hash_algo"] == "sha512" {
        ("os_hash_value", spooled.sha512.as_str())
    } else {
        // Glance before Rocky has only the md5 checksum.
        ("checksum", spooled.md5.as_str())
    };
    match shown[field].as_str() {
        Some(got) if got == expected => Ok(()),
        got => Err(format!(
            "the copy's {field} is {} but the source's data hashes to {expected}: the copy was deleted",
            got.unwrap_or("missing")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_keeps_the_metadata_and_says_where_it_came_from() {
        let record = json!({
            "id": "abc", "name": "ubuntu", "status": "active", "owner": "p1", "size": 10,
            "checksum": "m", "os_hash_algo": "sha512", "os_hash_value": "h",
            "disk_format": "qcow2", "container_format": "bare", "min_disk": 3, "min_ram": 512,
            "visibility": "public", "protected": true, "tags": ["lts"], "hw_disk_bus": "scsi",
            "os_glance_import_task": "t", "self": "/v2/images/abc", "file": "/v2/images/abc/file",
            "schema": "/v2/schemas/image", "created_at": "x", "updated_at": "y", "virtual_size": null,
        });
        let source = ImageRef {
            site: "site-002".into(),
            image_id: "abc".into(),
        };
        assert_eq!(
            copy_record(&record, &source),
            json!({
                "name": "ubuntu", "disk_format": "qcow2", "container_format": "bare",
                "min_disk": 3, "min_ram": 512, "visibility": "public",
                "tags": ["lts", "overcast-copy"], "hw_disk_bus": "scsi",
                "overcast_origin_site": "site-002", "overcast_origin_image_id": "abc",
            })
        );
    }

    #[test]
    fn a_copy_is_checked_by_the_targets_own_hash() {
        let spooled = Spooled {
            size: 3,
            sha512: "good".into(),
            md5: "m5".into(),
            record: Value::Null,
        };
        let shown = |status: &str, hash: &str| json!({"status": status, "os_hash_algo": "sha512", "os_hash_value": hash});
        assert_eq!(verify(&shown("active", "good"), &spooled), Ok(()));
        assert!(verify(&shown("active", "bad"), &spooled).is_err_and(|m| m.contains("deleted")));
        assert!(verify(&shown("saving", "good"), &spooled).is_err());
        // An old Glance without os_hash_value: its md5 checksum.
        assert_eq!(
            verify(&json!({"status": "active", "checksum": "m5"}), &spooled),
            Ok(())
        );
    }
}
