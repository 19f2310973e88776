// The site page and a server's page against `overcast serve` and `overcast sim`, on a
// desktop screen and a phone's: tabs in the URL, a site that does not answer, quotas,
// hypervisors, names instead of ids, creating from empty tabs, a server's details.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServeAndSim, launchBrowser, login, artifacts, viewports, waitForSiteState } from '../lib/overcast.js';

let cloud;
let browser;
const ids = {};

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl e2e';
const until = async (what, check, deadlineMs = 20000) => {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
};

before(async () => {
  // site-001 runs 2025.2, site-004 a driver without console logs (and no Cinder),
  // site-006 goes down after its inventory is read.
  cloud = await startServeAndSim({ sites: 6 });
  const post = async (path, body, status) => {
    const answer = await cloud.api('POST', path, JSON.stringify(body));
    const text = await answer.text();
    assert.equal(answer.status, status, `${path}: ${text}`);
    return JSON.parse(text);
  };
  for (const site of ['site-001', 'site-004', 'site-006']) {
    await post(`/sites/${site}/images`, { name: 'cirros-0.6.2', disk_format: 'qcow2' }, 201);
  }
  for (const [site, name, extra] of [['site-001', 'app-1', {}], ['site-004', 'vm-1', { networks: 'none' }], ['site-006', 'edge-1', {}]]) {
    const server = await post(`/sites/${site}/servers`, { name, flavor: 'm1.small', image: 'cirros-0.6.2', ...extra }, 202);
    ids[name] = server.id;
  }
  await post('/sites/site-001/projects', { name: 'team-a', description: 'The first team' }, 201);
  await post('/sites/site-001/users', { name: 'alice', password: 'alice-password-1', default_project: 'team-a' }, 201);
  const quota = await cloud.api('PUT', '/sites/site-001/quotas/admin', JSON.stringify({ compute: { key_pairs: -1 } }));
  assert.equal(quota.status, 200, await quota.text());
  for (const [site, name] of [['site-001', 'app-1'], ['site-004', 'vm-1'], ['site-006', 'edge-1']]) {
    await until(`${name} ACTIVE`, async () => (await (await cloud.api('GET', `/sites/${site}/servers/${ids[name]}`)).json()).status === 'ACTIVE');
  }
  // The console's inventory of site-006 holds edge-1, ACTIVE, before the site goes dark.
  await until('site-006 servers in the inventory', async () => {
    const answer = await (await cloud.api('GET', '/servers?sites=site-006&max_age_ms=600000')).json();
    return answer.items.some((s) => s.name === 'edge-1' && s.status === 'ACTIVE');
  });
  await cloud.fault('site-006', 'down');
  await waitForSiteState(cloud, 'site-006', 'unreachable');
  browser = await launchBrowser();
  await login(browser.page, `${cloud.url}/login`, cloud.adminPassword);
  await browser.page.getByRole('heading', { name: 'Overview' }).waitFor();
});

after(async () => {
  await browser?.context.close();
  const codes = await cloud?.stop();
  assert.deepEqual(codes, [0, 0], 'console and simulator stop cleanly on SIGTERM');
});

/** Runs `check` on the desktop screen, then on the phone's, with a screenshot of each. */
const onEveryScreen = (name, check) => test(name, async () => {
  for (const [screen, size] of Object.entries(viewports)) {
    const { page, errors } = browser;
    errors.length = 0;
    await page.setViewportSize(size);
    const shot = (what) => page.screenshot({ path: join(artifacts, `${what}-${screen}.png`), fullPage: true });
    await check({ page, errors, shot, screen });
  }
});

const go = (page, path) => page.goto(`${cloud.url}${path}`);
const tab = (page, name) => page.getByRole('tab', { name, exact: true });
const panel = (page) => page.getByRole('tabpanel');
const noErrors = (errors) => assert.deepEqual(errors, [], 'no error in the browser console');

