// The Images page: the catalog of a 5-site demo (one row per content, the sites holding
// it, search, a dark site shown from its last-known images), the copy dialog (field
// errors, dry-run counts), a copy followed site by site until every target holds it, and
// replication policies (created from the catalog, their drift filling up, deleted with
// the copies they made).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { startDemo, launchBrowser, login, artifacts, apiLogin, viewports, waitForSiteState, noPageOverflow, eventually, signedInBrowsers, apiClient } from '../lib/overcast.js';

const SITES = 5;
const ALL = Array.from({ length: SITES }, (_, n) => `site-${String(n + 1).padStart(3, '0')}`);
const OTHER = 'e2e-alpine';
const OTHER_BYTES = 4 << 20;
let demo;
let desktop;
let phone;
let api;
let otherHash;

/** Makes an image of `bytes` random bytes on `site` and resolves with its content hash. */
async function uploadTo(site, name, bytes) {
  const made = await api('POST', `/sites/${site}/images`, { name, disk_format: 'raw', container_format: 'bare' });
  const record = await made.text();
  assert.equal(made.status, 201, record);
  const { id } = JSON.parse(record);
  const upload = await api('PUT', `/sites/${site}/images/${id}/file`, randomBytes(bytes), 'application/octet-stream');
  assert.ok(upload.ok, await upload.text());
  return eventually(`${name} is in the catalog`, async () => (await catalog()).find((e) => e.name === name && e.sha512)?.sha512);
}

const fault = (site, body) => fetch(`${demo.simUrl}/_sim/sites/${site}/fault`, { method: 'POST', body: JSON.stringify(body) });
const catalog = async () => (await (await api('GET', '/images/catalog?max_age_ms=0')).json()).items;
/** The table row of a content, by its name. */
const rowOf = (page, name) => page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

before(async () => {
  demo = await startDemo({ sites: SITES, deadlineMs: 60000 });
  const token = await apiLogin(demo.url, 'admin', demo.adminPassword);
  api = apiClient(demo.url, token);
  // Every demo site gets the same cirros data: one content on all of them, once seeded.
  await eventually('the demo seeds its image on every site', async () => {
    const items = await catalog();
    return items.length === 1 && items[0].sites.length === SITES && items[0].sites.every((s) => s.status === 'active');
  });
  // Other data on site-001 only.
  otherHash = await uploadTo('site-001', OTHER, OTHER_BYTES);

  const viewer = await api('POST', '/admin/users', { username: 'vic', password: 'vic-password-1', role: 'viewer' });
  assert.equal(viewer.status, 201, await viewer.text());

  ({ desktop, phone } = await signedInBrowsers(demo.url, demo.adminPassword));
});

after(async () => {
  await desktop?.context.close();
  await phone?.context.close();
  const code = await demo?.stop();
  assert.equal(code, 0, 'the console stops cleanly on SIGTERM');
});

