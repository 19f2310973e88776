use leptos::html::Dialog;
use leptos::prelude::*;

/// A `<dialog>` shown modal as soon as it is drawn: the page behind it is inert and
/// Escape closes it. Whatever closes it (Escape, or [`close`] from a button) runs
/// `on_close`, where the owner stops drawing it.
#[component]
pub fn Modal(
    /// The owner's handle, for [`close`].
    dialog: NodeRef<Dialog>,
    /// Classes besides `modal`, which gives every dialog its frame.
    class: &'static str,
    /// The id of the heading that names the dialog.
    labelledby: &'static str,
    on_close: Callback<()>,
    children: Children,
) -> impl IntoView {
    Effect::new(move |_| {
        if let Some(dialog) = dialog.get() {
            if !dialog.open() {
                let _shown = dialog.show_modal();
            }
        }
    });
    view! {
        <dialog node_ref=dialog class=format!("modal {class}") aria-labelledby=labelledby
            on:close=move |_| on_close.run(())>
            {children()}
        </dialog>
    }
}

/// Closes a [`Modal`] the way Escape does, so its `on_close` runs once either way.
pub fn close(dialog: NodeRef<Dialog>) {
    if let Some(dialog) = dialog.get_untracked() {
        dialog.close();
    }
}
