use leptos::prelude::*;

use crate::api;
use crate::components::state_badge::StateBadge;

#[component]
pub fn Sites() -> impl IntoView {
    let sites = LocalResource::new(api::sites);
    view! {
        <section>
            <h1>"Sites"</h1>
            <Transition fallback=|| view! { <p class="muted">"Loading sites…"</p> }>
                {move || sites.get().map(|result| match result {
                    Ok(list) if list.items.is_empty() => view! { <div class="empty">"No site is registered yet."</div> }.into_any(),
                    Ok(list) => view! {
                        <table>
                            <caption class="visually-hidden">"Registered sites"</caption>
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"State"</th><th scope="col">"Labels"</th>
                                <th scope="col">"Region"</th><th scope="col">"Latency"</th><th scope="col">"Auth URL"</th>
                            </tr></thead>
                            <tbody>
                                {list.items.into_iter().map(|site| view! {
                                    <tr>
                                        <th scope="row">{site.name.clone()}</th>
                                        <td><StateBadge state=site.state/></td>
                                        <td>{site.labels.iter().map(|(k, v)| view! { <span class="label">{format!("{k}={v}")}</span> }).collect_view()}</td>
                                        <td>{site.region.clone().unwrap_or_default()}</td>
                                        <td>{site.latency_ms.map(|ms| format!("{ms} ms")).unwrap_or_else(|| "–".into())}</td>
                                        <td class="mono">{site.auth_url.clone()}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    }.into_any(),
                    Err(e) => view! { <p class="error" role="alert">{e.message}</p> }.into_any(),
                })}
            </Transition>
        </section>
    }
}
