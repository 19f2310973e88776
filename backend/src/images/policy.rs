//! Replication policies: where a content must be, against where it is.

use std::collections::BTreeMap;

use overcast_api_types::images::{ImageRef, PolicyDrift};
use overcast_api_types::l1::Image;
use serde_json::Value;

/// One site's copy of the content, as its inventory shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub image_id: String,
    pub active: bool,
}

/// The copy of `sha512` among a site's inventoried images, if any.
pub fn held_in(images: &[Value], sha512: &str) -> Option<Held> {
    images
        .iter()
        .filter_map(|v| serde_json::from_value::<Image>(v.clone()).ok())
        .filter(|i| i.hash.as_deref() == Some(sha512))
        .map(|i| Held {
            active: i.status == "active",
            image_id: i.id,
        })
        .max_by_key(|h| h.active)
}

/// Each target site and whether it holds the content; `holdings` is what the inventory
/// knows (a site absent from it has not been read yet).
pub fn drift(targets: &[String], holdings: &BTreeMap<String, Option<Held>>) -> Vec<PolicyDrift> {
    targets
        .iter()
        .map(|site| {
            let (state, image_id) = match holdings.get(site) {
                None => ("unknown", None),
                Some(Some(held)) if held.active => ("holds", Some(held.image_id.clone())),
                Some(_) => ("missing", None),
            };
            PolicyDrift {
                site: site.clone(),
                state: state.into(),
                image_id,
            }
        })
        .collect()
}

/// Where to copy from: the policy's own image unless the inventory shows its site
/// without it (the inventory may simply not have seen it yet; the copy checks the
/// source anyway), otherwise any site holding an active copy (the first by name, so the
/// choice is stable).
pub fn source(
    preferred: Option<&ImageRef>,
    holdings: &BTreeMap<String, Option<Held>>,
) -> Option<ImageRef> {
    if let Some(preferred) = preferred {
        let gone = holdings.get(&preferred.site).is_some_and(|held| {
            held.as_ref()
                .is_none_or(|h| !h.active || h.image_id != preferred.image_id)
        });
        let elsewhere = holdings
            .values()
            .any(|h| h.as_ref().is_some_and(|h| h.active));
        if !gone || !elsewhere {
            return Some(preferred.clone());
        }
    }
    holdings.iter().find_map(|(site, held)| {
        held.as_ref().filter(|h| h.active).map(|h| ImageRef {
            site: site.clone(),
            image_id: h.image_id.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(id: &str, hash: &str, status: &str) -> Value {
        json!({"id": id, "name": "x", "status": status, "visibility": "public", "size": 1,
               "disk_format": "raw", "container_format": "bare", "checksum": null, "hash": hash,
               "owner": null, "created_at": null})
    }

    #[test]
    fn drift_says_which_sites_hold_lack_or_are_unknown() {
        let holdings = BTreeMap::from([
            (
                "site-001".to_owned(),
                held_in(&[image("a", "h", "active")], "h"),
            ),
            (
                "site-002".to_owned(),
                held_in(&[image("b", "other", "active")], "h"),
            ),
            (
                "site-003".to_owned(),
                held_in(&[image("c", "h", "saving")], "h"),
            ),
        ]);
        let targets: Vec<String> = ["site-001", "site-002", "site-003", "site-004"]
            .map(String::from)
            .into();
        let states: Vec<(String, String)> = drift(&targets, &holdings)
            .into_iter()
            .map(|d| (d.site, d.state))
            .collect();
        assert_eq!(
            states,
            [
                ("site-001", "holds"),
                ("site-002", "missing"),
                ("site-003", "missing"),
                ("site-004", "unknown")
            ]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
        );
    }

    #[test]
    fn the_source_is_the_policys_image_while_it_is_there() {
        let holdings = BTreeMap::from([
            (
                "site-001".to_owned(),
                Some(Held {
                    image_id: "a".into(),
                    active: true,
                }),
            ),
            (
                "site-002".to_owned(),
                Some(Held {
                    image_id: "b".into(),
                    active: true,
                }),
            ),
        ]);
        let preferred = ImageRef {
            site: "site-002".into(),
            image_id: "b".into(),
        };
        assert_eq!(source(Some(&preferred), &holdings), Some(preferred.clone()));
        // Not in the inventory yet: trusted, the copy checks it.
        let unseen = ImageRef {
            site: "site-003".into(),
            image_id: "c".into(),
        };
        assert_eq!(source(Some(&unseen), &holdings), Some(unseen.clone()));
        // Its site is known without it: another holder serves.
        let mut without = holdings.clone();
        without.insert("site-003".into(), None);
        assert_eq!(
            source(Some(&unseen), &without).map(|s| s.site),
            Some("site-001".into())
        );
        assert_eq!(source(None, &BTreeMap::new()), None);
    }
}
