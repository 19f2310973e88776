use leptos::prelude::*;
use overcast_api_types::SiteState;

/// A site state as a coloured label; the word is always shown, so colour is never the
/// only signal.
#[component]
pub fn StateBadge(state: SiteState) -> impl IntoView {
    view! { <span class=format!("badge state-{}", state.as_str())>{state.as_str()}</span> }
}
