//! Times as people read them: "3 min ago", with the exact local time on hover.

use std::time::Duration;

use leptos::prelude::*;

use crate::format;

/// The reader's clock, ticking often enough that "12 s ago" does not freeze on screen.
#[derive(Clone, Copy)]
pub struct Clock(RwSignal<f64>);

const TICK: Duration = Duration::from_secs(10);

impl Clock {
    pub fn provide() {
        let now = RwSignal::new(js_sys::Date::now());
        // The app lives as long as the tab, so the interval is never cleared.
        set_interval(move || now.set(js_sys::Date::now()), TICK);
        provide_context(Clock(now));
    }

    pub fn now(&self) -> f64 {
        self.0.get()
    }
}

/// An RFC 3339 time as `<time>`: relative text, machine-readable `datetime`, and the
/// exact time in the reader's zone as its title. Text that is not a time shows as it is.
#[component]
pub fn RelativeTime(#[prop(into)] at: String) -> impl IntoView {
    let clock = expect_context::<Clock>();
    let exact = format::local_time(&at);
    let then = format::epoch_ms(&at);
    let shown = at.clone();
    let text = move || match then {
        // The tick makes the text change; the real clock keeps a time that just
        // happened from reading "in 2 s" between two ticks.
        Some(then) => format::relative(then, clock.now().max(js_sys::Date::now())),
        None => shown.clone(),
    };
    view! { <time datetime=at title=exact>{text}</time> }
}

/// An optional time, or the given word (`never`, `not yet`) when there is none.
#[component]
pub fn MaybeTime(at: Option<String>, #[prop(into)] otherwise: String) -> impl IntoView {
    match at {
        Some(at) => view! { <RelativeTime at=at/> }.into_any(),
        None => view! { <span class="muted">{otherwise}</span> }.into_any(),
    }
}
