// The Placement page on a 5-site demo: a request described in the form, its plan shown
// with a reason for every site (chosen or left out) before anything exists, field errors
// from the form and from the API, and the launch landing on the servers.boot job.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startDemo, artifacts, apiLogin, noPageOverflow, eventually, signedInBrowsers, apiClient } from '../lib/overcast.js';

const SITES = 5;
let demo;
let desktop;
let phone;
let api;

before(async () => {
  demo = await startDemo({ sites: SITES, deadlineMs: 60000 });
  const token = await apiLogin(demo.url, 'admin', demo.adminPassword);
  api = apiClient(demo.url, token);
  // A plan needs every site's capacity figures, which the console collects shortly after
  // the sites are registered.
  await eventually('every site has capacity figures', async () => {
    const plan = await (await api('POST', '/placement/plan', { flavor: 'm1.small', count: 1, policy: 'spread' })).json();
    return plan.excluded?.every((e) => !e.reason.includes('no capacity figures'));
  }, 120000);
  ({ desktop, phone } = await signedInBrowsers(demo.url, demo.adminPassword));
});

after(async () => {
  await desktop?.context.close();
  await phone?.context.close();
  const code = await demo?.stop();
  assert.equal(code, 0, 'the console stops cleanly on SIGTERM');
});

/** The rows of one of the plan's tables, by its caption, as [site, servers, reason]. */
async function rowsOf(page, caption) {
  const table = page.getByRole('table', { name: caption });
  return table.locator('tbody tr').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent.trim())));
}

test('a request is planned with its reasons, then launched as a servers.boot job', async () => {
  const { page, errors } = desktop;
  await page.goto(`${demo.url}/placement`);
  await page.getByRole('heading', { name: 'Placement' }).waitFor();

  // Nothing typed: the form says what is missing, beside the field.
  await page.getByLabel('Flavor *').fill('');
  await page.getByRole('button', { name: 'Plan' }).click();
  await page.locator('#place-flavor-error', { hasText: 'is required' }).waitFor();
  assert.equal(await page.getByLabel('Flavor *').getAttribute('aria-invalid'), 'true');

  // A selector the console refuses: the API's message, beside the selector.
  await page.getByLabel('Flavor *').fill('m1.small');
  await page.getByLabel('Sites with labels').fill('region');
  await page.getByRole('button', { name: 'Plan' }).click();
  await page.locator('#place-constraints-selector-error', { hasText: 'is not key=value' }).waitFor();
  await page.getByRole('alert').filter({ hasText: 'is not key=value' }).waitFor();

  // Four servers spread over the sites but one, two at most per site.
  await page.getByLabel('Sites with labels').fill('');
  await page.getByLabel('Count *').fill('4');
  await page.getByLabel('Image').fill('cirros-0.6.2');
  await page.getByLabel('Policy').selectOption('spread');
  await page.getByLabel('Excluded sites').fill('site-002');
  await page.getByLabel('Max per site').fill('2');
  assert.ok(await page.getByRole('button', { name: 'Launch' }).isDisabled(), 'no launch before a plan');
  await page.getByRole('button', { name: 'Plan' }).click();
  const plan = page.getByRole('region', { name: 'Plan' });
  await plan.getByText('4 servers on 4 sites. Nothing was created').waitFor();
  const placed = await rowsOf(page, 'Where the servers go');
  assert.deepEqual(placed.map((r) => r[0]), ['site-001', 'site-003', 'site-004', 'site-005']);
  for (const [site, count, reason] of placed) {
    assert.equal(count, '1', `one server on ${site}`);
    assert.match(reason, /^spread: /);
  }
  const left = await rowsOf(page, 'Sites left out');
  assert.deepEqual(left, [['site-002', '0', 'excluded by the request']]);
  assert.equal(await api('GET', '/jobs').then((r) => r.json()).then((j) => j.items.length), 0, 'a plan creates nothing');
  await page.screenshot({ path: join(artifacts, 'placement-plan-desktop.png'), fullPage: true });

  // A change makes the plan stale: it goes, and launch waits for a new one.
  await page.getByLabel('Max per site').fill('1');
  await plan.waitFor({ state: 'detached' });
  assert.ok(await page.getByRole('button', { name: 'Launch' }).isDisabled());
  await page.getByRole('button', { name: 'Plan' }).click();
  await plan.getByText('4 servers on 4 sites').waitFor();

  // Launch needs a server name.
  await page.getByRole('button', { name: 'Launch' }).click();
  await page.locator('#place-name-error', { hasText: 'is required to launch' }).waitFor();
  await page.getByLabel('Server name').fill('e2e-placed');
  // Not every simulated site allocates a network by itself.
  await page.getByLabel('Networks').selectOption('none');
  await page.getByRole('button', { name: 'Launch' }).click();
  await page.waitForURL(/\/jobs\/[^/]+$/);
  await page.getByRole('heading', { name: /servers\.boot/ }).waitFor();
  const id = new URL(page.url()).pathname.split('/').pop();
  const job = await (await api('GET', `/jobs/${id}`)).json();
  assert.equal(job.kind, 'servers.boot');
  assert.deepEqual(job.tasks.map((t) => t.site).sort(), ['site-001', 'site-003', 'site-004', 'site-005']);
  let last;
  await eventually('the boot finishes', async () => {
    last = await (await api('GET', `/jobs/${id}`)).json();
    return !['pending', 'running'].includes(last.state);
  }, 90000).catch((e) => { console.log(JSON.stringify(last, null, 1)); throw e; });
  assert.equal(last.state, 'succeeded', JSON.stringify(last.tasks.map((t) => [t.site, t.state, t.error])));
  assert.ok(last.tasks.every((t) => t.result.servers.length === 1), 'one server on each site');
  await page.getByRole('heading', { name: /succeeded/ }).waitFor();
  await page.screenshot({ path: join(artifacts, 'placement-launched-desktop.png'), fullPage: true });
  // The browser logs the refused selector's 400; nothing else.
  assert.deepEqual(errors.filter((e) => !e.includes('status of 400')), []);
});

