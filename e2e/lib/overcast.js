// Starting real `overcast` processes and a real browser for the end-to-end tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const artifacts = join(here, '..', 'artifacts');
mkdirSync(artifacts, { recursive: true });

const bin = process.env.OVERCAST_BIN ?? join(here, '..', '..', 'target', 'debug', 'overcast');

/**
 * Runs `overcast demo` on free loopback ports with a fresh data dir and resolves once it
 * prints its URL. Rejects if the process exits first or the deadline passes.
 */
export function startDemo({ sites = 5, adminPassword = 'e2e-admin-password', deadlineMs = 30000 } = {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'overcast-e2e-'));
  const child = spawn(bin, ['demo', '--sites', String(sites), '--listen', '127.0.0.1:0', '--data-dir', dataDir], {
    env: { ...process.env, OVERCAST_ADMIN_PASSWORD: adminPassword, RUST_LOG: process.env.RUST_LOG ?? 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stderr.on('data', (chunk) => { output += chunk; });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`demo did not start in ${deadlineMs} ms:\n${output}`)); }, deadlineMs);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`demo exited with ${code}:\n${output}`)); });
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const console = output.match(/running: (http:\/\/127\.0\.0\.1:\d+)\//);
      const sim = output.match(/simulated sites on (http:\/\/127\.0\.0\.1:\d+)/);
      if (console && sim) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({
          url: console[1],
          simUrl: sim[1],
          adminPassword,
          output: () => output,
          stop: () => new Promise((done) => {
            if (child.exitCode !== null) return done(child.exitCode);
            child.on('exit', (code) => done(code));
            child.kill('SIGTERM');
          }),
        });
      }
    });
  });
}

/** The two screens every page is checked on: a desktop and a phone. */
export const viewports = {
  desktop: { width: 1440, height: 900 },
  phone: { width: 390, height: 844 },
};

/** Polls `probe` until it returns something truthy, or fails with `what` after the deadline. */
export async function eventually(what, probe, deadlineMs = 60000) {
  const until = Date.now() + deadlineMs;
  for (;;) {
    const found = await probe();
    if (found) return found;
    assert.ok(Date.now() < until, `${what} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** Fails when the page is wider than the screen, naming what reaches past it. */
export async function noPageOverflow(page, what) {
  const { scrollWidth, innerWidth, wide } = await page.evaluate(() => ({
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    // The outermost elements reaching past the screen, to say what overflows.
    wide: [...document.querySelectorAll('body *')]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement?.getBoundingClientRect().right > window.innerWidth + 1))
      .map((e) => `${e.tagName.toLowerCase()}.${e.className}`).slice(0, 5),
  }));
  assert.ok(scrollWidth <= innerWidth, `${what}: the page is ${scrollWidth} px wide on a ${innerWidth} px screen (${wide.join(', ')})`);
}

/** A desktop and a phone browser, both signed in as `username` and showing the overview. */
export async function signedInBrowsers(url, password, username = 'admin') {
  const desktop = await launchBrowser({ viewport: viewports.desktop });
  const phone = await launchBrowser({ viewport: viewports.phone });
  for (const { page } of [desktop, phone]) {
    await login(page, `${url}/login`, password, username);
    await page.getByRole('heading', { name: 'Overview' }).waitFor();
  }
  return { desktop, phone };
}

/** Debian's chromium, headless, with a fresh profile and no background networking. */
export async function launchBrowser({ viewport = viewports.desktop } = {}) {
  const profile = mkdtempSync(join(tmpdir(), 'overcast-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  return { context, page, errors };
}

export async function login(page, url, password, username = 'admin') {
  await page.goto(url);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Polls the console's API until a site reaches a health state, or fails after the deadline. */
export async function waitForSiteState(demo, site, state, deadlineMs = 15000) {
  const token = await apiLogin(demo.url, 'admin', demo.adminPassword);
  const until = Date.now() + deadlineMs;
  for (;;) {
    const answer = await fetch(`${demo.url}/api/v1/sites/${site}`, { headers: { authorization: `Bearer ${token}` } });
    if ((await answer.json()).state === state) return;
    if (Date.now() > until) throw new Error(`${site} did not become ${state} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Spawns `overcast ARGS` and resolves with the child and the first match of `pattern` in its output. */
function spawnUntil(args, env, pattern, deadlineMs) {
  const merged = Object.fromEntries(Object.entries({ ...process.env, ...env }).filter(([, v]) => v !== undefined));
  const child = spawn(bin, args, { env: merged, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let started = false;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`overcast ${args[0]} did not start in ${deadlineMs} ms:\n${output}`)); }, deadlineMs);
    child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`overcast ${args[0]} exited with ${code}:\n${output}`)); });
    const look = (chunk) => {
      output += chunk;
      const found = !started && output.match(pattern);
      if (found) {
        started = true;
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, found, output: () => output });
      }
    };
    child.stdout.on('data', look);
    child.stderr.on('data', look);
  });
}

