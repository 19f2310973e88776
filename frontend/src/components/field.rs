use leptos::prelude::*;

/// One text field of a form, with its label.
#[component]
pub fn Field(
    id: &'static str,
    label: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] kind: &'static str,
    #[prop(optional)] placeholder: &'static str,
    #[prop(optional)] required: bool,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id name=id type=if kind.is_empty() { "text" } else { kind } placeholder=placeholder required=required
                prop:value=value on:input=move |ev| value.set(event_target_value(&ev))/>
        </div>
    }
}
