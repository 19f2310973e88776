use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// A row of tabs as WAI-ARIA describes them: one tab in the Tab order, arrow keys, Home and
/// End move between tabs. Each tab's id is `tab-{key}`, for the panel's `aria-labelledby`.
#[component]
pub fn TabList(
    label: &'static str,
    #[prop(into)] tabs: Signal<Vec<(&'static str, &'static str)>>,
    selected: RwSignal<&'static str>,
) -> impl IntoView {
    let select_by_key = move |ev: leptos::ev::KeyboardEvent| {
        let keys: Vec<&'static str> = tabs.with(|t| t.iter().map(|(k, _)| *k).collect());
        let Some(at) = keys.iter().position(|k| *k == selected.get_untracked()) else {
            return;
        };
        let next = match ev.key().as_str() {
            "ArrowRight" => (at + 1) % keys.len(),
            "ArrowLeft" => (at + keys.len() - 1) % keys.len(),
            "Home" => 0,
            "End" => keys.len() - 1,
            _ => return,
        };
        ev.prevent_default();
        selected.set(keys[next]);
        let tab = web_sys::window()
            .and_then(|w| w.document())
            .and_then(|d| d.get_element_by_id(&format!("tab-{}", keys[next])))
            .and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok());
        if let Some(tab) = tab {
            let _focused = tab.focus();
        }
    };
    view! {
        <div role="tablist" aria-label=label class="tabs" on:keydown=select_by_key>
            {move || tabs.get().into_iter().map(|(key, title)| {
                let active = move || selected.get() == key;
                view! {
                    <button type="button" role="tab" id=format!("tab-{key}") aria-selected=move || active().to_string()
                        tabindex=move || if active() { "0" } else { "-1" }
                        class:active=active on:click=move |_| selected.set(key)>{title}</button>
                }
            }).collect_view()}
        </div>
    }
}
