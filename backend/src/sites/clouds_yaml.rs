//! Reading clouds.yaml, the file OpenStack users already have, into site registrations.

use std::collections::BTreeMap;

use overcast_api_types::{NewSite, SiteCredentials};
use serde_yaml::Value;

/// One cloud of the file: a registration, or why it cannot be one.
pub type Entry = (String, Result<NewSite, String>);

/// Parses a clouds.yaml. The common keys are understood: `auth.auth_url`, `username`,
/// `password`, `project_name`/`project_id`, `user_domain_name`/`user_domain_id`,
/// `project_domain_name`/`project_domain_id`, `application_credential_id`/`_secret`,
/// `auth_type`, `region_name`, `interface`, `verify`, `cacert`. Every cloud gets `labels`.
pub fn parse(text: &str, labels: &BTreeMap<String, String>) -> Result<Vec<Entry>, String> {
    let document: Value = serde_yaml::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let clouds = document
        .get("clouds")
        .and_then(Value::as_mapping)
        .ok_or("a clouds.yaml has a top-level `clouds:` mapping")?;
    Ok(clouds
        .iter()
        .map(|(name, cloud)| {
            let name = name
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{name:?}"));
            let entry = cloud_to_site(&name, cloud, labels);
            (name, entry)
        })
        .collect())
}

fn text(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn cloud_to_site(
    name: &str,
    cloud: &Value,
    labels: &BTreeMap<String, String>,
) -> Result<NewSite, String> {
    let auth = cloud.get("auth").ok_or("no `auth` section")?;
    let auth_url = text(auth, "auth_url").ok_or("no `auth.auth_url`")?;
    let auth_type = text(cloud, "auth_type").unwrap_or_else(|| "password".into());
    let credentials = match auth_type.as_str() {
        "password" | "v3password" => SiteCredentials::Password {
            username: text(auth, "username").ok_or("no `auth.username`")?,
            password: text(auth, "password")
                .ok_or("no `auth.password` (Overcast cannot prompt for one)")?,
            project_name: text(auth, "project_name")
                .or_else(|| text(auth, "project_id"))
                .ok_or("no `auth.project_name`")?,
            user_domain_name: text(auth, "user_domain_name")
                .or_else(|| text(auth, "user_domain_id"))
                .unwrap_or_else(|| "Default".into()),
            project_domain_name: text(auth, "project_domain_name")
                .or_else(|| text(auth, "project_domain_id"))
                .unwrap_or_else(|| "Default".into()),
        },
        "v3applicationcredential" | "application_credential" => {
            SiteCredentials::ApplicationCredential {
                id: text(auth, "application_credential_id").ok_or(
                    "no `auth.application_credential_id` (lookup by name is not supported)",
                )?,
                secret: text(auth, "application_credential_secret")
                    .ok_or("no `auth.application_credential_secret`")?,
            }
        }
        other => {
            return Err(format!(
                "auth_type {other:?} is not supported (password or v3applicationcredential)"
            ))
        }
    };
    let insecure = matches!(cloud.get("verify"), Some(Value::Bool(false)));
    let ca_bundle = match text(cloud, "cacert") {
        Some(path) => Some(std::fs::read_to_string(&path).map_err(|e| {
            format!("cacert {path}: {e} (the file must exist on the console's machine)")
        })?),
        None => None,
    };
    Ok(NewSite {
        name: name.to_owned(),
        auth_url,
        region: text(cloud, "region_name"),
        interface: text(cloud, "interface"),
        labels: labels.clone(),
        credentials,
        insecure,
        ca_bundle,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
clouds:
  edge-paris:
    auth:
      auth_url: https://paris.example:5000/v3
      username: admin
      password: s3cret
      project_name: admin
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    interface: public
    verify: false
  edge-lyon:
    auth_type: v3applicationcredential
    auth:
      auth_url: https://lyon.example:5000/v3
      application_credential_id: abc
      application_credential_secret: xyz
  broken:
    auth:
      username: nobody
"#;

    #[test]
    fn common_keys_become_registrations() {
        let labels = BTreeMap::from([("region".to_owned(), "eu".to_owned())]);
        let entries = parse(FILE, &labels).unwrap_or_default();
        assert_eq!(entries.len(), 3);
        let paris = entries
            .iter()
            .find(|(n, _)| n == "edge-paris")
            .and_then(|(_, e)| e.as_ref().ok())
            .cloned();
        let paris = paris.unwrap_or_else(|| panic!("paris parsed"));
        assert!(paris.insecure);
        assert_eq!(paris.region.as_deref(), Some("RegionOne"));
        assert_eq!(paris.labels, labels);
        let lyon = entries
            .iter()
            .find(|(n, _)| n == "edge-lyon")
            .map(|(_, e)| e.is_ok());
        assert_eq!(lyon, Some(true));
        let broken = entries
            .iter()
            .find(|(n, _)| n == "broken")
            .and_then(|(_, e)| e.clone().err());
        assert_eq!(broken.as_deref(), Some("no `auth.auth_url`"));
    }

    #[test]
    fn files_that_are_not_clouds_yaml_are_refused() {
        assert!(parse("not: [valid", &BTreeMap::new()).is_err());
        assert!(parse("servers: {}", &BTreeMap::new()).is_err());
    }
}
