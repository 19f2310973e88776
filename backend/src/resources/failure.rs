//! What another attempt at a site would do: the classification jobs and image copies
//! retry by.

use super::ResourceError;
use crate::openstack::OpenStackError;

/// Why one attempt at a site did not succeed, which decides what happens next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The site could not be reached or did not answer: wait for it.
    Unreachable(String),
    /// Worth another attempt after a pause (a 5xx, a garbled answer).
    Transient(String),
    /// Another attempt would fail the same way (refused input, a conflict, a changed plan).
    Permanent(String),
}

impl From<ResourceError> for Failure {
    fn from(error: ResourceError) -> Self {
        let message = error.to_string();
        match error {
            ResourceError::Site(
                OpenStackError::Unreachable(_)
                | OpenStackError::Timeout(_)
                | OpenStackError::ServiceDown { .. },
            ) => Failure::Unreachable(message),
            ResourceError::Site(OpenStackError::BadResponse { .. }) => Failure::Transient(message),
            // Neutron answers 503 with a typed error for conditions another attempt will
            // not change (`NoNetworkAvailable`: the site has no tenant network types).
            ResourceError::Site(OpenStackError::Api {
                service: "network",
                status: 503,
                fault: Some(_),
                ..
            }) => Failure::Permanent(message),
            ResourceError::Site(OpenStackError::Api { status, .. })
                if status >= 500 || status == 429 =>
            {
                Failure::Transient(message)
            }
            ResourceError::Invalid(fields) => Failure::Permanent(
                fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            _ => Failure::Permanent(message),
        }
    }
}
