// The fleet-wide views on a desktop and a phone: a 55-site demo pages its sites, groups
// its resources, filters and exports its audit log, and no page overflows a 390 px screen.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDemo, launchBrowser, login, artifacts, apiLogin, viewports, noPageOverflow, apiClient } from '../lib/overcast.js';

const SITES = 55;
let demo;
let desktop;
let phone;
let api;

/** Every badge, name and time in `scope` sits on one line: an inline box broken over two lines has two client rects. */
async function brokenOverLines(page, selector) {
  return page.$$eval(selector, (elements) => elements
    .filter((e) => e.getClientRects().length > 1)
    .map((e) => e.textContent));
}

before(async () => {
  demo = await startDemo({ sites: SITES, deadlineMs: 60000 });
  const token = await apiLogin(demo.url, 'admin', demo.adminPassword);
  api = apiClient(demo.url, token);
  // More distinct flavors than a page holds, all on site-001.
  for (let n = 0; n < 55; n += 1) {
    const made = await api('POST', '/sites/site-001/flavors', { name: `e2e-f-${String(n).padStart(2, '0')}`, vcpus: 1, ram_mb: 128, disk_gb: 1 });
    assert.equal(made.status, 201, await made.text());
  }
  desktop = await launchBrowser({ viewport: viewports.desktop });
  phone = await launchBrowser({ viewport: viewports.phone });
  await login(desktop.page, `${demo.url}/login`, demo.adminPassword);
  await desktop.page.getByRole('heading', { name: 'Overview' }).waitFor();
  await login(phone.page, `${demo.url}/login`, demo.adminPassword);
  await phone.page.getByRole('heading', { name: 'Overview' }).waitFor();
});

after(async () => {
  await desktop?.context.close();
  await phone?.context.close();
  const code = await demo?.stop();
  assert.equal(code, 0, 'the console stops cleanly on SIGTERM');
});

test('the sites table pages past 50 rows and keeps names, badges and times on one line', async () => {
  const { page, errors } = desktop;
  await page.goto(`${demo.url}/sites`);
  await page.getByRole('rowheader', { name: 'site-050' }).waitFor();
  assert.equal(await page.getByRole('rowheader').count(), 50);
  const pager = page.getByRole('navigation', { name: 'Pages' });
  assert.match(await pager.textContent(), /1–50 of 55/);
  await pager.getByRole('button', { name: 'Next' }).click();
  await page.getByRole('rowheader', { name: 'site-055' }).waitFor();
  assert.deepEqual(await page.getByRole('rowheader').allTextContents(), ['site-051', 'site-052', 'site-053', 'site-054', 'site-055']);
  assert.ok(await pager.getByRole('button', { name: 'Next' }).isDisabled());
  assert.deepEqual(await brokenOverLines(page, 'table .badge, table tbody th, table time, table .label'), []);
  await page.screenshot({ path: join(artifacts, 'fleet-sites-page-2.png'), fullPage: true });
  await pager.getByRole('button', { name: 'Previous' }).click();
  await page.getByRole('rowheader', { name: 'site-001' }).waitFor();
  // Times are relative, with the exact time on hover.
  const seen = page.getByRole('row').filter({ hasText: 'site-001' }).locator('time');
  assert.match(await seen.textContent(), /ago|just now/);
  assert.ok((await seen.getAttribute('title')).length > 10);
  await page.screenshot({ path: join(artifacts, 'fleet-sites-desktop.png') });
  assert.deepEqual(errors, []);
});