function stopper(child) {
  return () => new Promise((done) => {
    if (child.exitCode !== null) return done(child.exitCode);
    child.on('exit', (code) => done(code));
    child.kill('SIGTERM');
  });
}

/**
 * `overcast serve` alone on `dataDir`, with `env` over this process's environment (a
 * variable set to undefined is left out). Resolves with its URL, its output so far and a
 * stopper.
 */
export async function startServe({ dataDir, env = {}, deadlineMs = 30000 }) {
  const serve = await spawnUntil(['serve', '--listen', '127.0.0.1:0', '--data-dir', dataDir],
    { RUST_LOG: 'info', ...env }, /console listening addr=(\S+)/, deadlineMs);
  return { url: `http://${serve.found[1]}`, output: serve.output, stop: stopper(serve.child) };
}

/**
 * `overcast sim` and `overcast serve` as separate processes, the way production runs: the
 * simulator's clouds.yaml is imported through the API, then `labels(site, index)` labels
 * each site. `metricsIntervalS` makes the console collect every site's metrics that often
 * (a second or two, so charts fill within a test). Resolves with the console's URL, the
 * simulator's and an admin token.
 */
export async function startServeAndSim({ sites = 6, labels = () => ({}), adminPassword = 'e2e-admin-password', deadlineMs = 30000, metricsIntervalS } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'overcast-e2e-'));
  const cloudsYaml = join(dir, 'clouds.yaml');
  const sim = await spawnUntil(['sim', '--sites', String(sites), '--listen', '127.0.0.1:0', '--clouds-yaml', cloudsYaml],
    {}, /clouds\.yaml written/, deadlineMs);
  const simUrl = sim.output().match(/on (http:\/\/127\.0\.0\.1:\d+)/)[1];
  const metrics = metricsIntervalS ? ['--metrics-interval-s', String(metricsIntervalS)] : [];
  const serve = await spawnUntil(['serve', '--listen', '127.0.0.1:0', '--data-dir', join(dir, 'data'), ...metrics],
    { OVERCAST_ADMIN_PASSWORD: adminPassword, RUST_LOG: 'info' }, /console listening addr=(\S+)/, deadlineMs);
  const url = `http://${serve.found[1]}`;
  const token = await apiLogin(url, 'admin', adminPassword);
  const api = apiClient(url, token);
  const imported = await api('POST', '/sites/import', readFileSync(cloudsYaml, 'utf8'), 'application/yaml');
  if (!imported.ok) throw new Error(`import failed: ${imported.status} ${await imported.text()}`);
  for (let n = 1; n <= sites; n += 1) {
    const name = `site-${String(n).padStart(3, '0')}`;
    const answer = await api('PATCH', `/sites/${name}`, JSON.stringify({ labels: labels(name, n) }));
    if (!answer.ok) throw new Error(`labelling ${name} failed: ${answer.status}`);
  }
  return {
    url, simUrl, adminPassword, token, api,
    fault: (site, mode) => fetch(`${simUrl}/_sim/sites/${site}/fault`, { method: 'POST', body: JSON.stringify({ mode }) }),
    stop: async () => [await stopper(serve.child)(), await stopper(sim.child)()],
  };
}

/**
 * `api(method, path, body, type)` calls the console's `/api/v1` with the token; a JSON body
 * may be given as an object, any other as it is sent.
 */
export function apiClient(url, token) {
  return (method, path, body, type = 'application/json') => fetch(`${url}/api/v1${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': type },
    body: type === 'application/json' && body != null && typeof body !== 'string' ? JSON.stringify(body) : body,
  });
}

export async function apiLogin(url, username, password) {
  const answer = await fetch(`${url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  if (!answer.ok) throw new Error(`login of ${username} failed: ${answer.status}`);
  return (await answer.json()).access_token;
}
