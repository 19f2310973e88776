// The Jobs pages (issue 14, item 9, and the pagers of item 1): the list with each job's
// parameters and counts that add up, the new-job form with its dry-run preview, hints,
// defaults and field errors, and the job page with its outcome bar, durations, pending
// against running, the stop reason said once, and a task table paged over 55 sites.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startServeAndSim, launchBrowser, login, waitForSiteState, artifacts, viewports } from '../lib/overcast.js';

const SITES = 55;
let cloud;
let browser;
const shot = (page, name) => page.screenshot({ path: join(artifacts, `jobs-${name}.png`), fullPage: true });

/** An API call as the admin that must succeed; answers the JSON body. */
async function call(method, path, body) {
  const answer = await cloud.api(method, path, body === undefined ? undefined : JSON.stringify(body));
  const text = await answer.text();
  if (!answer.ok) throw new Error(`${method} ${path}: ${answer.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

/** Polls a job through the API until `done(job)` holds. */
async function jobWhen(id, what, done, deadlineMs = 30000) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const job = await call('GET', `/jobs/${id}`);
    if (done(job)) return job;
    if (Date.now() > until) throw new Error(`job ${id}: no ${what} within ${deadlineMs} ms: ${JSON.stringify(job.counts)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const flavor = (name, vcpus = 1) => ({ name, vcpus, ram_mb: 256 * vcpus, disk_gb: vcpus });
/** The value of a fact (`<dt>name</dt><dd>value</dd>`) on a job page. */
const fact = (page, name) => page.getByRole('term').filter({ hasText: new RegExp(`^${name}$`) }).locator('xpath=following-sibling::dd[1]');
/** Waits until the input with this id has the keyboard focus (it moves there once the error is drawn). */
const focusOn = (page, id) => page.waitForFunction((wanted) => document.activeElement?.id === wanted, id, { timeout: 5000 });
const noOverflow = (page) => page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

before(async () => {
  // Sites 1–5 and 55 are the edge; 55 goes down, so a selection can hold an unreachable site.
  cloud = await startServeAndSim({ sites: SITES, labels: (_, n) => ({ tier: n <= 5 || n === SITES ? 'edge' : 'core' }) });
  browser = await launchBrowser();
  await login(browser.page, `${cloud.url}/login`, cloud.adminPassword);
  await browser.page.waitForURL((url) => !url.pathname.startsWith('/login'));
});

after(async () => {
  await browser?.context.close();
  await cloud?.stop();
});

let bigJob;

test('a job over 55 sites colours its bar by outcome, pages its tasks and says "stopped" once', async () => {
  const { page, errors } = browser;
  // Three sites hold a flavor of that name with another size: their tasks fail for good.
  for (const site of ['site-003', 'site-004', 'site-005']) {
    await call('POST', `/sites/${site}/flavors`, flavor('e2e.clash', 1));
  }
  await cloud.fault('site-055', 'down');
  await waitForSiteState(cloud, 'site-055', 'unreachable', 30000);
  const job = await call('POST', '/jobs', { kind: 'flavor.create', targets: { all: true }, params: flavor('e2e.clash', 2), rollout: { max_parallel: 20 } });
  bigJob = job.id;
  await jobWhen(job.id, '51 succeeded, 3 failed, 1 waiting', (j) => j.counts.succeeded === 51 && j.counts.failed === 3 && j.counts.waiting_for_site === 1);

  await page.goto(`${cloud.url}/jobs/${job.id}`);
  await page.getByRole('heading', { name: /flavor\.create/ }).waitFor();
  const bar = page.getByRole('progressbar', { name: 'Job progress' });
  await page.waitForFunction(() => document.querySelector('[aria-label="Job progress"]')?.getAttribute('aria-valuenow') === '98');
  assert.equal(await bar.getAttribute('aria-valuetext'), '98 % finished: 51 succeeded · 3 failed · 1 waiting for site of 55 sites');
  // One segment per outcome present, each as wide as its share.
  const segments = await bar.locator('.segment').evaluateAll((nodes) => nodes.map((n) => [n.className, n.style.width]));
  assert.deepEqual(segments.map(([c]) => c), ['segment succeeded', 'segment failed', 'segment waiting']);
  assert.equal(parseFloat(segments[0][1]).toFixed(1), (51 / 55 * 100).toFixed(1));
  // The counts are words too, and they add up.
  const legend = page.getByRole('list', { name: 'Sites by outcome' });
  assert.deepEqual(await legend.getByRole('listitem').allTextContents(),
    ['51 succeeded', '3 failed', '0 cancelled', '1 waiting for site', '0 running', '0 pending', '55 sites in all']);
  // Durations: each finished site and the job, which is still going.
  const tasks = page.getByRole('table', { name: 'Tasks by site' });
  const row = (site) => tasks.getByRole('row').filter({ has: page.getByRole('rowheader', { name: site, exact: true }) });
  assert.match(await row('site-001').getByRole('cell').nth(3).textContent(), /^\d+(\.\d)? s$/);
  assert.match(await row('site-003').textContent(), /already exists here/);
  assert.match(await fact(page, 'Took').textContent(), /^(\d+(\.\d)? s|\d+ min( \d+ s)?) so far$/);
  await shot(page, 'job-partial');

  // The task table pages over 55 sites.
  const pager = page.getByRole('navigation', { name: 'Pages' });
  await pager.getByText('1–50 of 55').waitFor();
  assert.equal(await tasks.getByRole('rowheader').count(), 50);
  await pager.getByRole('button', { name: 'Next' }).click();
  await pager.getByText('51–55 of 55').waitFor();
  assert.deepEqual(await tasks.getByRole('rowheader').allTextContents(), ['site-051', 'site-052', 'site-053', 'site-054', 'site-055']);
  assert.equal(await row('site-055').getByRole('cell').first().textContent(), 'waiting for site');
  assert.equal(await pager.getByRole('button', { name: 'Next' }).isDisabled(), true);
  await shot(page, 'job-page-2');

  // Cancelled: the reason shows once, in the banner; the row points to it.
  await page.getByRole('button', { name: 'Cancel every task that has not started?' }).click();
  await page.getByRole('button', { name: 'Yes, cancel job' }).click();
  await page.getByRole('heading', { name: /cancelled/ }).waitFor();
  await page.getByText('Rollout stopped: cancelled by admin.').waitFor();
  const said = await page.getByRole('main').evaluate((main) => (main.innerText.match(/stopped/gi) ?? []).length);
  assert.equal(said, 1, 'the page says "stopped" once');
  await pager.getByText('51–55 of 55').waitFor();
  await row('site-055').getByText('not started (see why above)').waitFor();
  assert.equal(await bar.getAttribute('aria-valuetext'), '100 % finished: 51 succeeded · 3 failed · 1 cancelled of 55 sites');
  assert.match(await fact(page, 'Took').textContent(), /^(\d+(\.\d)? s|\d+ min( \d+ s)?)$/);
  await shot(page, 'job-cancelled');
  await cloud.fault('site-055', 'up');
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('pending reads apart from running, with why a task waits and how long one runs', async () => {
  const { page, errors } = browser;
  // site-006 accepts requests and never answers: its task runs; site-007 waits its turn.
  await cloud.fault('site-006', 'blackhole');
  const job = await call('POST', '/jobs', { kind: 'flavor.create', targets: { sites: ['site-006', 'site-007'] }, params: flavor('e2e.slow'), rollout: { max_parallel: 1 } });
  await page.goto(`${cloud.url}/jobs/${job.id}`);
  const tasks = page.getByRole('table', { name: 'Tasks by site' });
  const row = (site) => tasks.getByRole('row').filter({ has: page.getByRole('rowheader', { name: site, exact: true }) });
  await row('site-006').getByText('running', { exact: true }).waitFor();
  await row('site-007').getByText('pending', { exact: true }).waitFor();
  await row('site-007').getByText('waits for a free slot (1 site at once)').waitFor();
  await row('site-006').getByText('attempt 1 in progress').waitFor();
  const tone = (site) => row(site).locator('.badge').getAttribute('class');
  assert.notEqual(await tone('site-006'), await tone('site-007'), 'running and pending look different');
  assert.match(await row('site-006').getByRole('cell').nth(3).textContent(), /so far$/);
  assert.equal(await row('site-007').getByRole('cell').nth(3).textContent(), '–');
  const legend = page.getByRole('list', { name: 'Sites by outcome' });
  await legend.getByText('1 running').waitFor();
  await legend.getByText('1 pending').waitFor();
  await shot(page, 'job-running-pending');
  await call('POST', `/jobs/${job.id}/cancel`, {});
  await cloud.fault('site-006', 'up');
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('the new-job form previews its sites, explains its rollout, starts with safe defaults and marks a refused field', async () => {
  const { page, errors } = browser;
  await cloud.fault('site-055', 'down');
  await waitForSiteState(cloud, 'site-055', 'unreachable', 30000);
  const before = (await call('GET', '/jobs?limit=1000')).items.length;
  await page.goto(`${cloud.url}/jobs/new`);
  await page.getByRole('heading', { name: 'New job' }).waitFor();
  // Defaults: one canary, the console's parallelism, the first failure stops.
  assert.equal(await page.getByLabel('Canary sites first').inputValue(), '1');
  assert.equal(await page.getByLabel('Sites at once').inputValue(), '50');
  assert.equal(await page.getByLabel('Failures tolerated').inputValue(), '0');
  // Each rollout field explains itself, tied to the field.
  const description = (label) => page.getByLabel(label).evaluate((input) => (input.getAttribute('aria-describedby') ?? '')
    .split(' ').map((id) => document.getElementById(id)?.textContent ?? '').join(' '));
  assert.match(await description('Canary sites first'), /go first.*only once every canary succeeded/);
  assert.match(await description('Sites at once'), /Parallelism: how many sites/);
  assert.match(await description('Failures tolerated'), /Failure limit.*stops it/);

  await page.getByLabel('Kind').selectOption('flavor.create');
  await page.getByLabel('Name *').fill('e2e.form');
  await page.getByLabel('vCPUs *').fill('2');
  await page.getByLabel('RAM (MB) *').fill('512');
  await page.getByLabel('Disk (GB) *').fill('1');
  const selector = page.getByLabel('Label selector');
  await selector.fill('tier=nowhere');
  // A selection that matches nothing: the dry run names the field, which gets the focus.
  await page.getByRole('button', { name: 'Preview sites' }).click();
  await page.waitForFunction(() => document.getElementById('job-targets')?.getAttribute('aria-invalid') === 'true');
  assert.match(await description('Label selector'), /match no registered site/);
  await focusOn(page, 'job-targets');
  await shot(page, 'new-job-no-match');

  // vCPUs 0 passes the browser and is refused by the API, which names params.vcpus.
  await selector.fill('tier=edge');
  assert.equal(await selector.getAttribute('aria-invalid'), null, 'typing clears the mark');
  const vcpus = page.getByLabel('vCPUs *');
  await vcpus.fill('0');
  await page.getByRole('button', { name: 'Preview sites' }).click();
  await page.waitForFunction(() => document.getElementById('param-vcpus')?.getAttribute('aria-invalid') === 'true');
  assert.match(await description('vCPUs *'), /must be at least 1/);
  await focusOn(page, 'param-vcpus');
  assert.equal(await selector.getAttribute('aria-invalid'), null, 'only the field at fault is marked');
  await shot(page, 'new-job-field-error');

  await vcpus.fill('2');
  assert.equal(await vcpus.getAttribute('aria-invalid'), null, 'typing clears the mark');
  await page.getByRole('button', { name: 'Preview sites' }).click();
  const preview = page.getByRole('region', { name: 'Sites the job would run at' });
  await preview.getByText('The targets match 6 sites; 1 unreachable now (their tasks would wait for them); canary first: site-001.').waitFor();
  assert.deepEqual(await preview.getByRole('listitem').evaluateAll((items) => items.map((i) => i.textContent.trim())),
    ['site-001 (canary)', 'site-002', 'site-003', 'site-004', 'site-005', 'site-055 unreachable']);
  assert.equal((await call('GET', '/jobs?limit=1000')).items.length, before, 'a preview starts nothing');
  await shot(page, 'new-job-preview');

  // Submitting a refused job marks the field the same way.
  await vcpus.fill('0');
  await page.getByRole('button', { name: 'Start job' }).click();
  await page.waitForFunction(() => document.getElementById('param-vcpus')?.getAttribute('aria-invalid') === 'true');
  await focusOn(page, 'param-vcpus');
  assert.equal((await call('GET', '/jobs?limit=1000')).items.length, before, 'a refused job is not stored');
  await vcpus.fill('2');
  await page.getByRole('button', { name: 'Start job' }).click();
  await page.getByRole('heading', { name: /flavor\.create/ }).waitFor();
  await page.getByRole('rowheader', { name: 'site-001 (canary)' }).waitFor();
  await page.getByText('1 canary first · stops after more than 0 failed').waitFor();
  await cloud.fault('site-055', 'up');
  // The browser logs each refused call: the two refused previews and the refused start.
  const refused = 'Failed to load resource: the server responded with a status of 400 (Bad Request)';
  assert.deepEqual(errors, [refused, refused, refused], 'no other error in the browser console');
  errors.length = 0;
});

test('the jobs list shows parameters and counts that add up, and pages through more than 50 jobs', async () => {
  const { page, errors } = browser;
  for (let n = 1; n <= 50; n += 1) {
    await call('POST', '/jobs', { kind: 'flavor.delete', targets: { sites: [`site-${String(n).padStart(3, '0')}`] }, params: { name: `e2e.gone-${n}` } });
  }
  const total = (await call('GET', '/jobs?limit=1000')).items.length;
  assert.ok(total > 50, `${total} jobs`);
  await page.goto(`${cloud.url}/jobs`);
  const table = page.getByRole('table', { name: 'Jobs, newest first' });
  await table.getByRole('row').nth(1).waitFor();
  const pager = page.getByRole('navigation', { name: 'Pages' });
  await pager.getByText(`1–50 of ${total}`).waitFor();
  assert.equal(await table.getByRole('rowheader').count(), 50);
  await table.getByRole('cell', { name: 'name=e2e.gone-50', exact: true }).waitFor();
  await shot(page, 'list');
  await pager.getByRole('button', { name: 'Next' }).click();
  await pager.getByText(`51–${total} of ${total}`).waitFor();
  assert.equal(await table.getByRole('rowheader').count(), total - 50);
  // The oldest job: the partly failed, cancelled one over 55 sites.
  const big = table.getByRole('row').filter({ has: page.getByRole('link', { name: 'flavor.create' }) }).filter({ hasText: 'e2e.clash' });
  await big.getByText('name=e2e.clash, disk_gb=2, ram_mb=512, vcpus=2').waitFor();
  await big.getByText('51 succeeded · 3 failed · 1 cancelled of 55 sites').waitFor();
  await big.getByText('cancelled', { exact: true }).waitFor();
  assert.match(await big.getByRole('cell').last().textContent(), /^(\d+(\.\d)? s|\d+ min( \d+ s)?)$/);
  await shot(page, 'list-page-2');
  await pager.getByRole('button', { name: 'Previous' }).click();
  await pager.getByText(`1–50 of ${total}`).waitFor();
  assert.deepEqual(errors, [], 'no error in the browser console');
});

test('the jobs pages fit a 390×844 phone', async () => {
  const phone = await launchBrowser({ viewport: viewports.phone });
  try {
    const { page, errors } = phone;
    await login(page, `${cloud.url}/login`, cloud.adminPassword);
    await page.waitForURL((url) => !url.pathname.startsWith('/login'));
    for (const [path, heading, name] of [['/jobs', 'Jobs', 'phone-list'], [`/jobs/${bigJob}`, /flavor\.create/, 'phone-job'], ['/jobs/new', 'New job', 'phone-new']]) {
      await page.goto(`${cloud.url}${path}`);
      await page.getByRole('heading', { name: heading }).first().waitFor();
      if (path !== '/jobs/new') await page.getByRole('table').getByRole('row').nth(1).waitFor();
      // Nothing of the page is wider than its own box (a table scrolls inside itself),
      // and where the shell gives the page the screen's width, nor is the document.
      const wide = await page.getByRole('main').evaluate((main) => {
        const edge = main.getBoundingClientRect().right + 1;
        return [...main.querySelectorAll('*')].filter((e) => !e.parentElement?.closest('table') && e.getBoundingClientRect().right > edge)
          .map((e) => `${e.tagName}.${e.className}`).slice(0, 8);
      });
      assert.deepEqual(wide, [], `${path}: nothing overflows the page's box`);
      assert.equal(await page.getByRole('main').evaluate((main) => main.scrollWidth <= main.clientWidth), true, `${path}: the page's box does not scroll sideways`);
      if (await page.getByRole('main').evaluate((main) => main.getBoundingClientRect().width >= window.innerWidth - 1)) {
        assert.equal(await noOverflow(page), true, `${path} does not scroll sideways`);
      }
      await shot(page, name);
    }
    assert.deepEqual(errors, [], 'no error in the browser console');
  } finally {
    await phone.context.close();
  }
});
