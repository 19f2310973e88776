//! A time chart drawn by uPlot, a small JS charting library served beside the WASM and
//! loaded on the first chart (`frontend/chart.js` binds it). The WASM hands it two JSON
//! texts: what the lines are and their columns of values, a `null` being a gap.

use std::cell::RefCell;
use std::rc::Rc;

use leptos::prelude::*;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/chart.js")]
extern "C" {
    type Chart;

    #[wasm_bindgen(js_name = overcastChart)]
    fn new_chart(element: &web_sys::Element) -> Chart;

    /// Draws `data` (`[[t…], [v|null…]…]`) with the lines of `spec`; a chart whose spec is
    /// unchanged only takes the new data.
    #[wasm_bindgen(method)]
    fn show(this: &Chart, spec: &str, data: &str);

    #[wasm_bindgen(method)]
    fn destroy(this: &Chart);
}

/// A chart's canvas, redrawn whenever `drawing` gives a new `(spec, data)`; destroyed
/// (its observer, canvas and listeners released) when the component goes.
#[component]
pub fn TimeChart(#[prop(into)] drawing: Signal<Option<(String, String)>>) -> impl IntoView {
    let holder = NodeRef::<leptos::html::Div>::new();
    let chart = SendWrapper::new(Rc::new(RefCell::new(None::<Chart>)));
    let drawn = chart.clone();
    Effect::new(move |_| {
        let (Some(element), Some((spec, data))) = (holder.get(), drawing.get()) else {
            return;
        };
        let mut slot = drawn.borrow_mut();
        slot.get_or_insert_with(|| new_chart(&element))
            .show(&spec, &data);
    });
    on_cleanup(move || {
        if let Some(chart) = chart.borrow_mut().take() {
            chart.destroy();
        }
    });
    view! { <div class="plot" node_ref=holder></div> }
}