onEveryScreen('a tab is in the URL: it can be linked to, and Back returns to the previous tab', async ({ page, errors, shot }) => {
  await go(page, '/sites/site-001');
  await panel(page).getByRole('rowheader', { name: 'app-1' }).waitFor();
  assert.equal(await tab(page, 'Servers').getAttribute('aria-selected'), 'true');
  await tab(page, 'Images').click();
  await page.waitForURL(`${cloud.url}/sites/site-001/images`);
  await panel(page).getByRole('rowheader', { name: 'cirros-0.6.2' }).waitFor();
  await tab(page, 'Key pairs').click();
  await page.waitForURL(`${cloud.url}/sites/site-001/keypairs`);
  await page.goBack();
  await page.waitForURL(`${cloud.url}/sites/site-001/images`);
  assert.equal(await tab(page, 'Images').getAttribute('aria-selected'), 'true');
  await panel(page).getByRole('rowheader', { name: 'cirros-0.6.2' }).waitFor();
  await page.goBack();
  await page.waitForURL(`${cloud.url}/sites/site-001`);
  assert.equal(await tab(page, 'Servers').getAttribute('aria-selected'), 'true');
  await panel(page).getByRole('rowheader', { name: 'app-1' }).waitFor();
  // A link to a tab opens it.
  await go(page, '/sites/site-001/flavors');
  assert.equal(await tab(page, 'Flavors').getAttribute('aria-selected'), 'true');
  await panel(page).getByRole('rowheader', { name: 'm1.small' }).waitFor();
  await shot('site-flavors');
  await go(page, '/sites/site-001/no-such-tab');
  await page.getByRole('heading', { name: 'No such tab' }).waitFor();
  noErrors(errors);
});

onEveryScreen('an unknown site, or server, has one not-found page', async ({ page, errors, shot }) => {
  await go(page, '/sites/no-such-site');
  await page.getByRole('heading', { name: 'Site not found' }).waitFor();
  assert.equal(await page.getByRole('heading', { level: 1 }).count(), 1);
  assert.equal(await page.getByRole('tablist').count(), 0, 'no tabs for a site that does not exist');
  assert.equal(await page.getByRole('alert').count(), 0, 'no error banner either');
  await page.getByRole('main').getByRole('link', { name: 'All sites' }).waitFor();
  await shot('site-not-found');
  await go(page, '/sites/no-such-site/servers/abc');
  await page.getByRole('heading', { name: 'Site not found' }).waitFor();
  await go(page, '/sites/site-001/servers/00000000-0000-4000-8000-000000000000');
  await page.getByRole('heading', { name: 'Server not found' }).waitFor();
  assert.equal(await page.getByRole('alert').count(), 0);
  // The browser reports the API's 404s; nothing else may go wrong.
  assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), [], 'no error but the 404s');
});

onEveryScreen('a site that does not answer shows its last-known data, marked stale with its age, and no action can reach it', async ({ page, errors, shot }) => {
  await go(page, '/sites/site-006');
  await page.getByRole('status').filter({ hasText: 'site-006 does not answer' }).first().waitFor();
  const stale = panel(page).getByRole('status').filter({ hasText: 'Last known,' });
  await stale.waitFor();
  assert.match(await stale.textContent(), /Last known, (just now|\d+ s ago|\d+ min ago)/);
  const row = panel(page).getByRole('row').filter({ hasText: 'edge-1' });
  await row.getByText('ACTIVE').waitFor();
  assert.equal(await row.getByRole('button', { name: 'Stop edge-1' }).isDisabled(), true);
  assert.equal(await row.getByRole('button', { name: 'Delete server edge-1?' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Create server' }).isDisabled(), true);
  await shot('site-stale');

  await tab(page, 'Images').click();
  await panel(page).getByRole('rowheader', { name: 'cirros-0.6.2' }).waitFor();
  await panel(page).getByRole('status').filter({ hasText: 'Last known,' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Create image' }).isDisabled(), true);
  assert.equal(await page.getByRole('button', { name: 'Delete image cirros-0.6.2?' }).isDisabled(), true);
  await tab(page, 'Key pairs').click();
  await panel(page).getByText('site-006 does not answer, and the console keeps no copy of its key pairs.').waitFor();
  await tab(page, 'Quotas').click();
  await panel(page).getByText('the console keeps no copy of its quotas').waitFor();

  // The server's own page: last known too, without events or console log.
  await go(page, `/sites/site-006/servers/${ids['edge-1']}`);
  await page.getByRole('heading', { name: /edge-1/ }).waitFor();
  await page.getByRole('status').filter({ hasText: 'Last known,' }).waitFor();
  assert.equal(await page.getByRole('button', { name: 'Stop edge-1' }).isDisabled(), true);
  assert.equal(await page.getByText('Not available while the site does not answer.').count(), 2, 'events and console log');
  // Names from the inventory too, not ids.
  await page.locator('dl.facts').getByText('cirros-0.6.2').waitFor();
  await page.locator('dl.facts').getByText('admin', { exact: true }).waitFor();
  await shot('server-stale');
  noErrors(errors);
});

onEveryScreen('quotas read by name, with usage beside each limit, for a project chosen by name', async ({ page, errors, shot }) => {
  await go(page, '/sites/site-001/quotas');
  await page.getByRole('heading', { name: 'Quotas of project admin' }).waitFor();
  const project = page.getByLabel('Project');
  assert.equal(await project.locator('option:checked').textContent(), 'admin');
  const compute = page.getByRole('table', { name: 'Compute' });
  const servers = compute.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'Servers', exact: true }) });
  const inUse = servers.getByRole('meter', { name: 'Servers in use' });
  assert.equal(await inUse.getAttribute('aria-valuenow'), '1', 'app-1');
  assert.equal(await inUse.getAttribute('aria-valuemax'), '10');
  await servers.getByText('1 of 10').waitFor();
  const keys = compute.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'Key pairs', exact: true }) });
  await keys.getByRole('cell', { name: 'unlimited' }).waitFor();
  for (const name of ['vCPUs', 'RAM (MB)']) await compute.getByRole('rowheader', { name, exact: true }).waitFor();
  await page.getByRole('table', { name: 'Network' }).getByRole('rowheader', { name: 'Ports', exact: true }).waitFor();
  await page.getByRole('table', { name: 'Block storage' }).getByRole('rowheader', { name: 'Volume storage (GB)', exact: true }).waitFor();
  assert.equal(await page.getByText(/\b[0-9a-f]{32}\b|[0-9a-f-]{36}/).count(), 0, 'no project id on screen');
  await shot('site-quotas');
  await project.selectOption({ label: 'team-a' });
  await page.getByRole('heading', { name: 'Quotas of project team-a' }).waitFor();
  assert.equal(await page.getByRole('meter', { name: 'Servers in use' }).getAttribute('aria-valuenow'), '0');
  noErrors(errors);
});

