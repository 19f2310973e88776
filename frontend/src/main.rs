//! The Overcast dashboard: a client-side-rendered Leptos app served by the console.

mod api;
mod app;
mod components;
mod format;
mod pages;

fn main() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        show_internal_error();
    }));
    leptos::mount::mount_to_body(app::App);
}

/// A panic leaves the app unusable: say so plainly instead of freezing silently.
fn show_internal_error() {
    let body = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body());
    if let Some(body) = body {
        let _shown = body.insert_adjacent_html(
            "afterbegin",
            "<div class=\"banner error fatal\" role=\"alert\">The dashboard hit an internal error \
             (details are in the browser console). Reload the page to continue.</div>",
        );
    }
}