test('resources group identical items across sites, search by name, page, and delete one site\'s copy', async () => {
  const { page, errors } = desktop;
  await page.goto(`${demo.url}/resources`);
  await page.getByRole('tab', { name: 'Flavors' }).click();
  // 55 distinct e2e flavors and the sites' own: more groups than a page; in name order
  // the e2e ones fill the first page and the sites' m1.* flavors are on the second.
  await page.getByRole('rowheader', { name: 'e2e-f-00' }).waitFor();
  const pager = page.getByRole('navigation', { name: 'Pages' });
  assert.match(await pager.textContent(), /1–50 of \d+/);
  await pager.getByRole('button', { name: 'Next' }).click();
  const small = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'm1.small', exact: true }) });
  await small.getByRole('button', { name: `${SITES} sites` }).waitFor();
  await page.getByRole('rowheader', { name: 'e2e-f-54' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'fleet-resources-flavors.png'), fullPage: true });

  // Search by name: only the m1.small group is left; it expands to one row a site.
  await page.getByLabel('Name contains').fill('m1.small');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText(`${SITES} items, 1 distinct`).waitFor();
  await small.getByRole('button', { name: `${SITES} sites` }).click();
  await page.getByRole('link', { name: 'm1.small on site-055' }).waitFor();
  assert.equal(await page.getByRole('link', { name: /^m1\.small on site-\d+$/ }).count(), SITES);

  // Delete one site's copy of a flavor, from its row.
  await page.getByLabel('Name contains').fill('e2e-f-07');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('1 items, 1 distinct').waitFor();
  await page.getByRole('button', { name: 'site-001' }).click();
  await page.getByRole('button', { name: 'Delete e2e-f-07 on site-001?' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.getByText('Nothing here on the selected sites.').waitFor();

  // Statuses are badges; a site without Cinder is no outage.
  // Once the demo has seeded every site's image, they are one row of active images.
  const until = Date.now() + 60000;
  for (;;) {
    const images = (await (await api('GET', '/images?max_age_ms=0')).json()).items;
    if (images.length === SITES && images.every((i) => i.status === 'active')) break;
    assert.ok(Date.now() < until, `images not seeded: ${JSON.stringify(images.map((i) => i.status))}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await page.getByLabel('Name contains').fill('');
  await page.getByRole('tab', { name: 'Images' }).click();
  await page.getByRole('button', { name: 'Search' }).click();
  const cirros = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'cirros-0.6.2' }) });
  await cirros.getByRole('button', { name: `${SITES} sites` }).waitFor();
  await cirros.locator('.badge', { hasText: 'active' }).waitFor();
  assert.match(await cirros.textContent(), /1\.0 MiB/);
  await page.getByRole('tab', { name: 'Volumes' }).click();
  await page.getByText(/from \d+ of 55 sites/).waitFor();
  assert.equal(await page.getByText('Not answered live').count(), 0, 'sites without a volume service are not shown as failing');
  assert.deepEqual(errors, []);
});

test('the audit log filters by outcome, says why a call failed, and exports what it shows', async () => {
  const { page, errors } = desktop;
  const refused = await api('POST', '/sites/site-002/flavors', { name: 'e2e-bad', vcpus: 'many', ram_mb: 1, disk_gb: 1 });
  assert.equal(refused.status, 400);
  await page.goto(`${demo.url}/admin`);
  await page.getByRole('tab', { name: 'Audit log' }).click();
  await page.getByLabel('Outcome').selectOption('failed');
  await page.getByLabel('Site').fill('site-002');
  await page.getByRole('button', { name: 'Show entries' }).click();
  const row = page.getByRole('row').filter({ hasText: 'POST /api/v1/sites/site-002/flavors' });
  await row.first().waitFor();
  assert.match(await row.first().textContent(), /invalid_input: .*vcpus/);
  assert.equal(await page.getByRole('row').filter({ hasText: /\bok\b/ }).count(), 0);
  assert.deepEqual(await brokenOverLines(page, 'table.audit tbody th, table.audit td.nowrap'), []);
  await page.screenshot({ path: join(artifacts, 'fleet-audit-desktop.png') });

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('button', { name: 'Export as JSON lines' }).click(),
  ]);
  assert.equal(download.suggestedFilename(), 'overcast-audit.jsonl');
  const path = await download.path();
  const lines = (await import('node:fs')).readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(lines.length >= 1 && lines.every((e) => e.outcome === 'failed' && e.sites.includes('site-002')), JSON.stringify(lines));

  // A bad time range is refused, naming the field.
  await page.getByLabel('Outcome').selectOption('');
  await page.getByLabel('Site').fill('');
  await page.getByLabel('From (your time)').fill('2999-01-01T00:00');
  await page.getByRole('button', { name: 'Show entries' }).click();
  await page.getByText('No entry matches.').waitFor();
  assert.deepEqual(errors, []);
});

test('the overview tiles show a region or a chosen label, the jobs box leads to the jobs, and an unknown page keeps the navigation', async () => {
  const { page, errors } = desktop;
  await page.goto(`${demo.url}/`);
  const tiles = page.getByRole('list', { name: 'Site states' }).getByRole('listitem');
  await tiles.first().waitFor();
  assert.match(await tiles.filter({ hasText: 'site-001' }).textContent(), /RegionOne|region/i);
  await page.getByLabel('Tiles show').selectOption({ label: 'label tier' });
  await tiles.filter({ hasText: 'site-004' }).getByText('tier=test').waitFor();
  await page.screenshot({ path: join(artifacts, 'fleet-overview-desktop.png') });
  await page.reload();
  await tiles.filter({ hasText: 'site-004' }).getByText('tier=test').waitFor();
  await page.getByRole('link', { name: 'All jobs' }).click();
  await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();

  // The dashboard's code travels gzipped to a browser that takes it.
  const wasm = await fetch(`${demo.url}/overcast_frontend_bg.wasm`, { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(wasm.headers.get('content-encoding'), 'gzip');
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
  await page.goto(`${demo.url}/no/such/page`);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Sites', exact: true }).click();
  await page.getByRole('heading', { name: 'Sites' }).waitFor();
  assert.deepEqual(errors, []);
});

test('on a 390 px phone the navigation folds under a menu and no page is wider than the screen', async () => {
  const { page, errors } = phone;
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const [path, heading] of [['/', 'Overview'], ['/sites', 'Sites'], ['/sites/site-001', /site-001/], ['/resources', 'Resources'], ['/jobs', 'Jobs'], ['/admin', 'Admin']]) {
    await page.goto(`${demo.url}${path}`);
    await page.getByRole('heading', { name: heading }).first().waitFor();
    if (path === '/resources') await page.getByRole('rowheader').first().waitFor();
    if (path === '/sites') await page.getByRole('rowheader', { name: 'site-001' }).waitFor();
    await noPageOverflow(page, path);
    assert.ok(!(await nav.getByRole('link', { name: 'Sites', exact: true }).isVisible()), `${path}: links folded`);
    const name = path === '/' ? 'overview' : path.slice(1).replaceAll('/', '-');
    await page.screenshot({ path: join(artifacts, `fleet-phone-${name}.png`) });
  }
  assert.deepEqual(await brokenOverLines(page, '.badge, time'), []);
  await nav.getByRole('button', { name: 'Menu' }).click();
  assert.equal(await nav.getByRole('button', { name: 'Menu' }).getAttribute('aria-expanded'), 'true');
  await page.screenshot({ path: join(artifacts, 'fleet-phone-menu.png') });
  await nav.getByRole('link', { name: 'Sites', exact: true }).click();
  await page.getByRole('heading', { name: 'Sites' }).waitFor();
  assert.ok(!(await nav.getByRole('link', { name: 'Jobs', exact: true }).isVisible()), 'the menu closes after a choice');
  assert.deepEqual(errors, []);
});
