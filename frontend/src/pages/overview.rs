use leptos::prelude::*;
use overcast_api_types::{Site, SiteState};

use crate::api;
use crate::components::state_badge::StateBadge;

#[component]
pub fn Overview() -> impl IntoView {
    let sites = LocalResource::new(api::sites);
    view! {
        <section>
            <h1>"Overview"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading sites…"</p> }>
                {move || sites.get().map(|result| match result {
                    Ok(list) => view! { <Fleet sites=list.items/> }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Fleet(sites: Vec<Site>) -> impl IntoView {
    let count = |state: SiteState| sites.iter().filter(|s| s.state == state).count();
    let totals = [
        ("Sites", sites.len()),
        ("Online", count(SiteState::Online)),
        ("Degraded", count(SiteState::Degraded)),
        ("Unreachable", count(SiteState::Unreachable)),
        ("Unknown", count(SiteState::Unknown)),
    ];
    let unreachable: Vec<String> = sites
        .iter()
        .filter(|s| s.state == SiteState::Unreachable)
        .map(|s| s.name.clone())
        .collect();
    view! {
        <Show when={let none = unreachable.is_empty(); move || !none}>
            <div class="banner warning" role="status">
                {format!("Unreachable: {}", unreachable.join(", "))}
            </div>
        </Show>
        <dl class="totals">
            {totals.into_iter().map(|(label, n)| view! { <div class="total"><dt>{label}</dt><dd>{n}</dd></div> }).collect_view()}
        </dl>
        <h2>"Sites"</h2>
        {if sites.is_empty() {
            view! { <div class="empty">"No site is registered yet. Add one on the Sites page."</div> }.into_any()
        } else {
            view! {
                <ul class="site-grid" aria-label="Site states">
                    {sites.into_iter().map(|site| view! {
                        <li class=format!("tile state-{}", site.state.as_str())>
                            <strong>{site.name.clone()}</strong>
                            <StateBadge state=site.state/>
                            <span class="muted">{site.latency_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "no probe yet".into())}</span>
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}