test('the catalog shows one row per content with the sites holding it, and search narrows it', async () => {
  const { page, errors } = desktop;
  await page.goto(`${demo.url}/images`);
  await page.getByRole('heading', { name: 'Images' }).waitFor();
  await page.getByText(`2 images, one row per content, from ${SITES} of ${SITES} sites`).waitFor();
  const cirros = rowOf(page, 'cirros-0.6.2');
  const other = rowOf(page, OTHER);
  await cirros.getByRole('button', { name: `${SITES} sites` }).waitFor();
  await other.getByRole('button', { name: '1 site' }).waitFor();
  assert.match(await cirros.textContent(), /1\.0 MiB.*qcow2 \/ bare/);
  assert.match(await other.textContent(), /4 MiB.*raw \/ bare/);
  // A short hash, the whole one on hover.
  const hash = other.locator('.mono');
  assert.equal(await hash.textContent(), otherHash.slice(0, 12));
  assert.equal(await hash.getAttribute('title'), `sha512 ${otherHash}`);

  // Expanded: one row per site, with its link, image id and status.
  await cirros.getByRole('button', { name: `${SITES} sites` }).click();
  const siteRows = page.locator('tr.site-row');
  assert.equal(await siteRows.count(), SITES);
  for (const site of ALL) {
    const row = siteRows.filter({ has: page.getByRole('link', { name: site, exact: true }) });
    assert.match(await row.textContent(), /[0-9a-f-]{36}\s*active/);
    assert.equal(await row.getByRole('link').getAttribute('href'), `/sites/${site}/images`);
  }
  await page.screenshot({ path: join(artifacts, 'images-catalog-desktop.png'), fullPage: true });

  // Search by name, then by a label selector (region=eu: site-001 and site-004).
  await page.getByLabel('Name contains').fill('alpine');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('1 image, one row per content').waitFor();
  assert.equal(await page.getByRole('rowheader').count(), 1);
  await other.waitFor();
  await page.getByLabel('Name contains').fill('');
  await page.getByLabel('Sites', { exact: true }).fill('region=eu');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('2 images, one row per content, from 2 of 2 sites').waitFor();
  await cirros.getByRole('button', { name: '2 sites' }).waitFor();
  await page.getByLabel('Name contains').fill('nothing-like-this');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText('No image whose name contains “nothing-like-this” on the selected sites.').waitFor();

  // A site that does not exist: the sites field is marked, with why.
  await page.getByLabel('Name contains').fill('');
  await page.getByLabel('Sites', { exact: true }).fill('site-999');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.locator('#image-sites-error', { hasText: 'no registered site named' }).waitFor();
  assert.equal(await page.getByLabel('Sites', { exact: true }).getAttribute('aria-invalid'), 'true');
  await page.getByLabel('Sites', { exact: true }).fill('');
  await page.getByRole('button', { name: 'Search' }).click();
  await page.getByText(`from ${SITES} of ${SITES} sites`).waitFor();
  assert.equal(await page.getByLabel('Sites', { exact: true }).getAttribute('aria-invalid'), null);
  // The browser logs the refused search (site-999); nothing else.
  assert.deepEqual(errors.splice(0), ['Failed to load resource: the server responded with a status of 404 (Not Found)']);
});

test('a site that does not answer is shown from its last-known images, and the preview counts it unreachable', async () => {
  const { page, errors } = desktop;
  assert.equal((await fault('site-005', { mode: 'down' })).status, 200);
  try {
    await page.goto(`${demo.url}/images`);
    await page.getByRole('button', { name: 'Search' }).click();
    const banner = page.getByRole('status').filter({ hasText: 'Not answered live' });
    await banner.waitFor();
    assert.match(await banner.textContent(), /site-005 \(stale, last read (just now|\d+ s ago)\)/);
    const cirros = rowOf(page, 'cirros-0.6.2');
    await cirros.getByText('1 last known').waitFor();
    await cirros.getByRole('button', { name: `${SITES} sites` }).click();
    const dark = page.locator('tr.site-row').filter({ hasText: 'site-005' });
    assert.match(await dark.textContent(), /active\s*last known, (just now|\d+ s ago)/);
    assert.ok((await dark.locator('time').getAttribute('title')).length > 10, 'the exact time on hover');
    await page.screenshot({ path: join(artifacts, 'images-site-down.png'), fullPage: true });

    // Once the console sees it unreachable, a preview says so; a dark site is no source.
    await waitForSiteState(demo, 'site-005', 'unreachable', 30000);
    await cirros.getByRole('button', { name: 'Copy cirros-0.6.2 to sites…' }).click();
    const dialog = page.getByRole('dialog', { name: 'Copy cirros-0.6.2 to sites' });
    await dialog.waitFor();
    assert.deepEqual(await dialog.getByLabel('Source site').locator('option').allTextContents(), ALL.slice(0, 4));
    await dialog.getByLabel('Every site').check();
    await dialog.getByRole('button', { name: 'Preview' }).click();
    await dialog.getByText(`${SITES} sites match; ${SITES} already hold this image; 1 unreachable now. Nothing to copy`).waitFor();
    await dialog.getByRole('button', { name: 'Close' }).click();
    await dialog.waitFor({ state: 'detached' });
  } finally {
    await fault('site-005', { mode: 'up' });
  }
  await waitForSiteState(demo, 'site-005', 'online', 30000);
  assert.deepEqual(errors, []);
});

