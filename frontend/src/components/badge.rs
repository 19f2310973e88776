use leptos::prelude::*;
use overcast_api_types::SiteState;

/// A site state as a coloured label; the word is always shown, so colour is never the
/// only signal.
#[component]
pub fn StateBadge(#[prop(into)] state: Signal<SiteState>) -> impl IntoView {
    view! { <span class=move || format!("badge state-{}", state.get().as_str())>{move || state.get().as_str()}</span> }
}

/// A job, task or resource status (`running`, `ACTIVE`, …) as a label coloured by meaning.
#[component]
pub fn StatusBadge(#[prop(into)] status: Signal<String>) -> impl IntoView {
    let tone = move || match status.get().to_ascii_lowercase().as_str() {
        "succeeded" | "active" | "available" | "ok" | "online" | "enabled" | "up" | "holds" => {
            "good"
        }
        "failed" | "error" | "partially_failed" | "unreachable" | "auth_failed" | "down" => "bad",
        // Not started yet reads apart from under way.
        "pending" | "queued" => "idle",
        // A site a replication policy has yet to copy to.
        "waiting_for_site" | "missing" => "warn",
        "running" | "build" | "degraded" | "stale" | "timeout" | "rebooting" | "saving" => "busy",
        _ => "neutral",
    };
    view! { <span class=move || format!("badge tone-{}", tone())>{move || status.get().replace('_', " ")}</span> }
}
