//! Typed calls to the console's REST API. Every page goes through here, so the bearer
//! token, error decoding and the redirect to the login page live in one place.

use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_storage::{LocalStorage, Storage};
use overcast_api_types::{Aggregate, ErrorBody, LoginRequest, LoginResponse, Me, SiteList};
use serde::de::DeserializeOwned;

const TOKEN_KEY: &str = "overcast.token";

/// An API failure, ready to show to a person.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn network(error: gloo_net::Error) -> Self {
        ApiError {
            status: 0,
            code: "network".into(),
            message: format!("The console cannot be reached: {error}"),
        }
    }

    pub fn is_unauthenticated(&self) -> bool {
        self.status == 401
    }
}

pub fn token() -> Option<String> {
    LocalStorage::get::<String>(TOKEN_KEY).ok()
}

pub fn forget_token() {
    LocalStorage::delete(TOKEN_KEY);
}

fn authorized(builder: RequestBuilder) -> RequestBuilder {
    match token() {
        Some(token) => builder.header("Authorization", &format!("Bearer {token}")),
        None => builder,
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    if (200..300).contains(&status) {
        return response.json::<T>().await.map_err(|e| ApiError {
            status,
            code: "bad_response".into(),
            message: format!("The console sent an answer the dashboard does not understand: {e}"),
        });
    }
    let error = match response.json::<ErrorBody>().await {
        Ok(body) => ApiError {
            status,
            code: body.error.code,
            message: body.error.message,
        },
        Err(_) => ApiError {
            status,
            code: "http_error".into(),
            message: format!("The console answered HTTP {status}"),
        },
    };
    if error.is_unauthenticated() {
        forget_token();
    }
    Err(error)
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let response = authorized(Request::get(&format!("/api/v1{path}")))
        .send()
        .await
        .map_err(ApiError::network)?;
    decode(response).await
}

pub async fn login(username: String, password: String) -> Result<LoginResponse, ApiError> {
    let request = Request::post("/api/v1/auth/login")
        .json(&LoginRequest { username, password })
        .map_err(ApiError::network)?;
    let answer: LoginResponse = decode(request.send().await.map_err(ApiError::network)?).await?;
    let _stored = LocalStorage::set(TOKEN_KEY, &answer.access_token);
    Ok(answer)
}

pub async fn me() -> Result<Me, ApiError> {
    get("/auth/me").await
}

pub async fn sites() -> Result<SiteList, ApiError> {
    get("/sites").await
}

/// A resource kind across sites; `selector` narrows the sites. Cached inventory up to
/// 30 s old is fine for a dashboard view and keeps a big fleet's page instant.
pub async fn across_sites(resource: &str, selector: &str) -> Result<Aggregate, ApiError> {
    let mut path = format!("/{resource}?max_age_ms=30000");
    if !selector.trim().is_empty() {
        path.push_str("&selector=");
        path.push_str(&encode_query(selector.trim()));
    }
    get(&path).await
}

/// Percent-encodes a query value.
fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