test('the copy dialog marks bad fields, previews its counts and follows the copy to every target', async () => {
  const { page, errors } = desktop;
  // Slow links, so the copies are seen under way.
  for (const site of ALL.slice(1)) assert.equal((await fault(site, { mode: 'bandwidth', bytes_per_s: 1 << 20 })).status, 200);
  try {
    await page.goto(`${demo.url}/images`);
    await page.getByRole('button', { name: 'Search' }).click();
    const other = rowOf(page, OTHER);
    await other.getByRole('button', { name: '1 site' }).waitFor();
    await other.getByRole('button', { name: `Copy ${OTHER} to sites…` }).click();
    const dialog = page.getByRole('dialog', { name: `Copy ${OTHER} to sites` });
    await dialog.waitFor();
    assert.match(await dialog.textContent(), new RegExp(`4 MiB · raw / bare · sha512 ${otherHash.slice(0, 12)}`));
    assert.deepEqual(await dialog.getByLabel('Source site').locator('option').allTextContents(), ['site-001']);
    const targets = dialog.getByLabel('Target sites');

    // No targets: refused in the form. An unknown site: the API's refusal marks the field.
    await dialog.getByRole('button', { name: 'Start copy' }).click();
    await dialog.locator('#copy-targets-error', { hasText: 'name the sites' }).waitFor();
    assert.equal(await targets.getAttribute('aria-invalid'), 'true');
    await targets.fill('site-002, site-999');
    assert.equal(await targets.getAttribute('aria-invalid'), null, 'typing clears the mark');
    await dialog.getByRole('button', { name: 'Preview' }).click();
    await dialog.locator('#copy-targets-error', { hasText: 'no registered site named site-999' }).waitFor();
    assert.equal(await targets.getAttribute('aria-invalid'), 'true');

    // Dry runs: by selector, then every site.
    await targets.fill('region=eu');
    await dialog.getByRole('button', { name: 'Preview' }).click();
    await dialog.getByText('2 sites match; 1 already holds this image; 0 unreachable now. A copy goes to site-004.').waitFor();
    await dialog.getByLabel('Every site').check();
    assert.ok(await targets.isDisabled());
    assert.equal(await dialog.getByText('Preview: nothing was started').count(), 0, 'a change makes the preview go');
    await dialog.getByRole('button', { name: 'Preview' }).click();
    await dialog.getByText(`${SITES} sites match; 1 already holds this image; 0 unreachable now. A copy goes to site-002, site-003, site-004, site-005.`).waitFor();
    await page.screenshot({ path: join(artifacts, 'images-copy-preview.png') });

    // The copy, followed in place: bytes under way, then every target done.
    await dialog.getByRole('button', { name: 'Start copy' }).click();
    await dialog.getByRole('heading', { name: /Copying…/ }).waitFor();
    await dialog.getByText(/MiB of 4 MiB · [\d.]+ (KiB|MiB)\/s/).first().waitFor({ timeout: 20000 });
    const bar = dialog.getByRole('progressbar', { name: 'site-002 progress' });
    await eventually('site-002 part way', async () => {
      const now = Number(await bar.getAttribute('aria-valuenow'));
      return now > 0 && now < 100;
    }, 20000);
    await page.screenshot({ path: join(artifacts, 'images-copy-progress.png') });
    await dialog.getByRole('heading', { name: /Copy finished/ }).waitFor({ timeout: 60000 });
    await dialog.getByText(`${SITES} succeeded of ${SITES} sites`).waitFor();
    const taskRows = dialog.locator('tbody tr');
    assert.equal(await taskRows.count(), SITES);
    for (const site of ALL) {
      const row = taskRows.filter({ has: page.getByRole('rowheader', { name: site, exact: true }) });
      assert.match(await row.textContent(), site === 'site-001' ? /succeeded.*the source/ : /succeeded.*copied as [0-9a-f-]{36}/);
    }
    await page.screenshot({ path: join(artifacts, 'images-copy-done.png') });
    // The browser logs the refused preview (site-999); nothing else.
    assert.deepEqual(errors.splice(0), ['Failed to load resource: the server responded with a status of 400 (Bad Request)']);
    await dialog.getByRole('link', { name: 'Open the job page' }).waitFor();

    // The catalog, read again once the copy finished, shows the image on every target.
    await dialog.getByRole('button', { name: 'Close' }).click();
    await other.getByRole('button', { name: `${SITES} sites` }).waitFor();
    const entry = (await catalog()).find((e) => e.sha512 === otherHash);
    assert.deepEqual(entry.sites.map((s) => s.site).sort(), ALL);
    assert.ok(entry.sites.every((s) => s.status === 'active'));
  } finally {
    for (const site of ALL.slice(1)) await fault(site, { mode: 'up' });
  }
  assert.deepEqual(errors, []);
});

