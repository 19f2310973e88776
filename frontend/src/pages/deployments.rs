//! Deployments on the Placement page: each one's wanted and actual servers per site, its
//! newest event, a scale and a delete. They are made through the API.

use leptos::prelude::*;
use overcast_api_types::deployments::{DeploymentPatch, DeploymentRow, DeploymentRows};

use crate::api;
use crate::app::Session;
use crate::components::confirm::ConfirmButton;

/// How often the list is read again: the reconciler acts every few seconds.
const REFRESH_MS: u32 = 5000;

#[component]
pub fn Deployments() -> impl IntoView {
    let session = expect_context::<Session>();
    let list = RwSignal::<api::Loaded<Vec<DeploymentRow>>>::new(None);
    let error = RwSignal::new(None::<String>);
    let reload = move || {
        leptos::task::spawn_local(async move {
            let answer = api::get::<DeploymentRows>("/deployments")
                .await
                .map(|l| l.items);
            list.set(Some(answer));
        });
    };
    reload();
    let timer =
        set_interval_with_handle(reload, std::time::Duration::from_millis(REFRESH_MS.into()));
    on_cleanup(move || {
        if let Ok(timer) = timer {
            timer.clear();
        }
    });
    let row = move |d: DeploymentRow| {
        let id = d.id.clone();
        let wanted = RwSignal::new(d.spec.count.to_string());
        let scale = {
            let id = id.clone();
            move |_| {
                let Ok(count) = wanted.get_untracked().trim().parse::<u32>() else {
                    error.set(Some("The count must be a whole number.".into()));
                    return;
                };
                let path = format!("/deployments/{id}");
                let patch = DeploymentPatch {
                    count: Some(count),
                    ..Default::default()
                };
                api::spawn_call(
                    async move { api::act("PATCH", &path, Some(&patch)).await },
                    error,
                    move |()| reload(),
                );
            }
        };
        let delete = Callback::new(move |()| {
            let path = format!("/deployments/{id}");
            api::spawn_call(
                async move { api::send_empty("DELETE", &path).await },
                error,
                move |()| reload(),
            );
        });
        let sites = d
            .sites
            .iter()
            .map(|s| {
                let statuses: Vec<&str> = s.servers.iter().map(|v| v.status.as_str()).collect();
                format!("{}: {}", s.site, statuses.join(", "))
            })
            .collect::<Vec<_>>()
            .join("; ");
        let latest = d
            .events
            .first()
            .map(|e| e.message.clone())
            .unwrap_or_default();
        let label = format!("Servers wanted for {}", d.spec.name);
        view! {
            <tr>
                <th scope="row">{d.spec.name.clone()}</th>
                <td>{d.state.clone()}</td>
                <td>{format!("{} wanted, {} serving, {} pending, {} unknown, {} surplus",
                    d.spec.count, d.serving, d.pending, d.unknown, d.surplus)}</td>
                <td>{sites}</td>
                <td class="params" title=latest.clone()>{latest.clone()}</td>
                <td class="nowrap">
                    <Show when=move || session.can_operate()>
                        <input type="number" min="0" class="count-input" aria-label=label.clone()
                            prop:value=move || wanted.get() on:input=move |ev| wanted.set(event_target_value(&ev))/>
                        <button type="button" class="secondary small" on:click=scale.clone()>"Scale"</button>
                        <ConfirmButton label="Delete" question=format!("Delete {} and its servers?", d.spec.name) on_confirm=delete/>
                    </Show>
                </td>
            </tr>
        }
    };
    view! {
        <h2>"Deployments"</h2>
        <p class="muted">"A count of servers the console keeps: the servers of a site dark beyond the grace period are replaced elsewhere, and nothing serving is deleted when it returns unless the deployment says so. Made through the API (POST /api/v1/deployments)."</p>
        {move || error.get().map(|e| view! { <p class="error" role="alert">{e}</p> })}
        {move || match list.get() {
            None => view! { <p class="muted" role="status">"Loading deployments…"</p> }.into_any(),
            Some(Err(e)) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
            Some(Ok(items)) if items.is_empty() => view! { <div class="empty">"No deployment yet."</div> }.into_any(),
            Some(Ok(items)) => view! {
                <div class="table-scroll">
                    <table class="deployments">
                        <caption class="visually-hidden">"Deployments"</caption>
                        <thead><tr>
                            <th scope="col">"Name"</th><th scope="col">"State"</th><th scope="col">"Servers"</th>
                            <th scope="col">"Per site"</th><th scope="col">"Latest event"</th><th scope="col">"Scale"</th>
                        </tr></thead>
                        <tbody>{items.into_iter().map(row).collect_view()}</tbody>
                    </table>
                </div>
            }.into_any(),
        }}
    }
}
