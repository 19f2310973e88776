// Starting real `overcast` processes and a real browser for the end-to-end tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** Debian's chromium, headless, with a fresh profile and no background networking. */
export async function launchBrowser() {
  const profile = mkdtempSync(join(tmpdir(), 'overcast-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => { if (message.type() === 'error') errors.push(message.text()); });
  return { context, page, errors };
}

export async function login(page, url, password) {
  await page.goto(url);
  await page.getByLabel('Username').fill('admin');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Polls the console's API until a site reaches a health state, or fails after the deadline. */
export async function waitForSiteState(demo, site, state, deadlineMs = 15000) {
  const login = await fetch(`${demo.url}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: demo.adminPassword }),
  });
  const { access_token: token } = await login.json();
  const until = Date.now() + deadlineMs;
  for (;;) {
    const answer = await fetch(`${demo.url}/api/v1/sites/${site}`, { headers: { authorization: `Bearer ${token}` } });
    if ((await answer.json()).state === state) return;
    if (Date.now() > until) throw new Error(`${site} did not become ${state} within ${deadlineMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
