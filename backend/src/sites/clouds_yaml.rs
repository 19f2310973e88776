//! Reading clouds.yaml, the file OpenStack users already have, into site registrations.

use std::collections::BTreeMap;

use overcast_api_types::{NewSite, SiteCredentials};
use serde_yaml::Value;

/// One cloud of the file: a registration, or why it cannot be one.
pub type Entry = (String, Result<NewSite, String>);

/// Parses a clouds.yaml. The common keys are understood: `auth.auth_url`, `username`,
/// `password`, `project_name`/`project_id`, `user_domain_name`/`user_domain_id`,
/// `project_domain_name`/`project_domain_id`, `application_credential_id`/`_secret`,
/// `auth_type`, `region_name`, `interface`, `verify`, and `ca_bundle` (the CA's PEM text).
/// Every cloud gets `labels`.
///
/// `cacert` is refused: in an uploaded file it names a file on the uploader's machine,
/// and reading the console's own files on a caller's say-so would let anyone probe them
/// (or hang the import on a FIFO). `overcast ctl sites import` reads the file locally
/// and sends its content as `ca_bundle` ([`inline_ca_files`]).
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

const CACERT_REFUSED: &str = "`cacert` names a file on your machine, which the console does not \
     read: put the CA's PEM text in `ca_bundle`, or import with `overcast ctl sites import`, \
     which reads the file and sends its content";

/// Replaces every cloud's `cacert: PATH` by `ca_bundle: <the file's content>`, reading
/// the files here (on the machine of whoever runs the import), for `overcast ctl`.
pub fn inline_ca_files(
    text: &str,
    read: impl Fn(&str) -> Result<String, String>,
) -> Result<String, String> {
    let mut document: Value =
        serde_yaml::from_str(text).map_err(|e| format!("not valid YAML: {e}"))?;
    let Some(clouds) = document.get_mut("clouds").and_then(Value::as_mapping_mut) else {
        return Ok(text.to_owned());
    };
    let mut changed = false;
    for (name, cloud) in clouds.iter_mut() {
        let Some(cloud) = cloud.as_mapping_mut() else {
            continue;
        };
        let Some(path) = cloud.remove("cacert") else {
            continue;
        };
        let path = path.as_str().unwrap_or_default().to_owned();
        let pem = read(&path)
            .map_err(|e| format!("cloud {}: cacert {path}: {e}", name.as_str().unwrap_or("?")))?;
        cloud.insert("ca_bundle".into(), Value::String(pem));
        changed = true;
    }
    if !changed {
        return Ok(text.to_owned());
    }
    serde_yaml::to_string(&document).map_err(|e| e.to_string())
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
    if cloud.get("cacert").is_some() {
        return Err(CACERT_REFUSED.into());
    }
    let ca_bundle = text(cloud, "ca_bundle");
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
    fn cacert_paths_are_refused_and_inline_bundles_taken() {
        let file = "clouds:\n  a:\n    auth: {auth_url: 'https://a:5000/v3', username: u, password: p, project_name: x}\n    cacert: /dev/zero\n";
        let entries = parse(file, &BTreeMap::new()).unwrap_or_default();
        let reason = entries.first().and_then(|(_, e)| e.clone().err());
        assert!(reason.is_some_and(|r| r.contains("ca_bundle") && !r.contains("No such")));

        let inlined =
            inline_ca_files(file, |path| Ok(format!("PEM of {path}"))).unwrap_or_default();
        let entries = parse(&inlined, &BTreeMap::new()).unwrap_or_default();
        let bundle = entries
            .first()
            .and_then(|(_, e)| e.as_ref().ok())
            .and_then(|site| site.ca_bundle.clone());
        assert_eq!(bundle.as_deref(), Some("PEM of /dev/zero"));
    }

    #[test]
    fn files_that_are_not_clouds_yaml_are_refused() {
        assert!(parse("not: [valid", &BTreeMap::new()).is_err());
        assert!(parse("servers: {}", &BTreeMap::new()).is_err());
    }
}