onEveryScreen('hypervisors show what is used of their vCPUs and RAM as bars', async ({ page, errors, shot }) => {
  await go(page, '/sites/site-001/hypervisors');
  const cpus = panel(page).getByRole('meter', { name: /^vCPUs used on / });
  await cpus.first().waitFor();
  assert.equal(await cpus.count(), 4, 'one per hypervisor');
  const used = await Promise.all((await cpus.all()).map((m) => m.getAttribute('aria-valuenow')));
  assert.equal(used.map(Number).reduce((a, b) => a + b, 0), 1, 'app-1 (m1.small) uses one vCPU');
  assert.equal(await cpus.first().getAttribute('aria-valuemax'), '32');
  const ram = panel(page).getByRole('meter', { name: /^RAM used on / });
  assert.equal(await ram.count(), 4);
  await panel(page).getByText('of 128 GB').first().waitFor();
  await shot('site-hypervisors');
  noErrors(errors);
});

onEveryScreen('networks name their subnets and users their default project, never by id', async ({ page, errors, shot }) => {
  await go(page, '/sites/site-001/networks');
  const privateNet = panel(page).getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'private', exact: true }) });
  await privateNet.getByRole('cell', { name: 'private-subnet (10.0.0.0/26)' }).waitFor();
  await shot('site-networks');
  await tab(page, 'Users').click();
  const alice = panel(page).getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'alice', exact: true }) });
  await alice.getByRole('cell', { name: 'team-a', exact: true }).waitFor();
  assert.doesNotMatch(await panel(page).textContent(), /[0-9a-f]{8}-[0-9a-f]{4}-/, 'no UUID in the users table');
  noErrors(errors);
});

