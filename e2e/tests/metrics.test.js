// The Metrics page, the overview's capacity and a site's Metrics tab against `overcast
// serve` collecting every site every 2 s and `overcast sim`: charts drawn by uPlot with
// their figures, the scope (fleet, one line per label value, one site) and the range in
// the URL, a site that went down listed as missing with its reason and its line broken by
// a gap, and no page wider than a phone's screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServeAndSim, launchBrowser, login, artifacts, viewports, waitForSiteState } from '../lib/overcast.js';

let cloud;
let browser;

const CHARTS = ['vcpus', 'ram', 'disk', 'servers', 'sites', 'latency'];
const labels = (name, n) => ({ region: n % 2 ? 'eu' : 'us' });
const until = async (what, check, deadlineMs = 30000) => {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
};
const summary = async () => (await cloud.api('GET', '/metrics/summary')).json();
// A site counts as reporting while its last figures are younger than two intervals: on a
// busy machine one may miss that for a moment, and the page reads the summary every 30 s.
const REPORTING_MS = 70000;

before(async () => {
  cloud = await startServeAndSim({ sites: 4, labels, metricsIntervalS: 2 });
  const image = await cloud.api('POST', '/sites/site-001/images', JSON.stringify({ name: 'cirros-0.6.2', disk_format: 'qcow2' }));
  assert.equal(image.status, 201, await image.text());
  const server = await cloud.api('POST', '/sites/site-001/servers', JSON.stringify({ name: 'app-1', flavor: 'm1.small', image: 'cirros-0.6.2' }));
  assert.equal(server.status, 202, await server.text());
  // Every site reports once; then site-004 goes dark, so its figures stop.
  await until('every site collected', async () => (await summary()).sites.every((s) => s.collected_at));
  assert.equal((await cloud.fault('site-004', 'down')).status, 200);
  await waitForSiteState(cloud, 'site-004', 'unreachable', 30000);
  browser = await launchBrowser();
  await login(browser.page, `${cloud.url}/login`, cloud.adminPassword);
  await browser.page.getByRole('heading', { name: 'Overview' }).waitFor();
});

after(async () => {
  await browser?.context.close();
  const codes = await cloud?.stop();
  assert.deepEqual(codes, [0, 0], 'console and simulator stop cleanly on SIGTERM');
});

const go = (page, path) => page.goto(`${cloud.url}${path}`);
const chart = (page, id) => page.locator(`figure[data-chart="${id}"]`);
const line = (page, id, name) => chart(page, id).locator(`[data-line="${name}"]`);
const figures = async (page, id, name) => {
  const row = line(page, id, name);
  if (await row.count() === 0) return null;
  return { values: Number(await row.getAttribute('data-values')), gaps: Number(await row.getAttribute('data-gaps')) };
};
/** Waits until a chart's line has figures (the page reads them again every 30 s by itself). */
const drawn = (page, id, name, deadlineMs = 120000) => until(`${id} ${name} with figures`, async () => {
  const found = await figures(page, id, name);
  return found && found.values > 0 ? found : null;
}, deadlineMs);
const noErrors = (errors) => assert.deepEqual(errors, [], 'no error in the browser console');
const fits = async (page, what) => {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
  }));
  assert.ok(scrollWidth <= innerWidth, `${what}: the page is ${scrollWidth} px wide on a ${innerWidth} px screen`);
};

test('the Metrics page charts the fleet over time and says who is missing now, and why', async () => {
  const { page, errors } = browser;
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Metrics', exact: true }).click();
  await page.getByRole('heading', { name: 'Metrics', level: 1 }).waitFor();
  for (const id of CHARTS) await chart(page, id).locator('canvas').first().waitFor();
  const missing = page.locator('.missing-now li[data-site="site-004"]');
  // The down site is known missing once a health check and a collection have failed:
  // under the whole suite's load that took longer than Playwright's default 30 s once.
  await missing.waitFor({ timeout: REPORTING_MS });
  assert.match(await missing.textContent(), /unreachable/, 'the reason is given');
  await until('only the site that is down missing', async () => await page.locator('.missing-now li').count() === 1, REPORTING_MS);
  await page.getByText('3 of 4 sites reporting').waitFor({ timeout: REPORTING_MS });

  // The last step of a chart is the minute that ended 10 s ago.
  const used = await drawn(page, 'vcpus', 'used');
  assert.ok(used.values >= 1);
  for (const [id, name] of [['vcpus', 'capacity'], ['ram', 'used'], ['disk', 'capacity'], ['servers', 'active'], ['sites', 'reporting'], ['latency', 'latency']]) {
    await drawn(page, id, name);
  }
  assert.ok(await figures(page, 'servers', 'shut off'), 'servers have a line per status');
  // uPlot's legend names the lines, with their latest figures and units.
  const legend = chart(page, 'vcpus').locator('.u-legend');
  assert.match(await legend.textContent(), /used.*vCPUs.*capacity.*vCPUs/s);
  assert.match(await page.getByText('Times are in your time zone').textContent(), /\(.+\)/);
  await page.screenshot({ path: join(artifacts, 'metrics-fleet-desktop.png'), fullPage: true });

  // The range is in the URL: Back returns to the last one.
  const range = page.getByRole('group', { name: 'Time range' });
  assert.equal(await range.getByRole('button', { name: '1 h' }).getAttribute('aria-pressed'), 'true');
  await range.getByRole('button', { name: '24 h' }).click();
  await page.waitForURL(`${cloud.url}/metrics?range=24h`);
  assert.equal(await range.getByRole('button', { name: '24 h' }).getAttribute('aria-pressed'), 'true');
  await drawn(page, 'vcpus', 'used');
  await page.goBack();
  await page.waitForURL(`${cloud.url}/metrics`);
  assert.equal(await range.getByRole('button', { name: '1 h' }).getAttribute('aria-pressed'), 'true');
  noErrors(errors);
});

