use leptos::prelude::*;

/// A page whose feature is not built yet: says what will be there, never pretends.
#[component]
pub fn Placeholder(title: &'static str, about: &'static str) -> impl IntoView {
    view! {
        <section>
            <h1>{title}</h1>
            <p class="muted">{about}</p>
            <div class="empty">"Not available in this version yet."</div>
        </section>
    }
}