test('a viewer sees the catalog and no copy action', async () => {
  const viewer = await launchBrowser({ viewport: viewports.desktop });
  try {
    await login(viewer.page, `${demo.url}/login`, 'vic-password-1', 'vic');
    await viewer.page.getByText('vic (viewer)').waitFor();
    await viewer.page.goto(`${demo.url}/images`);
    await rowOf(viewer.page, 'cirros-0.6.2').getByRole('button', { name: `${SITES} sites` }).waitFor();
    assert.equal(await viewer.page.getByRole('button', { name: /to sites…/ }).count(), 0);
    // Policies are shown to everyone and made by admins only.
    await viewer.page.getByText('No replication policies.', { exact: false }).waitFor();
    assert.equal(await viewer.page.getByRole('button', { name: /on sites…|New policy/ }).count(), 0);
    assert.deepEqual(viewer.errors, []);
  } finally {
    await viewer.context.close();
  }
});

test('on a phone the catalog and the copy dialog fit the screen', async () => {
  const { page, errors } = phone;
  await page.goto(`${demo.url}/images`);
  const cirros = rowOf(page, 'cirros-0.6.2');
  await cirros.getByRole('button', { name: `${SITES} sites` }).click();
  await page.locator('tr.site-row').first().waitFor();
  await noPageOverflow(page, 'the catalog');
  await page.screenshot({ path: join(artifacts, 'images-catalog-phone.png'), fullPage: true });
  await cirros.getByRole('button', { name: 'Copy cirros-0.6.2 to sites…' }).click();
  const dialog = page.getByRole('dialog', { name: 'Copy cirros-0.6.2 to sites' });
  await dialog.getByLabel('Target sites').fill('site-002');
  await dialog.getByRole('button', { name: 'Preview' }).click();
  await dialog.getByText('1 site matches; 1 already holds this image').waitFor();
  await noPageOverflow(page, 'the copy dialog');
  const box = await dialog.boundingBox();
  assert.ok(box.x >= 0 && box.x + box.width <= 390, `the dialog fits: ${JSON.stringify(box)}`);
  await page.screenshot({ path: join(artifacts, 'images-copy-phone.png') });
  assert.deepEqual(errors, []);
});

/** The Replication policies section, and a policy's row in it by the image's name. */
const policiesOf = (page) => page.getByRole('region', { name: 'Replication policies' });
const policyRow = (page, name) => policiesOf(page).getByRole('row').filter({ has: page.getByRole('rowheader', { name: new RegExp(`^${name}`) }) });
const policies = async () => (await (await api('GET', '/images/policies')).json()).items;

