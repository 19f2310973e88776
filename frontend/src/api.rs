//! Typed calls to the console's REST API. Every page goes through here, so the bearer
//! token, error decoding and the redirect to the login page live in one place.

use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_storage::{LocalStorage, Storage};
use overcast_api_types::jobs::Targets;
use overcast_api_types::{ErrorBody, FieldError, LoginRequest, LoginResponse};
use serde::de::DeserializeOwned;
use serde::Serialize;
use wasm_bindgen::JsCast;

pub mod events;
pub use events::follow_events;

const TOKEN_KEY: &str = "overcast.token";

/// An API failure, ready to show to a person.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub code: String,
    pub message: String,
    /// The input fields at fault, as the API named them (`params.vcpus`, `targets`…).
    pub fields: Vec<FieldError>,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ApiError {}

impl ApiError {
    fn network(error: impl std::fmt::Display) -> Self {
        ApiError {
            status: 0,
            code: "network".into(),
            message: format!("The console cannot be reached: {error}"),
            fields: Vec::new(),
        }
    }

    pub fn is_unauthenticated(&self) -> bool {
        self.status == 401
    }
}

/// What a page holds of an answer: nothing yet, the answer, or why there is none.
pub type Loaded<T> = Option<Result<T, ApiError>>;

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

async fn error_of(response: Response) -> ApiError {
    let status = response.status();
    let error = match response.json::<ErrorBody>().await {
        Ok(body) => ApiError {
            status,
            code: body.error.code,
            message: match body.error.fields.as_slice() {
                [] => body.error.message,
                fields => format!(
                    "{}: {}",
                    body.error.message,
                    fields
                        .iter()
                        .map(|f| format!("{} {}", f.field, f.message))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            },
            fields: body.error.fields,
        },
        Err(_) => ApiError {
            status,
            code: "http_error".into(),
            message: format!("The console answered HTTP {status}"),
            fields: Vec::new(),
        },
    };
    if error.is_unauthenticated() {
        forget_token();
    }
    error
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    if !(200..300).contains(&status) {
        return Err(error_of(response).await);
    }
    response.json::<T>().await.map_err(|e| ApiError {
        status,
        code: "bad_response".into(),
        message: format!("The console sent an answer the dashboard does not understand: {e}"),
        fields: Vec::new(),
    })
}

/// A request to the API (`path` under `/api/v1`) with the signed-in user's token.
fn request(method: &str, path: &str) -> RequestBuilder {
    let url = format!("/api/v1{path}");
    authorized(match method {
        "POST" => Request::post(&url),
        "PATCH" => Request::patch(&url),
        "PUT" => Request::put(&url),
        "DELETE" => Request::delete(&url),
        _ => Request::get(&url),
    })
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let response = request("GET", path)
        .send()
        .await
        .map_err(ApiError::network)?;
    decode(response).await
}

/// A GET decoded in two steps, JSON first: every page that reads a type this way shares
/// one decoder of it (from `Value`), which keeps the dashboard's WASM small.
pub async fn get_as<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    typed(get::<serde_json::Value>(path).await?)
}

/// An answer read as JSON, decoded as `T`: the second step of [`get_as`], also for answers
/// of a `send` made with JSON values (one copy of that call serves every type).
pub fn typed<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_json::from_value(value).map_err(|e| ApiError {
        status: 200,
        code: "bad_response".into(),
        message: format!("The console sent an answer the dashboard does not understand: {e}"),
        fields: Vec::new(),
    })
}

/// Sends a JSON body with `method` (POST, PATCH, PUT) and decodes the JSON answer.
pub async fn send<B: Serialize, T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: &B,
) -> Result<T, ApiError> {
    let request = request(method, path)
        .json(body)
        .map_err(ApiError::network)?;
    decode(request.send().await.map_err(ApiError::network)?).await
}

/// A call whose answer has no body worth reading (204, or a state the page reloads).
pub async fn act<B: Serialize>(method: &str, path: &str, body: Option<&B>) -> Result<(), ApiError> {
    let builder = request(method, path);
    let request = match body {
        Some(body) => builder.json(body).map_err(ApiError::network)?,
        None => builder.build().map_err(ApiError::network)?,
    };
    let response = request.send().await.map_err(ApiError::network)?;
    if (200..300).contains(&response.status()) {
        Ok(())
    } else {
        Err(error_of(response).await)
    }
}

pub async fn send_empty(method: &str, path: &str) -> Result<(), ApiError> {
    act::<()>(method, path, None).await
}

/// A call without a body that answers with JSON (`202` and the job it started) or with
/// nothing (`204`): `None` then.
pub async fn call<T: DeserializeOwned>(method: &str, path: &str) -> Result<Option<T>, ApiError> {
    let response = request(method, path)
        .send()
        .await
        .map_err(ApiError::network)?;
    if response.status() == 204 {
        return Ok(None);
    }
    decode(response).await.map(Some)
}

/// Saves what a GET answers as a file on the reader's machine. The API needs the bearer
/// header, so a plain link cannot do it: the answer is fetched, then handed over as a blob.
pub async fn download(path: &str, file_name: &str) -> Result<(), ApiError> {
    download_as(path, "*/*", file_name).await
}

