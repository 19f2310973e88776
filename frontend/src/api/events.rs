//! Server-Sent Events over `fetch`. `EventSource` cannot send an `Authorization` header,
//! and a token in the URL would end up in logs, so the stream is read by hand.

use std::time::Duration;

use js_sys::{Reflect, Uint8Array};
use leptos::prelude::on_cleanup;
use send_wrapper::SendWrapper;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, Headers, ReadableStreamDefaultReader, RequestInit, Response};

/// One event of a stream: its name and its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventStream {
    pub event: String,
    pub data: String,
}

/// Reads `path` (under `/api/v1`) as an event stream for as long as the calling
/// component lives, reconnecting with a growing pause when the stream breaks. `on_open`
/// runs on every (re)connection, so a page can reload what it may have missed.
pub fn follow_events(
    path: &str,
    on_open: impl Fn() + 'static,
    on_event: impl Fn(EventStream) + 'static,
) {
    let Ok(controller) = AbortController::new() else {
        return;
    };
    let signal = controller.signal();
    let controller = SendWrapper::new(controller);
    on_cleanup(move || controller.abort());
    let url = format!("/api/v1{path}");
    leptos::task::spawn_local(async move {
        let mut pause = Duration::from_millis(500);
        while !signal.aborted() {
            match read_stream(&url, &signal, &on_open, &on_event).await {
                // A clean end (the job finished) is not retried.
                Ok(()) => return,
                Err(error) if !signal.aborted() => {
                    leptos::logging::warn!("event stream {url}: {error:?}; reconnecting");
                    sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_secs(15));
                }
                Err(_) => return,
            }
        }
    });
}

async fn read_stream(
    url: &str,
    signal: &web_sys::AbortSignal,
    on_open: &impl Fn(),
    on_event: &impl Fn(EventStream),
) -> Result<(), JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    let headers = Headers::new()?;
    headers.set("Accept", "text/event-stream")?;
    if let Some(token) = super::token() {
        headers.set("Authorization", &format!("Bearer {token}"))?;
    }
    let init = RequestInit::new();
    init.set_headers(&headers);
    init.set_signal(Some(signal));
    let response: Response = JsFuture::from(window.fetch_with_str_and_init(url, &init))
        .await?
        .dyn_into()?;
    match response.status() {
        200..=299 => {}
        // Gone, not allowed or signed out: asking again will not help.
        400..=499 => return Ok(()),
        status => return Err(JsValue::from_str(&format!("HTTP {status}"))),
    }
    let reader: ReadableStreamDefaultReader =
        response.body().ok_or("no body")?.get_reader().dyn_into()?;
    on_open();
    let mut buffer = Vec::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await?;
        if Reflect::get(&chunk, &"done".into())?.is_truthy() {
            return Ok(());
        }
        let bytes = Uint8Array::new(&Reflect::get(&chunk, &"value".into())?).to_vec();
        buffer.extend_from_slice(&bytes);
        while let Some(end) = find_blank_line(&buffer) {
            let block: Vec<u8> = buffer.drain(..end.0).collect();
            buffer.drain(..end.1);
            if let Some(event) = parse_block(&String::from_utf8_lossy(&block)) {
                on_event(event);
            }
        }
    }
}

/// Where the first event ends: (end of its text, length of the separator).
fn find_blank_line(buffer: &[u8]) -> Option<(usize, usize)> {
    let lf = buffer.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2));
    let crlf = buffer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4));
    match (lf, crlf) {
        (Some(a), Some(b)) => Some(if a.0 < b.0 { a } else { b }),
        (a, b) => a.or(b),
    }
}

/// One event block of the `text/event-stream` format; comments (keep-alives) give `None`.
fn parse_block(block: &str) -> Option<EventStream> {
    let mut event = String::from("message");
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "event" => event = value.to_owned(),
            "data" => data.push(value),
            _ => {}
        }
    }
    (!data.is_empty()).then(|| EventStream {
        event,
        data: data.join("\n"),
    })
}

pub async fn sleep(duration: Duration) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _id = window.set_timeout_with_callback_and_timeout_and_arguments_0(
                &resolve,
                i32::try_from(duration.as_millis()).unwrap_or(i32::MAX),
            );
        }
    });
    let _done = JsFuture::from(promise).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_block_gives_its_name_and_data() {
        let parsed = parse_block("event: job\ndata: {\"id\":1}");
        assert_eq!(
            parsed,
            Some(EventStream {
                event: "job".into(),
                data: "{\"id\":1}".into()
            })
        );
        assert_eq!(parse_block(":keep-alive"), None);
        assert_eq!(find_blank_line(b"data: a\n\ndata: b"), Some((7, 2)));
    }
}
