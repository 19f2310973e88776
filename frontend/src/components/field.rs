use leptos::prelude::*;
use wasm_bindgen::JsCast;

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

/// Moves the keyboard focus to an input, by id: to the first field a refused form marks,
/// so the reader lands on what to fix and hears its message.
pub fn focus(id: &str) {
    let element = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.get_element_by_id(id))
        .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
    if let Some(element) = element {
        let _focused = element.focus();
    }
}