onEveryScreen('empty tabs offer to create: a volume, a key pair and a network with its subnet', async ({ page, errors, shot, screen }) => {
  await go(page, '/sites/site-001/volumes');
  const empty = panel(page).getByText('No volumes on site-001');
  // The phone's turn finds the desktop's volume: only the first sees the tab empty.
  if (screen === 'desktop') {
    await empty.waitFor();
    await shot('site-volumes-empty');
  }
  await panel(page).getByRole('button', { name: 'Create volume' }).click();
  const form = page.getByRole('form', { name: 'Create a volume on site-001' });
  await form.getByLabel('Name').fill(`data-${screen}`);
  await form.getByLabel('Size (GB)').fill('2');
  await form.getByLabel('From image').selectOption({ label: 'cirros-0.6.2' });
  await form.getByRole('button', { name: 'Create', exact: true }).click();
  const volume = panel(page).getByRole('row').filter({ hasText: `data-${screen}` });
  await volume.getByText('available').waitFor({ timeout: 20000 });
  await volume.getByRole('cell', { name: '2 GB' }).waitFor();

  await tab(page, 'Key pairs').click();
  if (screen === 'desktop') await panel(page).getByText('No key pairs on site-001').waitFor();
  await panel(page).getByRole('button', { name: 'Create key pair' }).click();
  const keyForm = page.getByRole('form', { name: 'Create a key pair on site-001' });
  await keyForm.getByLabel('Name').fill(`key-${screen}`);
  await keyForm.getByLabel('Public key').fill(KEY);
  await keyForm.getByRole('button', { name: 'Create', exact: true }).click();
  await panel(page).getByRole('rowheader', { name: `key-${screen}` }).waitFor();

  await tab(page, 'Networks').click();
  await panel(page).getByRole('button', { name: 'Create network' }).click();
  const netForm = page.getByRole('form', { name: 'Create a network on site-001' });
  await netForm.getByLabel('Name').fill(`net-${screen}`);
  const cidr = screen === 'desktop' ? '10.9.1.0/24' : '10.9.2.0/24';
  await netForm.getByLabel('Subnet (CIDR, optional)').fill(cidr);
  await shot('site-create-network');
  await netForm.getByRole('button', { name: 'Create', exact: true }).click();
  const network = panel(page).getByRole('row').filter({ has: page.getByRole('rowheader', { name: `net-${screen}`, exact: true }) });
  await network.getByRole('cell', { name: `net-${screen}-subnet (${cidr})` }).waitFor();
  noErrors(errors);
});

onEveryScreen('every other creatable tab creates too: a flavor, an image with its data, a project, a user', async ({ page, errors, screen }) => {
  const create = async (tabName, what, fill) => {
    await go(page, '/sites/site-001');
    await tab(page, tabName).click();
    await panel(page).getByRole('button', { name: `Create ${what}` }).click();
    const form = page.getByRole('form', { name: new RegExp(`^Create an? ${what} on site-001$`) });
    await fill(form);
    await form.getByRole('button', { name: 'Create', exact: true }).click();
    await form.waitFor({ state: 'detached' });
  };
  const row = (name) => panel(page).getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

  await create('Flavors', 'flavor', async (form) => {
    await form.getByLabel('Name').fill(`e2e.${screen}`);
    await form.getByLabel('vCPUs').fill('2');
    await form.getByLabel('RAM (MB)').fill('1024');
    await form.getByLabel('Disk (GB)').fill('10');
  });
  await row(`e2e.${screen}`).getByRole('cell', { name: '1 GB', exact: true }).waitFor();

  await create('Images', 'image', async (form) => {
    await form.getByLabel('Name').fill(`image-${screen}`);
    await form.getByLabel('Disk format').selectOption('raw');
    await form.getByLabel('Data (optional)').setInputFiles({ name: 'tiny.img', mimeType: 'application/octet-stream', buffer: Buffer.alloc(1536, 7) });
  });
  await row(`image-${screen}`).getByText('active').waitFor({ timeout: 20000 });
  await row(`image-${screen}`).getByRole('cell', { name: '1.5 KiB' }).waitFor();

  await create('Projects', 'project', async (form) => {
    await form.getByLabel('Name').fill(`team-${screen}`);
    await form.getByLabel('Description').fill('Made from the dashboard');
  });
  await row(`team-${screen}`).getByRole('cell', { name: 'Made from the dashboard' }).waitFor();

  await create('Users', 'user', async (form) => {
    await form.getByLabel('Name').fill(`user-${screen}`);
    await form.getByLabel('Password').fill('a-long-password-1');
    await form.getByLabel('Default project').selectOption({ label: `team-${screen}` });
  });
  await row(`user-${screen}`).getByRole('cell', { name: `team-${screen}`, exact: true }).waitFor();
  noErrors(errors);
});

