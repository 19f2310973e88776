use leptos::prelude::*;

/// Rows shown per page of a long table: 1,000 sites never render at once.
pub const PAGE_SIZE: usize = 50;

/// Previous / next over `total` rows. Pages count from 0.
#[component]
pub fn Pager(#[prop(into)] total: Signal<usize>, page: RwSignal<usize>) -> impl IntoView {
    let pages = move || total.get().div_ceil(PAGE_SIZE).max(1);
    // A filter may shrink the table under the current page.
    Effect::new(move |_| {
        if page.get() >= pages() {
            page.set(pages() - 1);
        }
    });
    // A comparison in an attribute closure is braced: in `view!` a bare `>` ends the tag.
    view! {
        <Show when=move || { pages() > 1 }>
            <nav class="pager" aria-label="Pages">
                <button type="button" class="secondary small" disabled=move || page.get() == 0
                    on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Previous"</button>
                <span aria-live="polite">{move || {
                    let first = page.get() * PAGE_SIZE + 1;
                    let last = ((page.get() + 1) * PAGE_SIZE).min(total.get());
                    format!("{first}–{last} of {}", total.get())
                }}</span>
                <button type="button" class="secondary small" disabled=move || { page.get() + 1 >= pages() }
                    on:click=move |_| page.update(|p| *p += 1)>"Next"</button>
            </nav>
        </Show>
    }
}

/// The rows of the current page.
pub fn page_of<T: Clone>(rows: &[T], page: usize) -> Vec<T> {
    rows.iter()
        .skip(page * PAGE_SIZE)
        .take(PAGE_SIZE)
        .cloned()
        .collect()
}
