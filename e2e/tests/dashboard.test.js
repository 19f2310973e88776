// The dashboard against `overcast serve` and `overcast sim` as separate processes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServeAndSim, launchBrowser, login, artifacts, waitForSiteState } from '../lib/overcast.js';

let cloud;
let browser;

// site-003 and site-006 are test sites; the others are the edge the flavor goes to.
const labels = (name, n) => ({ tier: n % 3 === 0 ? 'test' : 'edge', region: n % 2 ? 'eu' : 'us' });

before(async () => {
  cloud = await startServeAndSim({ sites: 6, labels });
  // Something to look at: an image on every site, a few servers on the first two.
  for (let n = 1; n <= 6; n += 1) {
    const site = `site-00${n}`;
    const image = await cloud.api('POST', `/sites/${site}/images`, JSON.stringify({ name: 'cirros-0.6.2', disk_format: 'qcow2' }));
    assert.equal(image.status, 201, `image on ${site}`);
  }
  for (const [site, name] of [['site-001', 'app-1'], ['site-001', 'app-2'], ['site-002', 'db-1']]) {
    const server = await cloud.api('POST', `/sites/${site}/servers`, JSON.stringify({ name, flavor: 'm1.small', image: 'cirros-0.6.2' }));
    assert.equal(server.status, 202, `${name} on ${site}: ${await server.text()}`);
  }
  // More rows than one page of a table holds.
  const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl e2e';
  for (let n = 1; n <= 55; n += 1) {
    const name = `key-${String(n).padStart(3, '0')}`;
    const made = await cloud.api('POST', '/sites/site-002/keypairs', JSON.stringify({ name, public_key: key }));
    assert.equal(made.status, 201, `${name}: ${await made.text()}`);
  }
  browser = await launchBrowser();
});

after(async () => {
  await browser?.context.close();
  const codes = await cloud?.stop();
  assert.deepEqual(codes, [0, 0], 'console and simulator stop cleanly on SIGTERM');
});

const shot = (name) => browser.page.screenshot({ path: join(artifacts, `${name}.png`), fullPage: true });
const nav = (name) => browser.page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name, exact: true }).click();