test('the scope goes to one line per label value, then to one site, each in the URL', async () => {
  const { page, errors } = browser;
  await go(page, '/metrics');
  await page.getByLabel('Show', { exact: true }).selectOption('group');
  await page.waitForURL(`${cloud.url}/metrics?group_by=region`);
  assert.equal(await page.getByLabel('Label', { exact: true }).inputValue(), 'region');
  for (const group of ['eu', 'us']) {
    await drawn(page, 'vcpus', `${group} used`);
    await drawn(page, 'sites', `${group} reporting`);
  }
  assert.equal(await line(page, 'vcpus', 'used').count(), 0, 'no fleet line when grouping');
  assert.match(await chart(page, 'vcpus').locator('.u-legend').textContent(), /eu used.*eu capacity.*us used.*us capacity/s);
  await page.screenshot({ path: join(artifacts, 'metrics-group-desktop.png'), fullPage: true });

  await page.getByLabel('Show', { exact: true }).selectOption('site');
  await page.waitForURL(`${cloud.url}/metrics?site=site-001`);
  await page.getByLabel('Site', { exact: true }).selectOption('site-002');
  await page.waitForURL(`${cloud.url}/metrics?site=site-002`);
  assert.equal(await page.getByLabel('Site', { exact: true }).inputValue(), 'site-002');
  await drawn(page, 'vcpus', 'used');
  await page.getByText('1 of 1 site reporting').waitFor({ timeout: REPORTING_MS });
  assert.equal(await page.locator('.missing-now').count(), 0, 'site-002 is not missing');
  await page.goBack();
  await page.waitForURL(`${cloud.url}/metrics?site=site-001`);
  await page.goBack();
  await page.waitForURL(`${cloud.url}/metrics?group_by=region`);
  await line(page, 'vcpus', 'eu used').waitFor({ state: 'attached' });
  noErrors(errors);
});

test('a site that went down is missing with its reason, and its line has a gap, not a zero', async () => {
  const { page, errors } = browser;
  await go(page, '/metrics?site=site-004');
  const missing = page.locator('.missing-now li[data-site="site-004"]');
  await missing.waitFor();
  assert.match(await missing.textContent(), /site-004: .*unreachable/);
  // Its figures, then a whole minute without any: the page reads again every 30 s.
  const broken = await until('a gap in site-004\'s line', async () => {
    const found = await figures(page, 'sites', 'reporting');
    return found && found.values > 0 && found.gaps > 0 ? found : null;
  }, 200000);
  assert.ok(broken.gaps >= 1);
  const vcpus = await figures(page, 'vcpus', 'used');
  assert.ok(vcpus.gaps >= 1, 'every chart of the site has the gap');
  // The charts' text says "no figures" rather than 0 for the latest step, and so does the legend.
  assert.match(await line(page, 'sites', 'reporting').textContent(), /^reporting: no figures now; \d+ steps with figures, \d+ gaps$/);
  assert.match(await chart(page, 'sites').locator('.u-legend').textContent(), /reporting:?\s*no figures/);
  await page.screenshot({ path: join(artifacts, 'metrics-site-down-desktop.png'), fullPage: true });
  noErrors(errors);
});

