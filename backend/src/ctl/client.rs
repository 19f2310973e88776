//! The HTTP side of `overcast ctl`: every failure becomes one readable line.

use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot reach the console at {url}: {detail}")]
    Connection { url: String, detail: String },
    /// A 401 to a call that carried a token: the token is wrong, expired or revoked.
    #[error(
        "the console refused the token (401 {code}: {message}): sign in again to get a fresh \
         token (`export OVERCAST_TOKEN=$(overcast ctl login --username NAME)`), or set \
         OVERCAST_TOKEN to a valid API token"
    )]
    TokenRefused { code: String, message: String },
    /// A 401 to a call made without any token.
    #[error(
        "the console needs a token (401 {code}: {message}): sign in with \
         `export OVERCAST_TOKEN=$(overcast ctl login --username NAME)`, or set OVERCAST_TOKEN \
         (or --token) to an API token"
    )]
    NoToken { code: String, message: String },
    #[error("the console answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("the console sent an answer ctl cannot read: {0}")]
    BadAnswer(String),
}

/// What a call presents to the console, which decides what a 401 means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Presents {
    /// The bearer token, if there is one: a 401 says the token is at fault.
    Token,
    /// A username and password (sign-in): a 401 says those are wrong.
    Password,
}

pub struct Client {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl Client {
    pub fn new(base: &str, token: Option<String>) -> Client {
        Client {
            base: base.trim_end_matches('/').to_owned(),
            // `OVERCAST_TOKEN=` (set but empty) means no token, not an empty one.
            token: token.filter(|t| !t.trim().is_empty()),
            http: reqwest::Client::new(),
        }
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, CtlError> {
        self.send(self.http.get(self.url(path))).await
    }

    pub async fn get_query<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, CtlError> {
        self.send(self.http.get(self.url(path)).query(query)).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, CtlError> {
        self.send(self.http.post(self.url(path)).json(body)).await
    }

    pub async fn patch<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, CtlError> {
        self.send(self.http.patch(self.url(path)).json(body)).await
    }

    /// `POST /api/v1/auth/login`, without the token: a stale OVERCAST_TOKEN must not
    /// stand in the way of getting a fresh one.
    pub async fn login<T: DeserializeOwned>(&self, body: &impl Serialize) -> Result<T, CtlError> {
        let request = self.http.post(self.url("/api/v1/auth/login")).json(body);
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let body = self.check(response, Presents::Password).await?;
        serde_json::from_slice(&body).map_err(|e| CtlError::BadAnswer(e.to_string()))
    }

    pub async fn post_yaml<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
        yaml: String,
    ) -> Result<T, CtlError> {
        let request = self
            .http
            .post(self.url(path))
            .query(query)
            .header(reqwest::header::CONTENT_TYPE, "application/yaml")
            .body(yaml);
        self.send(request).await
    }

    pub async fn delete(&self, path: &str) -> Result<(), CtlError> {
        let response = self.execute(self.http.delete(self.url(path))).await?;
        self.check(response, Presents::Token).await.map(|_| ())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn execute(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, CtlError> {
        let request = match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        };
        request.send().await.map_err(|e| self.unreachable(e))
    }

    fn unreachable(&self, error: reqwest::Error) -> CtlError {
        CtlError::Connection {
            url: self.base.clone(),
            detail: error.to_string(),
        }
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, CtlError> {
        let response = self.execute(request).await?;
        let body = self.check(response, Presents::Token).await?;
        serde_json::from_slice(&body).map_err(|e| CtlError::BadAnswer(e.to_string()))
    }

    /// The body of a 2xx answer, or the contract's error message of any other.
    async fn check(
        &self,
        response: reqwest::Response,
        presents: Presents,
    ) -> Result<bytes::Bytes, CtlError> {
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| CtlError::BadAnswer(e.to_string()))?;
        if status.is_success() {
            return Ok(body);
        }
        let error: Option<overcast_api_types::ErrorBody> = serde_json::from_slice(&body).ok();
        let (code, message) = match error {
            Some(error) => {
                let fields: Vec<String> = error
                    .error
                    .fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect();
                let message = if fields.is_empty() {
                    error.error.message
                } else {
                    format!("{} ({})", error.error.message, fields.join("; "))
                };
                (error.error.code, message)
            }
            // Not the contract's envelope (a proxy's page, say): the status is all there is.
            None => (
                "unauthenticated".to_owned(),
                String::from_utf8_lossy(&body).into_owned(),
            ),
        };
        Err(match (status.as_u16(), presents, self.token.is_some()) {
            (401, Presents::Token, true) => CtlError::TokenRefused { code, message },
            (401, Presents::Token, false) => CtlError::NoToken { code, message },
            (status, _, _) => CtlError::Api { status, message },
        })
    }
}