test('the overview shows a site that was set down as unreachable, and another as it goes down', async () => {
  const { page, errors } = browser;
  await cloud.fault('site-006', 'down');
  await waitForSiteState(cloud, 'site-006', 'unreachable');
  await login(page, `${cloud.url}/login`, cloud.adminPassword);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  const banner = page.getByRole('status').filter({ hasText: '1 unreachable' });
  await banner.waitFor();
  assert.match(await banner.textContent(), /site-006/);
  const tile = page.getByRole('list', { name: 'Site states' }).getByRole('listitem').filter({ hasText: 'site-006' });
  assert.equal(await tile.getByText('unreachable', { exact: true }).count(), 1);
  await page.getByText('From the inventory of').waitFor();
  await shot('overview');

  // Pushed by the console's event stream: no reload.
  await cloud.fault('site-005', 'down');
  await page.getByRole('status').filter({ hasText: '2 unreachable' }).waitFor({ timeout: 20000 });
  await cloud.fault('site-005', 'up');
  await page.getByRole('status').filter({ hasText: '1 unreachable' }).waitFor({ timeout: 20000 });
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('the sites table filters, sorts and leads to a site', async () => {
  const { page, errors } = browser;
  await nav('Sites');
  await page.getByRole('rowheader', { name: 'site-006' }).waitFor();
  await page.getByLabel('Filter').fill('test');
  await page.getByText('2 sites').waitFor();
  assert.deepEqual(await page.getByRole('rowheader').allTextContents(), ['site-003', 'site-006']);
  await page.getByRole('button', { name: 'Name' }).click(); // now descending
  assert.deepEqual(await page.getByRole('rowheader').allTextContents(), ['site-006', 'site-003']);
  await page.getByLabel('Filter').fill('');
  await page.getByText('6 sites').waitFor();
  await shot('sites');
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('a site page lists its servers and creates one', async () => {
  const { page, errors } = browser;
  await page.getByRole('link', { name: 'site-001', exact: true }).click();
  await page.getByRole('heading', { name: /site-001/ }).waitFor();
  const servers = page.getByRole('tabpanel').getByRole('row');
  await servers.nth(1).waitFor();
  const before = await servers.count();
  await page.getByRole('button', { name: 'Create server' }).click();
  await page.getByLabel('Name', { exact: true }).fill('e2e-web-1');
  await page.getByLabel('Flavor').selectOption({ label: 'm1.tiny' });
  await page.getByRole('button', { name: 'Create', exact: true }).click();
  const created = page.getByRole('row').filter({ hasText: 'e2e-web-1' });
  await created.waitFor();
  // The tab follows the server through BUILD until Nova says it is ACTIVE.
  await created.getByText('ACTIVE').waitFor({ timeout: 20000 });
  assert.equal(await servers.count(), before + 1);
  await shot('site');

  await created.getByRole('button', { name: 'Stop e2e-web-1' }).click();
  await created.getByText('SHUTOFF').waitFor({ timeout: 20000 });
  await created.getByRole('button', { name: /Delete server e2e-web-1/ }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await page.getByRole('row').filter({ hasText: 'e2e-web-1' }).waitFor({ state: 'detached', timeout: 20000 });

  // The tabs work from the keyboard: arrows move the selection and the focus.
  await page.getByRole('tab', { name: 'Servers' }).focus();
  await page.keyboard.press('ArrowRight');
  assert.equal(await page.getByRole('tab', { name: 'Images' }).getAttribute('aria-selected'), 'true');
  assert.equal(await page.evaluate(() => document.activeElement.id), 'tab-images');
  await page.getByRole('tabpanel').getByRole('rowheader', { name: 'cirros-0.6.2' }).waitFor();
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('the create-server form offers the networks a site supports', async () => {
  const { page, errors } = browser;
  // site-001 (2025.2) can allocate a network by itself; site-003 (zed) cannot, like many real sites.
  for (const [site, automatic] of [['site-001', true], ['site-003', false]]) {
    await nav('Sites');
    await page.getByRole('link', { name: site, exact: true }).click();
    await page.getByRole('heading', { name: new RegExp(site) }).waitFor();
    await page.getByRole('button', { name: 'Create server' }).click();
    const network = page.getByLabel('Network');
    await network.waitFor();
    const options = await network.locator('option').allTextContents();
    assert.equal(options.includes('Allocated by the site'), automatic, `${site}: ${options}`);
    assert.ok(options.includes('No network') && options.includes('private'), `${site}: ${options}`);
    await page.getByRole('button', { name: 'Cancel' }).click();
  }
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('a table longer than a page is paged through with Next and Previous', async () => {
  const { page, errors } = browser;
  await nav('Sites');
  await page.getByRole('link', { name: 'site-002', exact: true }).click();
  await page.getByRole('heading', { name: /site-002/ }).waitFor();
  await page.getByRole('tab', { name: 'Key pairs' }).click();
  const panel = page.getByRole('tabpanel');
  const pager = panel.getByRole('navigation', { name: 'Pages' });
  await pager.getByText('1–50 of 55').waitFor();
  const next = pager.getByRole('button', { name: 'Next' });
  const previous = pager.getByRole('button', { name: 'Previous' });
  assert.equal(await next.textContent(), 'Next', 'the button shows its label and nothing else');
  assert.equal(await previous.isDisabled(), true);
  await next.click();
  await pager.getByText('51–55 of 55').waitFor();
  await panel.getByText('key-055').waitFor();
  assert.equal(await panel.getByText('key-001', { exact: true }).count(), 0);
  assert.equal(await next.isDisabled(), true, 'no page after the last');
  await previous.click();
  await pager.getByText('1–50 of 55').waitFor();
  await panel.getByText('key-001', { exact: true }).waitFor();
  await shot('site-paged');
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('a flavor.create job over a label selection reaches 100 % on every selected site', async () => {
  const { page, errors } = browser;
  await waitForSiteState(cloud, 'site-005', 'online');
  await nav('Jobs');
  await page.getByRole('link', { name: 'New job' }).click();
  await page.getByRole('heading', { name: 'New job' }).waitFor();
  await page.getByLabel('Kind').selectOption('flavor.create');
  await page.getByLabel('Name *').fill('e2e.large');
  await page.getByLabel('vCPUs *').fill('4');
  await page.getByLabel('RAM (MB) *').fill('8192');
  await page.getByLabel('Disk (GB) *').fill('40');
  await page.getByLabel('Label selector').fill('tier=edge');
  await shot('new-job');
  await page.getByRole('button', { name: 'Start job' }).click();
  await page.getByRole('heading', { name: /flavor\.create/ }).waitFor();
  const progress = page.getByRole('progressbar', { name: 'Job progress' });
  await page.waitForFunction(() => document.querySelector('[aria-label="Job progress"]')?.getAttribute('aria-valuenow') === '100', null, { timeout: 30000 });
  assert.equal(await progress.getAttribute('aria-valuenow'), '100');
  await page.getByRole('heading', { name: /succeeded/ }).waitFor();
  const tasks = page.getByRole('table').getByRole('rowheader');
  // The form's default rollout sends one canary first: the first site by name.
  assert.deepEqual(await tasks.allTextContents(), ['site-001 (canary)', 'site-002', 'site-004', 'site-005']);
  for (const site of ['site-001', 'site-002', 'site-004', 'site-005']) {
    assert.equal(await page.getByRole('progressbar', { name: `${site} progress` }).getAttribute('aria-valuenow'), '100');
  }
  await shot('job');
  await nav('Jobs');
  await page.getByRole('row').filter({ hasText: 'flavor.create' }).getByText('succeeded', { exact: true }).waitFor();
  await shot('jobs');
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('the admin adds a viewer, creates an API token and reads the audit log', async () => {
  const { page, errors } = browser;
  await nav('Admin');
  await page.getByRole('heading', { name: 'Admin' }).waitFor();
  await page.getByLabel('Username').fill('vera');
  await page.getByLabel('Password').fill('vera-password-123');
  await page.getByLabel('Role', { exact: true }).selectOption('viewer');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('rowheader', { name: 'vera' }).waitFor();
  await shot('admin-users');

  await page.getByRole('tab', { name: 'API tokens' }).click();
  await page.getByLabel('Name').fill('nightly');
  await page.getByRole('button', { name: 'Create token' }).click();
  await page.getByText('Copy this token now').waitFor();
  assert.match(await page.locator('code.secret').textContent(), /^oc_/);
  await page.getByRole('rowheader', { name: 'nightly' }).waitFor();
  await shot('admin-tokens');

  await page.getByRole('tab', { name: 'Audit log' }).click();
  await page.getByRole('rowheader', { name: 'job.create' }).first().waitFor();
  await shot('admin-audit');
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('a viewer sees everything in scope and no mutating button', async () => {
  const { page, errors } = browser;
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${cloud.url}/login`);
  await login(page, `${cloud.url}/login`, 'vera-password-123', 'vera');
  await page.getByText('vera (viewer)').waitFor();
  const mutating = /^(Add site|Import clouds\.yaml|Create server|New job|Start|Stop|Reboot|Delete.*|Remove site|Cancel job|Retry failed sites)$/;
  const assertNoMutatingButton = async (where) => {
    const names = [...await page.getByRole('button').allTextContents(), ...await page.getByRole('link').allTextContents()];
    assert.deepEqual(names.filter((n) => mutating.test(n.trim())), [], `no mutating control on ${where}`);
  };
  await nav('Sites');
  await page.getByRole('rowheader', { name: 'site-001' }).waitFor();
  await assertNoMutatingButton('the sites page');
  await page.getByRole('link', { name: 'site-001', exact: true }).click();
  await page.getByRole('tabpanel').getByRole('row').nth(1).waitFor();
  await assertNoMutatingButton('a site page');
  await shot('viewer-site');
  await nav('Jobs');
  await page.getByRole('link', { name: 'flavor.create' }).first().click();
  await page.getByRole('heading', { name: /flavor\.create/ }).waitFor();
  await assertNoMutatingButton('a job page');
  assert.deepEqual(errors, [], 'no error in the browser console');
});