test('the usage table gives each site\'s hours, a dark site as not known, per project too, and as CSV', async () => {
  const { page, errors } = browser;
  await go(page, '/metrics');
  const usage = page.getByRole('region', { name: 'Usage' });
  const row = (group) => usage.getByRole('row').filter({ has: page.getByRole('rowheader', { name: group, exact: true }) });
  await row('site-001').waitFor();
  // Hours with their decimals (app-1 has run for minutes: 0.0x); volume hours per site.
  const cells = await row('site-001').getByRole('cell').allTextContents();
  assert.equal(cells[0], '1', 'one site in the row');
  for (const hours of cells.slice(1, 5)) assert.match(hours, /^\d+(\.\d+)?$/, `hours of site-001: ${cells}`);
  const unknown = usage.locator('.usage-unknown');
  await unknown.waitFor();
  assert.match(await unknown.textContent(), /not known for 1 site.*site-004/s);
  assert.equal(await row('site-004').count(), 0, 'a dark site has no row of zeros');

  // app-1's project has a row once the period (ending 10 s ago) covers its start.
  await until('a row for app-1\'s project', async () => {
    await go(page, '/metrics');
    await usage.getByLabel('Per').selectOption('project');
    await usage.locator('.usage-table, .muted').first().waitFor();
    return await row('admin').count() > 0;
  }, 60000);
  assert.match((await row('admin').getByRole('cell').allTextContents())[1], /^\d+\.\d+$/);
  await page.screenshot({ path: join(artifacts, 'metrics-usage-desktop.png'), fullPage: true });

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    usage.getByRole('button', { name: 'Download CSV' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'overcast-usage.csv');
  const { readFile } = await import('node:fs/promises');
  const csv = await readFile(await download.path(), 'utf8');
  assert.match(csv.split('\n')[0], /^group,/, csv);
  assert.match(csv, /\nadmin,/, csv);
  noErrors(errors);
});

test('the overview shows the fleet capacity used, and who reports, with a link to the charts', async () => {
  const { page, errors } = browser;
  await go(page, '/');
  const cpu = page.getByRole('meter', { name: 'vCPUs used across the fleet' });
  await cpu.waitFor();
  assert.ok(Number(await cpu.getAttribute('aria-valuemax')) > 0, 'the fleet has vCPUs');
  assert.match(await cpu.getAttribute('aria-valuetext'), /^\d+ of \d+ \(\d+ %\)$/);
  await page.getByRole('meter', { name: 'RAM used across the fleet' }).waitFor();
  await page.getByRole('meter', { name: 'Disk used across the fleet' }).waitFor();
  await page.getByText('3 of 4 sites reporting').waitFor({ timeout: REPORTING_MS });
  await page.screenshot({ path: join(artifacts, 'overview-capacity-desktop.png'), fullPage: true });
  await page.getByRole('link', { name: 'Charts over time' }).click();
  await page.waitForURL(`${cloud.url}/metrics`);
  noErrors(errors);
});

test('a site page has a Metrics tab with that site\'s charts', async () => {
  const { page, errors } = browser;
  await go(page, '/sites/site-001');
  await page.getByRole('tab', { name: 'Metrics', exact: true }).click();
  await page.waitForURL(`${cloud.url}/sites/site-001/metrics`);
  const panel = page.getByRole('tabpanel');
  for (const id of CHARTS) await panel.locator(`figure[data-chart="${id}"] canvas`).first().waitFor();
  await drawn(page, 'servers', 'active');
  await page.getByText('1 of 1 site reporting').waitFor({ timeout: REPORTING_MS });
  await panel.getByRole('group', { name: 'Time range' }).getByRole('button', { name: '6 h' }).click();
  await page.waitForURL(`${cloud.url}/sites/site-001/metrics?range=6h`);
  await drawn(page, 'vcpus', 'used');
  await page.screenshot({ path: join(artifacts, 'site-metrics-desktop.png'), fullPage: true });
  noErrors(errors);
});

test('on a phone the charts are as wide as the screen and no page is wider', async () => {
  const { page, errors } = browser;
  await page.setViewportSize(viewports.phone);
  for (const [path, name] of [['/metrics', 'metrics-fleet'], ['/metrics?group_by=region', 'metrics-group'], ['/sites/site-001/metrics', 'site-metrics'], ['/', 'overview-capacity']]) {
    await go(page, path);
    if (path === '/') {
      await page.getByRole('meter', { name: 'vCPUs used across the fleet' }).waitFor();
    } else {
      await drawn(page, 'vcpus', path.includes('group') ? 'eu used' : 'used');
      const widths = await page.locator('figure.chart canvas').evaluateAll((canvases) => canvases.map((c) => c.getBoundingClientRect().right));
      assert.equal(widths.length >= CHARTS.length, true);
      for (const right of widths) assert.ok(right <= viewports.phone.width, `${path}: a chart ends at ${right} px`);
    }
    await fits(page, path);
    await page.screenshot({ path: join(artifacts, `${name}-phone.png`), fullPage: true });
  }
  // Turned sideways, the charts follow their cards' width.
  await go(page, '/metrics');
  await drawn(page, 'vcpus', 'used');
  const narrow = await chart(page, 'vcpus').locator('canvas').first().evaluate((c) => c.getBoundingClientRect().width);
  await page.setViewportSize({ width: 844, height: 390 });
  await until('the chart to widen', async () => (await chart(page, 'vcpus').locator('canvas').first().evaluate((c) => c.getBoundingClientRect().width)) > narrow + 100);
  await fits(page, '/metrics sideways');
  await page.setViewportSize(viewports.desktop);
  noErrors(errors);
});
