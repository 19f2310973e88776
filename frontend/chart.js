// The dashboard's time charts: uPlot (https://github.com/leeoniya/uPlot, MIT), a separate
// file of the dashboard loaded on the first chart, so pages without one never fetch it.
// The WASM calls three things: overcastChart(element), chart.show(spec, data), where both
// are JSON text, and chart.destroy(). The spec says the unit and the lines:
//   {"unit": "vCPUs", "lines": [{"label": "used", "color": "#1f5fa8", "dash": 0}, …]}
// and the data is uPlot's columns: [[unix seconds…], [value or null…] per line]. A null
// is a gap: drawn as one, never joined across.

let library;

function load() {
  if (window.uPlot) return Promise.resolve();
  library ??= new Promise((resolve, reject) => {
    const css = document.createElement('link');
    css.rel = 'stylesheet';
    css.href = '/uPlot.min.css';
    document.head.append(css);
    const script = document.createElement('script');
    script.src = '/uPlot.iife.min.js';
    script.onload = resolve;
    script.onerror = () => { library = undefined; reject(new Error('the chart library did not load')); };
    document.head.append(script);
  });
  return library;
}

const DASHES = [null, [6, 4], [2, 3], [10, 3, 2, 3]];
const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const figure = (v, unit) => `${compact.format(v)} ${unit}`;
// The last step's figure: none when the line ends in a gap.
const latest = (values) => (values.length ? values[values.length - 1] : null);
// A value with a gap on both sides draws no line: it gets a dot, so it is not lost.
const alone = (values) => {
  const found = [];
  for (let i = 0; i < values.length; i += 1) {
    if (values[i] != null && values[i - 1] == null && values[i + 1] == null) found.push(i);
  }
  return found.length ? found : null;
};
const heightOf = (el) => (el.clientWidth < 500 ? 180 : 220);
// Things counted one by one get whole-number ticks on their axis (no "0.3 sites").
const COUNTED = new Set(['vCPUs', 'servers', 'sites']);
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 1e7, 1e8];

function options(el, spec) {
  const unit = spec.unit;
  return {
    width: Math.max(el.clientWidth, 200),
    height: heightOf(el),
    scales: { y: { range: (u, min, max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { stroke: '#5b6675', grid: { stroke: '#e6eaf0' }, ticks: { stroke: '#d9dee5' } },
      {
        label: unit, stroke: '#5b6675', size: 56, labelSize: 20,
        grid: { stroke: '#e6eaf0' }, ticks: { stroke: '#d9dee5' },
        incrs: COUNTED.has(unit) ? WHOLE : undefined,
        values: (u, splits) => splits.map((v) => compact.format(v)),
      },
    ],
    legend: {
      markers: { dash: (u, i) => (u.series[i].dash ? 'dashed' : 'solid') },
    },
    cursor: { points: { size: 6 } },
    series: [
      { label: 'Time', value: (u, t, si, idx) => (idx == null ? 'latest' : new Date(t * 1000).toLocaleString()) },
      ...spec.lines.map((line) => ({
        label: line.label,
        stroke: line.color,
        width: 2,
        dash: DASHES[line.dash] ?? undefined,
        spanGaps: false,
        value: (u, v, si, idx) => {
          if (idx == null) {
            const last = latest(u.data[si]);
            return last == null ? 'no figures' : figure(last, unit);
          }
          return v == null ? 'gap' : figure(v, unit);
        },
        points: { size: 5, filter: (u, si, show) => (show ? null : alone(u.data[si])) },
      })),
    ],
  };
}

class Chart {
  constructor(el) {
    this.el = el;
    this.plot = null;
    this.spec = null;
    this.data = null;
    this.gone = false;
    this.resized = new ResizeObserver(() => {
      if (this.plot && this.el.clientWidth > 0) {
        this.plot.setSize({ width: Math.max(this.el.clientWidth, 200), height: heightOf(this.el) });
      }
    });
    this.resized.observe(el);
  }

  show(spec, data) {
    this.wanted = [spec, data];
    load().then(() => this.draw(), (error) => { this.el.textContent = error.message; });
  }

  draw() {
    if (this.gone || !this.wanted) return;
    const [spec, data] = this.wanted;
    this.wanted = null;
    const columns = JSON.parse(data);
    if (this.plot && spec === this.spec) {
      this.plot.setData(columns);
      return;
    }
    this.plot?.destroy();
    this.spec = spec;
    this.plot = new window.uPlot(options(this.el, JSON.parse(spec)), columns, this.el);
  }

  destroy() {
    this.gone = true;
    this.resized.disconnect();
    this.plot?.destroy();
    this.plot = null;
  }
}

export function overcastChart(el) {
  return new Chart(el);
}
