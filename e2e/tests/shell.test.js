import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemo, launchBrowser, login, artifacts, waitForSiteState, apiLogin, startServe, eventually } from '../lib/overcast.js';

let demo;
let browser;

before(async () => {
  demo = await startDemo({ sites: 5 });
  browser = await launchBrowser();
});

after(async () => {
  await browser?.context.close();
  const code = await demo?.stop();
  assert.equal(code, 0, 'the console stops cleanly on SIGTERM');
});

test('the banner comes after the start-up lines and names the password in force; seeded images are active', async () => {
  const output = demo.output();
  const banner = output.lastIndexOf('Overcast demo is running');
  assert.ok(banner >= 0, output);
  assert.match(output.slice(banner), /Log in as admin \/ e2e-admin-password/);
  const token = await apiLogin(demo.url, 'admin', demo.adminPassword);
  const answer = await fetch(`${demo.url}/api/v1/images`, { headers: { Authorization: `Bearer ${token}` } });
  const images = (await answer.json()).items;
  assert.ok(images.length >= 5, JSON.stringify(images));
  for (const image of images) {
    assert.equal(image.status, 'active', JSON.stringify(image));
    assert.ok(image.size > 0, JSON.stringify(image));
  }
});

test('a console first started without an admin password prints a generated one once, and it logs in', async () => {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'overcast-serve-')), 'data');
  const shown = /Log in as admin with the password (\S+) \(shown once/;
  const first = await startServe({ dataDir, env: { OVERCAST_ADMIN_PASSWORD: undefined } });
  let password;
  try {
    password = await eventually('the generated password on standard output', async () => first.output().match(shown)?.[1], 10000);
    const token = await apiLogin(first.url, 'admin', password);
    assert.ok(token, 'the printed password logs in');
  } finally {
    assert.equal(await first.stop(), 0);
  }
  const second = await startServe({ dataDir, env: { OVERCAST_ADMIN_PASSWORD: undefined } });
  try {
    assert.doesNotMatch(second.output(), shown, 'a later start has no password to show');
    assert.doesNotMatch(second.output(), new RegExp(password), 'nor is it in the log');
    assert.ok(await apiLogin(second.url, 'admin', password), 'the password outlives the restart');
  } finally {
    assert.equal(await second.stop(), 0);
  }
});

test('an unauthenticated visit lands on the login page', async () => {
  const { page } = browser;
  const refused = [];
  const watch = (response) => { if (response.url().includes('/api/v1/') && response.status() === 401) refused.push(response.url()); };
  page.on('response', watch);
  await page.goto(`${demo.url}/sites`);
  await page.waitForURL(`${demo.url}/login`);
  page.off('response', watch);
  assert.deepEqual(refused, [], 'no API call is made before the session is known');
  await assert.doesNotReject(page.getByRole('heading', { name: 'Overcast' }).waitFor());
  await page.screenshot({ path: join(artifacts, 'demo-login.png') });
});

test('a wrong password is refused with a clear message', async () => {
  const { page } = browser;
  await login(page, `${demo.url}/login`, 'not-the-password');
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.match(await alert.textContent(), /invalid username or password/);
});

test('the admin logs in and sees the app shell with every section', async () => {
  const { page, errors } = browser;
  errors.length = 0; // the earlier tests' 401s were expected
  await login(page, `${demo.url}/login`, demo.adminPassword);
  await page.getByRole('heading', { name: 'Overview' }).waitFor();
  const nav = page.getByRole('navigation', { name: 'Main' });
  for (const section of ['Overview', 'Sites', 'Resources', 'Images', 'Jobs', 'Placement', 'Metrics', 'Admin']) {
    assert.equal(await nav.getByRole('link', { name: section, exact: true }).count(), 1, `nav has ${section}`);
  }
  await page.getByText('admin (admin)').waitFor();
  const tiles = page.getByRole('list', { name: 'Site states' }).getByRole('listitem');
  await tiles.first().waitFor();
  assert.equal(await tiles.count(), 5, 'one tile per registered demo site');
  await page.screenshot({ path: join(artifacts, 'demo-overview.png'), fullPage: true });

  await nav.getByRole('link', { name: 'Sites', exact: true }).click();
  await page.getByRole('heading', { name: 'Sites' }).waitFor();
  await page.getByRole('rowheader', { name: 'site-005' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'demo-sites.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('resources across sites are listed with their site, and a down site is called out', async () => {
  const { page, errors } = browser;
  errors.length = 0;
  await fetch(`${demo.simUrl}/_sim/sites/site-004/fault`, { method: 'POST', body: JSON.stringify({ mode: 'down' }) });
  await waitForSiteState(demo, 'site-004', 'unreachable');
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Resources', exact: true }).click();
  await page.getByRole('heading', { name: 'Resources' }).waitFor();
  await page.getByRole('tab', { name: 'Flavors' }).click();
  // Every demo site has m1.tiny: one row for all of them, expanding to one row a site.
  const tiny = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: 'm1.tiny', exact: true }) });
  await tiny.getByRole('button', { name: /sites/ }).click();
  const perSite = page.getByRole('link', { name: /^m1\.tiny on site-00\d$/ });
  await page.getByRole('link', { name: 'm1.tiny on site-003' }).waitFor();
  // site-004 is down, so it shows from the inventory or not at all.
  assert.ok(await perSite.count() >= 4, `m1.tiny sites: ${await perSite.count()}`);
  await page.getByRole('status').filter({ hasText: 'site-004' }).waitFor();
  await page.screenshot({ path: join(artifacts, 'demo-resources.png'), fullPage: true });
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('a client-side route survives a reload', async () => {
  const { page } = browser;
  await page.goto(`${demo.url}/jobs`);
  await page.getByRole('heading', { name: 'Jobs' }).waitFor();
});