onEveryScreen("a server's page shows its addresses, flavor, image, volumes, events and console log", async ({ page, errors, shot, screen }) => {
  const made = await cloud.api('POST', '/sites/site-001/volumes', JSON.stringify({ name: `attach-${screen}`, size_gb: 1 }));
  const spare = JSON.parse(await made.text());
  assert.equal(made.status, 202, JSON.stringify(spare));
  await until('the volume available', async () => (await (await cloud.api('GET', `/sites/site-001/volumes/${spare.id}`)).json()).status === 'available');
  await go(page, '/sites/site-001/servers');
  await panel(page).getByRole('link', { name: 'app-1' }).click();
  await page.waitForURL(`${cloud.url}/sites/site-001/servers/${ids['app-1']}`);
  await page.getByRole('heading', { name: /app-1/, level: 1 }).waitFor();
  const facts = page.locator('dl.facts');
  await facts.getByText('m1.small · 1 vCPU · 2 GB RAM · 20 GB disk').waitFor();
  await facts.getByText('cirros-0.6.2').waitFor();
  await facts.getByText('admin', { exact: true }).waitFor();
  await page.getByRole('table', { name: 'Addresses' }).getByRole('rowheader', { name: 'private' }).waitFor();
  await page.getByText('No volumes attached.').waitFor();
  const attached = page.getByRole('table', { name: 'Attached volumes' });
  await page.getByLabel('Volume to attach').selectOption({ label: `attach-${screen} (1 GB)` });
  await page.getByRole('button', { name: 'Attach', exact: true }).click();
  const row = attached.getByRole('row').filter({ has: page.getByRole('rowheader', { name: `attach-${screen}` }) });
  await row.getByRole('cell', { name: 'in-use' }).waitFor();
  await row.getByRole('cell', { name: '1 GB' }).waitFor();
  await shot('server-volume');
  await row.getByRole('button', { name: `Detach volume attach-${screen} from app-1?` }).click();
  await page.getByRole('button', { name: 'Yes, detach' }).click();
  await page.getByText('No volumes attached.').waitFor();
  const events = page.getByRole('table', { name: 'Events' });
  await events.getByRole('rowheader', { name: 'create' }).waitFor();
  const log = page.getByLabel('Console log of app-1');
  assert.match(await log.textContent(), /app-1 login:/);
  await shot('server');

  // Each screen's turn stops and starts app-1 once more: one more event of each.
  const count = (action) => events.getByRole('rowheader', { name: action, exact: true }).count();
  const [stops, starts] = [await count('stop'), await count('start')];
  await page.getByRole('button', { name: 'Stop app-1' }).click();
  await until('a stop event', async () => await count('stop') === stops + 1);
  await page.getByRole('button', { name: 'Start app-1' }).click();
  await until('a start event', async () => await count('start') === starts + 1);
  await page.getByText('ACTIVE', { exact: true }).waitFor({ timeout: 20000 });
  await page.goBack();
  await page.waitForURL(`${cloud.url}/sites/site-001/servers`);
  await panel(page).getByRole('rowheader', { name: 'app-1' }).waitFor();

  // site-004's driver keeps no console log: the page says so, calmly.
  await go(page, `/sites/site-004/servers/${ids['vm-1']}`);
  await page.getByRole('status').filter({ hasText: 'Not available on this site' }).waitFor();
  assert.equal(await page.getByRole('alert').count(), 0, 'not an error banner');
  await page.getByText('No addresses: the server has no network.').waitFor();
  await shot('server-no-console');
  noErrors(errors);
});

onEveryScreen('a viewer reads the site and server pages without a control that changes anything', async ({ page, errors, screen }) => {
  if (screen === 'desktop') {
    const made = await cloud.api('POST', '/admin/users', JSON.stringify({ username: 'vic', password: 'vic-password-123', role: 'viewer' }));
    assert.equal(made.status, 201, await made.text());
  }
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${cloud.url}/login`);
  await login(page, `${cloud.url}/login`, 'vic-password-123', 'vic');
  await page.getByText('vic (viewer)').waitFor();
  const mutating = /^(Create.*|Start|Stop|Reboot|Delete.*|Detach.*|Attach|Remove site)$/;
  const controls = async () => (await page.getByRole('button').allTextContents()).map((t) => t.trim()).filter((t) => mutating.test(t));
  for (const path of ['/sites/site-001', '/sites/site-001/volumes', '/sites/site-001/keypairs', '/sites/site-001/quotas']) {
    await go(page, path);
    await panel(page).locator('table, .empty').first().waitFor();
    assert.deepEqual(await controls(), [], `no mutating control on ${path}`);
  }
  await go(page, `/sites/site-001/servers/${ids['app-1']}`);
  await page.getByLabel('Console log of app-1').waitFor();
  assert.deepEqual(await controls(), [], 'no mutating control on a server page');
  noErrors(errors);
  // Back to the admin for whatever runs next.
  await page.getByRole('button', { name: 'Log out' }).click();
  await page.waitForURL(`${cloud.url}/login`);
  await login(page, `${cloud.url}/login`, cloud.adminPassword);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
});