test('a policy made from the catalog fills its sites, marks bad fields, and goes with its copies', async () => {
  const { page, errors } = desktop;
  const NAME = 'e2e-policy';
  const hash = await uploadTo('site-001', NAME, 2 << 20);
  // A slow link to site-004, so the policy's copy is seen under way.
  assert.equal((await fault('site-004', { mode: 'bandwidth', bytes_per_s: 256 << 10 })).status, 200);
  try {
    await page.goto(`${demo.url}/images`);
    const section = policiesOf(page);
    await section.getByText('No replication policies. A policy keeps an image on every site a selection matches, also on sites that join or come back later.').waitFor();

    // Nothing chosen: both fields are marked, the focus on the first.
    await section.getByRole('button', { name: 'New policy' }).click();
    const form = page.getByRole('dialog', { name: 'New replication policy' });
    await form.waitFor();
    await form.getByRole('button', { name: 'Create policy' }).click();
    await form.locator('#policy-image-error', { hasText: 'choose an image of the catalog' }).waitFor();
    await form.locator('#policy-targets-error', { hasText: 'name the sites' }).waitFor();
    assert.equal(await form.getByLabel('Image').getAttribute('aria-invalid'), 'true');
    assert.equal(await form.getByLabel('Target sites').getAttribute('aria-invalid'), 'true');
    await eventually('the focus on the image', async () => (await page.evaluate(() => document.activeElement?.id)) === 'policy-image', 5000);
    await page.screenshot({ path: join(artifacts, 'images-policy-form-errors.png') });
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'detached' });

    // From the catalog's row: the image is chosen. A selector the API refuses marks the
    // targets field with the API's words.
    const catalogRow = page.locator('.images-table').getByRole('row').filter({ has: page.getByRole('rowheader', { name: NAME, exact: true }) });
    await catalogRow.getByRole('button', { name: `Keep ${NAME} on sites…` }).click();
    await form.waitFor();
    assert.equal(await form.getByLabel('Image').inputValue(), hash);
    const targets = form.getByLabel('Target sites');
    await targets.fill('region=eu,=x');
    await form.getByRole('button', { name: 'Create policy' }).click();
    await form.locator('#policy-targets-error', { hasText: 'has no key' }).waitFor();
    assert.equal(await targets.getAttribute('aria-invalid'), 'true');
    assert.equal(await form.getByLabel('Image').getAttribute('aria-invalid'), null);
    await form.getByRole('alert').filter({ hasText: 'invalid replication policy' }).waitFor();
    await eventually('the focus on the targets', async () => (await page.evaluate(() => document.activeElement?.id)) === 'policy-targets', 5000);
    assert.deepEqual(errors.splice(0), ['Failed to load resource: the server responded with a status of 400 (Bad Request)']);

    // region=eu is site-001, which holds it, and site-004, which gets a copy.
    await targets.fill('region=eu');
    assert.equal(await targets.getAttribute('aria-invalid'), null, 'typing clears the mark');
    await form.getByRole('button', { name: 'Create policy' }).click();
    await form.waitFor({ state: 'detached' });
    await section.getByRole('status').filter({ hasText: `Policy created: Overcast keeps ${NAME} on sites with region=eu.` }).waitFor();
    const row = policyRow(page, NAME);
    assert.match(await row.getByRole('rowheader').textContent(), new RegExp(`^${NAME}${hash.slice(0, 12)}$`));
    assert.match(await row.textContent(), /sites with region=eu/);
    assert.match(await row.textContent(), /admin\s*(just now|\d+ s ago)/);
    const copying = row.getByRole('link', { name: 'copying' });
    await copying.waitFor({ timeout: 20000 });
    assert.match(await copying.getAttribute('href'), /^\/jobs\/[0-9a-f-]{36}$/);
    // Opened while the copy runs: site-004 misses the image.
    await row.getByRole('button', { name: '1 of 2 sites hold it' }).click();
    const drift = policiesOf(page).locator('tr.drift-row');
    const lineOf = (site) => drift.filter({ has: page.getByRole('link', { name: site, exact: true }) });
    assert.equal(await drift.count(), 2);
    assert.match(await lineOf('site-001').textContent(), /holds\s*[0-9a-f-]{36}/);
    assert.match(await lineOf('site-004').textContent(), /missing/);
    const bar = row.getByRole('meter', { name: `Sites holding ${NAME}` });
    assert.equal(await bar.getAttribute('aria-valuetext'), '1 hold it, 1 missing, 0 unknown');
    await page.screenshot({ path: join(artifacts, 'images-policy-copying.png'), fullPage: true });

    // The drift fills as the copy lands, read again while the list stays open.
    await row.getByRole('button', { name: '2 of 2 sites hold it' }).waitFor({ timeout: 90000 });
    await copying.waitFor({ state: 'detached', timeout: 30000 });
    assert.equal(await bar.getAttribute('aria-valuetext'), '2 hold it, 0 missing, 0 unknown');
    assert.equal(await drift.count(), 2, 'the drift list stays open');
    for (const site of ['site-001', 'site-004']) {
      assert.match(await lineOf(site).textContent(), /holds\s*[0-9a-f-]{36}/);
      assert.equal(await lineOf(site).getByRole('link').getAttribute('href'), `/sites/${site}/images`);
    }
    // The catalog was read again once the policy's copy finished.
    await catalogRow.getByRole('button', { name: '2 sites' }).waitFor({ timeout: 30000 });
    await section.scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, 'images-policies-desktop.png'), fullPage: true });

    // Deleted with its copies: a job removes site-004's; site-001's original stays.
    await row.getByRole('button', { name: `Delete the policy for ${NAME}…` }).click();
    const confirm = page.getByRole('dialog', { name: `Delete the policy for ${NAME}?` });
    await confirm.getByLabel('Also delete the copies this policy made (images Overcast copied, tagged overcast-copy; originals stay)').check();
    await page.screenshot({ path: join(artifacts, 'images-policy-delete.png') });
    await confirm.getByRole('button', { name: 'Delete policy and copies' }).click();
    await confirm.waitFor({ state: 'detached' });
    const jobLink = section.getByRole('status').getByRole('link', { name: 'image.delete_copies' });
    await jobLink.waitFor();
    const jobId = (await jobLink.getAttribute('href')).match(/^\/jobs\/([0-9a-f-]{36})$/)[1];
    const job = await eventually('the deletion job finishes', async () => {
      const found = await (await api('GET', `/jobs/${jobId}`)).json();
      return ['succeeded', 'failed', 'partially_failed', 'cancelled'].includes(found.state) && found;
    });
    assert.equal(job.kind, 'image.delete_copies');
    assert.equal(job.state, 'succeeded', JSON.stringify(job.tasks));
    await section.getByText('No replication policies.', { exact: false }).waitFor();
    assert.deepEqual(await policies(), []);
    await catalogRow.getByRole('button', { name: '1 site' }).waitFor({ timeout: 30000 });
    const entry = (await catalog()).find((e) => e.sha512 === hash);
    assert.deepEqual(entry.sites.map((s) => s.site), ['site-001']);
    await page.screenshot({ path: join(artifacts, 'images-policy-deleted.png'), fullPage: true });
  } finally {
    await fault('site-004', { mode: 'up' });
  }
  assert.deepEqual(errors, []);
});