/// [`download`] of the form `accept` names, for answers that come in several
/// (`text/csv` of the usage report).
pub async fn download_as(path: &str, accept: &str, file_name: &str) -> Result<(), ApiError> {
    let response = request("GET", path)
        .header("Accept", accept)
        .send()
        .await
        .map_err(ApiError::network)?;
    if !(200..300).contains(&response.status()) {
        return Err(error_of(response).await);
    }
    let blob = response.binary().await.map_err(ApiError::network)?;
    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(blob.as_slice()));
    let save = || -> Result<(), wasm_bindgen::JsValue> {
        let blob = web_sys::Blob::new_with_u8_array_sequence(&parts)?;
        let url = web_sys::Url::create_object_url_with_blob(&blob)?;
        let document = web_sys::window()
            .and_then(|w| w.document())
            .ok_or("no document")?;
        let link: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
        link.set_href(&url);
        link.set_download(file_name);
        link.click();
        web_sys::Url::revoke_object_url(&url)
    };
    save().map_err(|e| ApiError::network(format!("cannot save the file: {e:?}")))
}

/// Posts a clouds.yaml as it is.
pub async fn post_yaml<T: DeserializeOwned>(path: &str, yaml: String) -> Result<T, ApiError> {
    let request = request("POST", path)
        .header("Content-Type", "application/yaml")
        .body(yaml)
        .map_err(ApiError::network)?;
    decode(request.send().await.map_err(ApiError::network)?).await
}

/// Streams a file the reader chose as a request body (`PUT`, image data): the browser
/// reads it as it sends, so it is never held whole in memory.
pub async fn put_file(path: &str, file: web_sys::File) -> Result<(), ApiError> {
    let request = request("PUT", path)
        .header("Content-Type", "application/octet-stream")
        .body(wasm_bindgen::JsValue::from(file))
        .map_err(ApiError::network)?;
    let response = request.send().await.map_err(ApiError::network)?;
    if (200..300).contains(&response.status()) {
        Ok(())
    } else {
        Err(error_of(response).await)
    }
}

pub async fn login(username: String, password: String) -> Result<LoginResponse, ApiError> {
    let request = Request::post("/api/v1/auth/login")
        .json(&LoginRequest { username, password })
        .map_err(ApiError::network)?;
    let answer: LoginResponse = decode(request.send().await.map_err(ApiError::network)?).await?;
    let _stored = LocalStorage::set(TOKEN_KEY, &answer.access_token);
    Ok(answer)
}

/// Ends the session on the console too, so the token cannot be replayed.
pub async fn logout() {
    let _ignored = send_empty("POST", "/auth/logout").await;
    forget_token();
}

/// A resource kind across sites. `sites` is empty for every site, a label selector
/// (`region=eu,tier!=test`) or site names (`site-001, site-002`). Cached inventory up to
/// 30 s old is fine for a dashboard view and keeps a big fleet's page instant.
pub async fn across_sites(
    resource: &str,
    sites: &str,
    name: &str,
) -> Result<overcast_api_types::Aggregate, ApiError> {
    let mut path = format!("/{resource}?max_age_ms=30000&limit=10000");
    if !name.is_empty() {
        path.push_str("&name=");
        path.push_str(&encode_query(name));
    }
    path.push_str(&sites_query(sites));
    get(&path).await
}

/// The query part (`&selector=…` or `&sites=…`, nothing for every site) of a site
/// selection as a person types it.
fn sites_query(sites: &str) -> String {
    match crate::format::typed_sites(sites) {
        Some(Targets {
            selector: Some(selector),
            ..
        }) => format!("&selector={}", encode_query(&selector)),
        Some(Targets {
            sites: Some(names), ..
        }) => format!("&sites={}", encode_query(&names.join(","))),
        _ => String::new(),
    }
}

/// The image catalog of the selected sites (typed as for [`across_sites`]), one entry per
/// content. `fresh` asks every site now rather than taking inventory up to 30 s old.
pub async fn image_catalog(
    sites: &str,
    name: &str,
    fresh: bool,
) -> Result<overcast_api_types::images::ImageCatalog, ApiError> {
    let max_age = if fresh { 0 } else { 30_000 };
    let mut path = format!("/images/catalog?max_age_ms={max_age}");
    if !name.is_empty() {
        path.push_str("&name=");
        path.push_str(&encode_query(name));
    }
    path.push_str(&sites_query(sites));
    get(&path).await
}

/// Runs an API call in the background: its answer goes to `done`, a failure's message to
/// `error` (cleared when the call starts), where the page shows it.
pub fn spawn_call<T: 'static>(
    call: impl std::future::Future<Output = Result<T, ApiError>> + 'static,
    error: leptos::prelude::RwSignal<Option<String>>,
    done: impl FnOnce(T) + 'static,
) {
    use leptos::prelude::Set;
    error.set(None);
    leptos::task::spawn_local(async move {
        match call.await {
            Ok(answer) => done(answer),
            Err(e) => error.set(Some(e.message)),
        }
    });
}

/// Percent-encodes a query value.
pub fn encode_query(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
