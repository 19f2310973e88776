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
