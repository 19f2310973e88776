use std::collections::BTreeMap;

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

/// Input fields at fault, by the name the API gives them (`params.vcpus`, `targets`,
/// `rollout.max_failures`), with the message to show beside the field.
pub type FieldErrors = BTreeMap<String, String>;

/// A whole number typed into `field`, `None` when empty; anything else is noted in
/// `errors` against the field.
pub fn number(text: &str, field: &str, errors: &mut FieldErrors) -> Option<u32> {
    match text.trim() {
        "" => None,
        text => match text.parse() {
            Ok(n) => Some(n),
            Err(_) => {
                errors.insert(field.into(), "must be a whole number, 0 or more".into());
                None
            }
        },
    }
}

/// One text input of the form with its label, hint and error, all tied to it for
/// assistive technology (`aria-describedby`, `aria-invalid`).
#[component]
pub fn FormField(
    id: String,
    /// The API's name of the field, for its error.
    field: String,
    label: String,
    value: RwSignal<String>,
    errors: RwSignal<FieldErrors>,
    #[prop(optional)] kind: &'static str,
    #[prop(optional)] required: bool,
    #[prop(optional, into)] placeholder: String,
    #[prop(optional, into)] hint: String,
    #[prop(optional)] min: Option<&'static str>,
    /// The id of a `<datalist>` of suggestions.
    #[prop(optional_no_strip)]
    list: Option<&'static str>,
) -> impl IntoView {
    let hint_id = format!("{id}-hint");
    let error_id = format!("{id}-error");
    let message = {
        let field = field.clone();
        Memo::new(move |_| errors.with(|e| e.get(&field).cloned()))
    };
    let described = {
        let (hint_id, error_id, has_hint) = (hint_id.clone(), error_id.clone(), !hint.is_empty());
        move || {
            let mut ids = Vec::new();
            if message.get().is_some() {
                ids.push(error_id.clone());
            }
            if has_hint {
                ids.push(hint_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:invalid=move || message.get().is_some()>
            <label for=id.clone()>{label}{required.then_some(" *")}</label>
            <input id=id.clone() name=id.clone() required=required placeholder=placeholder min=min list=list
                type=if kind.is_empty() { "text" } else { kind }
                aria-invalid=move || message.get().is_some().then_some("true")
                aria-describedby=described
                prop:value=value on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    let field = field.clone();
                    errors.update(|e| { e.remove(&field); });
                }/>
            {move || message.get().map(|m| view! { <p id=error_id.clone() class="field-error">{m}</p> })}
            {(!hint.is_empty()).then(|| view! { <p id=hint_id class="hint">{hint}</p> })}
        </div>
    }
}
