// How long the dashboard takes to show 1,000 sites once their data has arrived.
// Usage: node bench/dashboard-scale.mjs [sites]   (run from e2e/ so playwright-core resolves;
// OVERCAST_BIN and OVERCAST_WEB_DIR as for the e2e lane)
import { startDemo, launchBrowser, login } from '../e2e/lib/overcast.js';

const sites = Number(process.argv[2] ?? 1000);
const demo = await startDemo({ sites, deadlineMs: 600000 });
const { page, context } = await launchBrowser();
try {
  await login(page, `${demo.url}/login`, demo.adminPassword);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  const measure = async (path, selector, count) => {
    const arrived = page.waitForResponse((r) => r.url().endsWith('/api/v1/sites')).then(() => performance.now());
    const started = performance.now();
    await page.goto(`${demo.url}${path}`);
    const dataAt = await arrived;
    await page.waitForFunction(([s, n]) => document.querySelectorAll(s).length >= n, [selector, count], { timeout: 60000 });
    const shownAt = performance.now();
    return { path, load_to_data_ms: Math.round(dataAt - started), data_to_shown_ms: Math.round(shownAt - dataAt) };
  };
  const results = [];
  for (let run = 0; run < 3; run += 1) {
    results.push(await measure('/', 'li.tile', sites));
    results.push(await measure('/sites', 'tbody tr', Math.min(sites, 50)));
  }
  console.table(results);
} finally {
  await context.close();
  await demo.stop();
}
