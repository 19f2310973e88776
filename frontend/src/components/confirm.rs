use leptos::prelude::*;

/// A button for a destructive action: the first press asks, in place, what exactly will
/// happen; only the second press acts. Escape or "Keep" backs out.
#[component]
pub fn ConfirmButton(
    /// The button's text, e.g. "Delete".
    label: &'static str,
    /// What will happen, e.g. "Delete server web-1 on site-003?".
    #[prop(into)]
    question: String,
    on_confirm: Callback<()>,
    #[prop(optional)] disabled: Signal<bool>,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let question_label = question.clone();
    view! {
        <Show
            when=move || asking.get()
            fallback=move || view! {
                <button type="button" class="danger small" disabled=move || disabled.get()
                    aria-label=question_label.clone() on:click=move |_| asking.set(true)>{label}</button>
            }
        >
            <span class="confirm" role="group" aria-label="Confirm"
                on:keydown=move |ev| if ev.key() == "Escape" { asking.set(false) }>
                <span>{question.clone()}</span>
                <button type="button" class="danger small" autofocus
                    on:click=move |_| { asking.set(false); on_confirm.run(()); }>{format!("Yes, {}", label.to_lowercase())}</button>
                <button type="button" class="secondary small" on:click=move |_| asking.set(false)>"Keep"</button>
            </span>
        </Show>
    }
}
