use leptos::prelude::*;

use crate::format;

/// How much of a capacity is used, as a bar with the figures beside it: an ARIA meter,
/// so a screen reader hears "vCPUs used on host-1, 3 of 8". Without a known capacity
/// only the figure in use is shown.
#[component]
pub fn Meter(
    /// What is measured, e.g. "vCPUs used on host-1".
    #[prop(into)]
    label: String,
    used: u64,
    total: Option<u64>,
    /// How a figure reads (`3`, `2 GB`).
    #[prop(default = |n: u64| n.to_string())]
    unit: fn(u64) -> String,
) -> impl IntoView {
    match total.filter(|t| *t > 0) {
        None => view! { <span>{unit(used)}</span> }.into_any(),
        Some(total) => {
            let percent = format::percent(used, total);
            let text = format!("{} of {}", unit(used), unit(total));
            let spoken = format!("{text} ({percent} %)");
            let tone = match percent {
                0..=69 => "low",
                70..=89 => "high",
                _ => "full",
            };
            view! {
                <div class="meter" role="meter" aria-label=label aria-valuemin="0" aria-valuemax=total.to_string()
                    aria-valuenow=used.min(total).to_string() aria-valuetext=spoken>
                    <div class="track"><div class=format!("bar {tone}") style:width=format!("{percent}%")></div></div>
                    <span class="value">{text}</span>
                </div>
            }
            .into_any()
        }
    }
}