test('on a phone the policies, their form and the delete dialog fit the screen', async () => {
  const { page, errors } = phone;
  const made = await api('POST', '/images/policies', { image: { sha512: otherHash }, targets: { all: true } });
  assert.equal(made.status, 201, await made.clone().text());
  const { id } = await made.json();
  try {
    await page.goto(`${demo.url}/images`);
    const row = policyRow(page, OTHER);
    const held = row.getByRole('button', { name: `${SITES} of ${SITES} sites hold it` });
    await held.waitFor({ timeout: 60000 });
    assert.match(await row.textContent(), /every site/);
    await held.click();
    await policiesOf(page).locator('tr.drift-row').nth(SITES - 1).waitFor();
    await noPageOverflow(page, 'the policies');
    await policiesOf(page).scrollIntoViewIfNeeded();
    await page.screenshot({ path: join(artifacts, 'images-policies-phone.png') });

    await policiesOf(page).getByRole('button', { name: 'New policy' }).click();
    const form = page.getByRole('dialog', { name: 'New replication policy' });
    await form.getByRole('button', { name: 'Create policy' }).click();
    await form.locator('#policy-targets-error').waitFor();
    await noPageOverflow(page, 'the policy form');
    const box = await form.boundingBox();
    assert.ok(box.x >= 0 && box.x + box.width <= 390, `the form fits: ${JSON.stringify(box)}`);
    await page.screenshot({ path: join(artifacts, 'images-policy-form-phone.png') });
    await form.getByRole('button', { name: 'Cancel' }).click();
    await form.waitFor({ state: 'detached' });

    await row.getByRole('button', { name: `Delete the policy for ${OTHER}…` }).click();
    const confirm = page.getByRole('dialog', { name: `Delete the policy for ${OTHER}?` });
    await confirm.waitFor();
    await noPageOverflow(page, 'the delete dialog');
    await page.screenshot({ path: join(artifacts, 'images-policy-delete-phone.png') });
    // Without the box: the policy goes, every copy stays.
    await confirm.getByRole('button', { name: 'Delete policy' }).click();
    await policiesOf(page).getByRole('status').getByText(`Policy for ${OTHER} deleted; the copies it made stay on their sites.`).waitFor();
    assert.deepEqual(await policies(), []);
    assert.equal((await catalog()).find((e) => e.sha512 === otherHash).sites.length, SITES);
  } finally {
    await api('DELETE', `/images/policies/${id}`);
  }
  assert.deepEqual(errors, []);
});
