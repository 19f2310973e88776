//! The federated catalog: every site's images grouped by their content.

use std::collections::BTreeMap;

use overcast_api_types::images::{CatalogEntry, CatalogSite, ImageCatalog, ImageRef};
use overcast_api_types::l1::Image;
use overcast_api_types::{SiteAnswer, SiteAnswerStatus};
use serde_json::Value;

/// One site's images as the console read them (live or from its inventory).
pub struct SiteImages {
    pub answer: SiteAnswer,
    pub images: Vec<Value>,
}

/// Groups by sha512; entries with the most sites first, then by name. Sites that did not
/// answer keep their last-known images, marked with the time they were read; a site with
/// nothing known is in `sites` with its status, never left out.
pub fn catalog(sites: BTreeMap<String, SiteImages>, name: Option<&str>) -> ImageCatalog {
    let mut by_content: BTreeMap<String, CatalogEntry> = BTreeMap::new();
    let mut answers = BTreeMap::new();
    for (site, read) in sites {
        let stale_since = (read.answer.status == SiteAnswerStatus::Stale)
            .then(|| read.answer.as_of.clone())
            .flatten();
        for image in read
            .images
            .into_iter()
            .filter_map(|v| serde_json::from_value::<Image>(v).ok())
        {
            if name
                .is_some_and(|wanted| !image.name.as_deref().unwrap_or_default().contains(wanted))
            {
                continue;
            }
            let key = match &image.hash {
                Some(hash) => format!("sha512:{hash}"),
                None => format!("image:{site}/{}", image.id),
            };
            let entry = by_content.entry(key).or_insert_with(|| CatalogEntry {
                sha512: image.hash.clone(),
                name: None,
                names: Vec::new(),
                size: image.size,
                disk_format: image.disk_format.clone(),
                container_format: image.container_format.clone(),
                sites: Vec::new(),
            });
            if let Some(name) = &image.name {
                entry.names.push(name.clone());
            }
            entry.sites.push(CatalogSite {
                site: site.clone(),
                image_id: image.id,
                status: image.status,
                stale_since: stale_since.clone(),
            });
        }
        answers.insert(site, read.answer);
    }
    let mut items: Vec<CatalogEntry> = by_content
        .into_values()
        .map(|mut entry| {
            entry.name = most_common(&entry.names);
            entry.names.sort();
            entry.names.dedup();
            entry
        })
        .collect();
    items.sort_by(|a, b| {
        b.sites
            .len()
            .cmp(&a.sites.len())
            .then_with(|| a.name.cmp(&b.name))
    });
    ImageCatalog {
        items,
        sites: answers,
    }
}

/// An active copy, on a site that answered, of a content that carries exactly this name:
/// where a boot by name copies from when its target has no such image.
pub fn first_live_copy_named(catalog: ImageCatalog, name: &str) -> Option<ImageRef> {
    catalog
        .items
        .into_iter()
        .filter(|entry| entry.sha512.is_some() && entry.names.iter().any(|n| n == name))
        .find_map(|entry| {
            entry
                .sites
                .into_iter()
                .find(|s| s.status == "active" && s.stale_since.is_none())
                .map(|s| ImageRef {
                    site: s.site,
                    image_id: s.image_id,
                })
        })
}

fn most_common(names: &[String]) -> Option<String> {
    let mut counts = BTreeMap::<&str, usize>::new();
    for name in names {
        *counts.entry(name).or_default() += 1;
    }
    // Ties go to the first name in order, so the answer does not change between reads.
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(name, _)| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(id: &str, name: &str, hash: Option<&str>, status: &str) -> Value {
        json!({"id": id, "name": name, "status": status, "visibility": "public", "size": 10,
               "disk_format": "qcow2", "container_format": "bare", "checksum": null,
               "hash": hash, "owner": null, "created_at": null})
    }

    fn answer(status: SiteAnswerStatus, as_of: &str) -> SiteAnswer {
        SiteAnswer {
            status,
            latency_ms: None,
            as_of: Some(as_of.into()),
            error: None,
        }
    }

    #[test]
    fn copies_of_one_content_are_one_entry_and_stale_sites_are_marked() {
        let sites = BTreeMap::from([
            (
                "site-001".to_owned(),
                SiteImages {
                    answer: answer(SiteAnswerStatus::Ok, "t1"),
                    images: vec![
                        image("a1", "ubuntu", Some("h1"), "active"),
                        image("q1", "new", None, "queued"),
                    ],
                },
            ),
            (
                "site-002".to_owned(),
                SiteImages {
                    answer: answer(SiteAnswerStatus::Stale, "t0"),
                    images: vec![image("a2", "ubuntu-24.04", Some("h1"), "active")],
                },
            ),
            (
                "site-003".to_owned(),
                SiteImages {
                    answer: answer(SiteAnswerStatus::Ok, "t1"),
                    images: vec![
                        image("a3", "ubuntu", Some("h1"), "active"),
                        image("b3", "debian", Some("h2"), "active"),
                    ],
                },
            ),
            (
                "site-004".to_owned(),
                SiteImages {
                    answer: SiteAnswer {
                        status: SiteAnswerStatus::Unreachable,
                        latency_ms: None,
                        as_of: None,
                        error: Some("down".into()),
                    },
                    images: vec![],
                },
            ),
        ]);
        let catalog = catalog(sites, None);
        let ubuntu = &catalog.items[0];
        assert_eq!(ubuntu.sha512.as_deref(), Some("h1"));
        assert_eq!(ubuntu.name.as_deref(), Some("ubuntu"));
        assert_eq!(ubuntu.names, vec!["ubuntu", "ubuntu-24.04"]);
        let held: Vec<_> = ubuntu
            .sites
            .iter()
            .map(|s| (s.site.as_str(), s.stale_since.as_deref()))
            .collect();
        assert_eq!(
            held,
            vec![
                ("site-001", None),
                ("site-002", Some("t0")),
                ("site-003", None)
            ]
        );
        assert_eq!(
            catalog.items.len(),
            3,
            "ubuntu, debian, and the queued image on its own"
        );
        assert!(catalog
            .items
            .iter()
            .any(|e| e.sha512.is_none() && e.sites[0].image_id == "q1"));
        assert_eq!(
            catalog.sites["site-004"].status,
            SiteAnswerStatus::Unreachable
        );
    }

    #[test]
    fn a_name_narrows_the_catalog() {
        let sites = BTreeMap::from([(
            "site-001".to_owned(),
            SiteImages {
                answer: answer(SiteAnswerStatus::Ok, "t"),
                images: vec![
                    image("a", "ubuntu", Some("h1"), "active"),
                    image("b", "debian", Some("h2"), "active"),
                ],
            },
        )]);
        let catalog = catalog(sites, Some("deb"));
        assert_eq!(catalog.items.len(), 1);
        assert_eq!(catalog.items[0].name.as_deref(), Some("debian"));
    }
}
