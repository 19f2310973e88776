use leptos::prelude::*;

/// A labelled progress bar, 0 to 100, readable by screen readers.
#[component]
pub fn Progress(#[prop(into)] value: Signal<u8>, #[prop(into)] label: String) -> impl IntoView {
    view! {
        <div class="progress" role="progressbar" aria-label=label aria-valuemin="0" aria-valuemax="100"
            aria-valuenow=move || value.get().to_string()>
            <div class="track"><div class="bar" style:width=move || format!("{}%", value.get().min(100))></div></div>
            <span class="value">{move || format!("{} %", value.get())}</span>
        </div>
    }
}