test('a plan that cannot be met says why, and the page fits a phone', async () => {
  const { page, errors } = phone;
  await page.goto(`${demo.url}/placement`);
  await page.getByRole('heading', { name: 'Placement' }).waitFor();
  await noPageOverflow(page, 'the empty form');
  await page.getByLabel('Flavor *').fill('m1.small');
  await page.getByLabel('Count *').fill('3');
  await page.getByLabel('Affinity').selectOption('different_sites');
  await page.getByLabel('Sites with labels').fill('region=eu');
  await page.getByRole('button', { name: 'Plan' }).click();
  await page.getByText('This request cannot be met: room for 2 of 3 servers').waitFor();
  const left = await rowsOf(page, 'Sites left out');
  assert.ok(left.some(([site, , reason]) => site === 'site-002' && reason === 'its labels do not match the selector'), JSON.stringify(left));
  assert.ok(await page.getByRole('button', { name: 'Launch' }).isDisabled(), 'an unmet plan cannot be launched');
  await noPageOverflow(page, 'the plan');
  await page.screenshot({ path: join(artifacts, 'placement-unmet-phone.png'), fullPage: true });

  await page.getByLabel('Count *').fill('2');
  await page.getByRole('button', { name: 'Plan' }).click();
  await page.getByText('2 servers on 2 sites').waitFor();
  await noPageOverflow(page, 'the plan');
  await page.screenshot({ path: join(artifacts, 'placement-plan-phone.png'), fullPage: true });
  assert.deepEqual(errors, []);
});

test('a deployment is listed with its servers per site and its events, scaled and deleted from the page', async () => {
  const { page, errors } = desktop;
  const earlier = errors.length;
  const made = await api('POST', '/deployments', {
    name: 'e2e-web', flavor: 'm1.small', image_name: 'cirros-0.6.2', count: 2, networks: 'none', grace_s: 30,
    placement: { policy: 'spread', constraints: { max_per_site: 1 } },
  });
  assert.equal(made.status, 201, await made.clone().text());
  const { id } = await made.json();
  await page.goto(`${demo.url}/placement`);
  const row = page.getByRole('table', { name: 'Deployments' }).getByRole('row')
    .filter({ has: page.getByRole('rowheader', { name: 'e2e-web', exact: true }) });
  // The page reads the list again every few seconds, as the reconciler boots.
  await row.getByText('2 wanted, 2 serving, 0 pending').waitFor({ timeout: 90000 });
  const perSite = await row.locator('td').nth(2).textContent();
  assert.equal(perSite.match(/site-\d{3}: ACTIVE/g)?.length, 2, perSite);
  assert.notEqual(((await row.locator('td').nth(3).textContent()) || '').trim(), '', 'the newest event is shown');
  await noPageOverflow(page, 'the deployments');
  await page.screenshot({ path: join(artifacts, 'placement-deployments-desktop.png'), fullPage: true });

  await row.getByLabel('Servers wanted for e2e-web').fill('1');
  await row.getByRole('button', { name: 'Scale' }).click();
  await row.getByText('1 wanted, 1 serving').waitFor({ timeout: 60000 });
  assert.equal((await (await api('GET', `/deployments/${id}`)).json()).spec.count, 1);

  await row.getByRole('button', { name: 'Delete e2e-web and its servers?' }).click();
  await row.getByRole('button', { name: 'Yes, delete' }).click();
  await eventually('the deployment is gone', async () => (await api('GET', `/deployments/${id}`)).status === 404, 60000);
  await page.getByText('No deployment yet.').waitFor({ timeout: 15000 });
  assert.deepEqual(errors.slice(earlier), []);
});
