//! The HTTP side of `overcast ctl`: every failure becomes one readable line.

use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot reach the console at {url}: {detail}")]
    Connection { url: String, detail: String },
    #[error("the console answered {status}: {message}")]
    Api { status: u16, message: String },
    #[error("the console sent an answer ctl cannot read: {0}")]
    BadAnswer(String),
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
            token,
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
        Self::check(response).await.map(|_| ())
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
        request.send().await.map_err(|e| CtlError::Connection {
            url: self.base.clone(),
            detail: e.to_string(),
        })
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, CtlError> {
        let response = self.execute(request).await?;
        let body = Self::check(response).await?;
        serde_json::from_slice(&body).map_err(|e| CtlError::BadAnswer(e.to_string()))
    }

    /// The body of a 2xx answer, or the contract's error message of any other.
    async fn check(response: reqwest::Response) -> Result<bytes::Bytes, CtlError> {
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| CtlError::BadAnswer(e.to_string()))?;
        if status.is_success() {
            return Ok(body);
        }
        let error: Option<overcast_api_types::ErrorBody> = serde_json::from_slice(&body).ok();
        let message = match error {
            Some(error) => {
                let fields: Vec<String> = error
                    .error
                    .fields
                    .iter()
                    .map(|f| format!("{}: {}", f.field, f.message))
                    .collect();
                if fields.is_empty() {
                    error.error.message
                } else {
                    format!("{} ({})", error.error.message, fields.join("; "))
                }
            }
            None => String::from_utf8_lossy(&body).into_owned(),
        };
        Err(CtlError::Api {
            status: status.as_u16(),
            message,
        })
    }
}
