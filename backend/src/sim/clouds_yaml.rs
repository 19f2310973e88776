//! Writing clouds.yaml, the file every OpenStack client reads.

use std::collections::BTreeMap;

use serde::Serialize;

/// One cloud of a clouds.yaml.
#[derive(Debug, Clone)]
pub struct CloudEntry {
    pub name: String,
    pub auth_url: String,
    pub region: String,
    pub username: String,
    pub password: String,
    pub project_name: String,
}

#[derive(Serialize)]
struct File<'a> {
    clouds: BTreeMap<&'a str, Cloud<'a>>,
}

#[derive(Serialize)]
struct Cloud<'a> {
    auth: Auth<'a>,
    region_name: &'a str,
    interface: &'static str,
    identity_api_version: u8,
}

#[derive(Serialize)]
struct Auth<'a> {
    auth_url: &'a str,
    username: &'a str,
    password: &'a str,
    project_name: &'a str,
    user_domain_name: &'static str,
    project_domain_name: &'static str,
}

pub fn clouds_yaml(entries: &[CloudEntry]) -> String {
    let clouds = entries
        .iter()
        .map(|e| {
            let cloud = Cloud {
                auth: Auth {
                    auth_url: &e.auth_url,
                    username: &e.username,
                    password: &e.password,
                    project_name: &e.project_name,
                    user_domain_name: "Default",
                    project_domain_name: "Default",
                },
                region_name: &e.region,
                interface: "public",
                identity_api_version: 3,
            };
            (e.name.as_str(), cloud)
        })
        .collect();
    serde_yaml::to_string(&File { clouds }).unwrap_or_default()
}
