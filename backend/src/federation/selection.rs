//! Which sites an operation targets: an explicit list, a label selector, or all.

use std::collections::BTreeMap;

/// One term of a label selector: `key=value` or `key!=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    pub key: String,
    pub value: String,
    pub equal: bool,
}

/// A label selector, `region=eu,tier!=test`: every term must hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector(pub Vec<Requirement>);

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, String> {
        let mut terms = Vec::new();
        for term in text.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (key, value, equal) = if let Some((k, v)) = term.split_once("!=") {
                (k, v, false)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, v, true)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, v, true)
            } else {
                return Err(format!("{term:?} is not key=value or key!=value"));
            };
            let (key, value) = (key.trim(), value.trim());
            if key.is_empty() {
                return Err(format!("{term:?} has no key"));
            }
            terms.push(Requirement {
                key: key.to_owned(),
                value: value.to_owned(),
                equal,
            });
        }
        if terms.is_empty() {
            return Err("the selector is empty".into());
        }
        Ok(Selector(terms))
    }

    /// A missing label is "not equal" to any value, as in Kubernetes selectors.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0
            .iter()
            .all(|r| (labels.get(&r.key) == Some(&r.value)) == r.equal)
    }
}

/// The sites an operation is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    Sites(Vec<String>),
    Selector(Selector),
    All,
}

impl Selection {
    /// From the query parameters `sites=a,b` or `selector=…`; neither means all sites.
    pub fn from_query(sites: Option<&str>, selector: Option<&str>) -> Result<Selection, String> {
        match (sites, selector) {
            (Some(_), Some(_)) => Err("give `sites` or `selector`, not both".into()),
            (Some(list), None) => {
                let names: Vec<String> = list
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if names.is_empty() {
                    return Err("`sites` names no site".into());
                }
                Ok(Selection::Sites(names))
            }
            (None, Some(text)) => Selector::parse(text).map(Selection::Selector),
            (None, None) => Ok(Selection::All),
        }
    }
}

impl Selection {
    /// From the API's `{"sites": [...]} | {"selector": "..."} | {"all": true}`: exactly one.
    /// The error names the field at fault.
    pub fn from_targets(
        targets: &overcast_api_types::jobs::Targets,
    ) -> Result<Selection, (&'static str, String)> {
        match (&targets.sites, &targets.selector, targets.all) {
            (Some(sites), None, None) => {
                Selection::from_query(Some(&sites.join(",")), None).map_err(|m| ("sites", m))
            }
            (None, Some(selector), None) => {
                Selection::from_query(None, Some(selector)).map_err(|m| ("selector", m))
            }
            (None, None, Some(true)) => Ok(Selection::All),
            (None, None, Some(false)) => Err(("all", "must be true when given".into())),
            _ => Err((
                "",
                "give exactly one of `sites` (a list), `selector` (e.g. \"region=eu\") or `all: true`"
                    .into(),
            )),
        }
    }

    /// Whether a site with this name and these labels is in the selection.
    pub fn allows(&self, name: &str, labels: &BTreeMap<String, String>) -> bool {
        match self {
            Selection::All => true,
            Selection::Sites(names) => names.iter().any(|n| n == name),
            Selection::Selector(selector) => selector.matches(labels),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn selectors_match_like_kubernetes_ones() {
        let selector = Selector::parse("region=eu, tier!=test").unwrap_or_default();
        assert!(selector.matches(&labels(&[("region", "eu"), ("tier", "edge")])));
        assert!(
            selector.matches(&labels(&[("region", "eu")])),
            "a missing label is not `test`"
        );
        assert!(!selector.matches(&labels(&[("region", "eu"), ("tier", "test")])));
        assert!(!selector.matches(&labels(&[("region", "us")])));
    }

    #[test]
    fn selections_allow_their_sites_only() {
        let eu = labels(&[("region", "eu")]);
        assert!(Selection::All.allows("x", &eu));
        assert!(Selection::Sites(vec!["a".into()]).allows("a", &eu));
        assert!(!Selection::Sites(vec!["a".into()]).allows("b", &eu));
        let selector = Selection::from_query(None, Some("region=us")).unwrap_or(Selection::All);
        assert!(!selector.allows("a", &eu));
    }

    #[test]
    fn bad_selections_are_refused() {
        assert!(Selector::parse("region").is_err());
        assert!(Selector::parse("=eu").is_err());
        assert!(Selector::parse(" , ").is_err());
        assert!(Selection::from_query(Some("a"), Some("x=y")).is_err());
        assert_eq!(Selection::from_query(None, None), Ok(Selection::All));
        assert_eq!(
            Selection::from_query(Some("a, b"), None),
            Ok(Selection::Sites(vec!["a".into(), "b".into()]))
        );
    }
}
