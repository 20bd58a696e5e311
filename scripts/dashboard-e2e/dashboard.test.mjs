// Browser test of the dashboard against a running lab (scripts/labnet
// TestDashboardBrowser starts one and runs this with the environment below).
// Debian's Chromium, headless, driven by playwright-core. Exits non-zero on
// the first failure; screenshots of every page go to SCREENSHOT_DIR.
//
//   DASHBOARD_URL  https://localhost:<port>/   ADMIN_TOKEN   the admin token
//   API_URL        http://127.0.0.1:<port>     (bearer-token checks)
//   EDGE_HTTPS     <edge ip>:<port>            EDGE_CA  the lab CA (PEM file)
//   ORIGIN_URL     a demo origin               SITE     the hostname to add
//   SCREENSHOT_DIR where the screenshots go    CHROMIUM /usr/bin/chromium

import { chromium } from 'playwright-core';
import { readFileSync, mkdirSync } from 'node:fs';
import https from 'node:https';
import path from 'node:path';
import assert from 'node:assert/strict';

const env = (k, d) => {
  const v = process.env[k] ?? d;
  if (v === undefined) throw new Error(`${k} is required`);
  return v;
};
const DASH = env('DASHBOARD_URL');
const TOKEN = env('ADMIN_TOKEN');
const API = env('API_URL');
const [EDGE_IP, EDGE_PORT] = env('EDGE_HTTPS').split(':');
const EDGE_CA = readFileSync(env('EDGE_CA'));
const ORIGIN = env('ORIGIN_URL');
const SITE = env('SITE', 'shop.rampart.test');
const SHOTS = env('SCREENSHOT_DIR');
const USER = 'ops';
const PASSWORD = 'correct horse battery staple';
const WAIT = 30_000; // every wait for the network to converge is bounded by this

mkdirSync(SHOTS, { recursive: true });

// ---------- helpers ----------

let stepNo = 0;
async function step(name, fn) {
  stepNo++;
  const t0 = Date.now();
  process.stdout.write(`step ${stepNo}: ${name} ... `);
  await fn();
  console.log(`ok (${Date.now() - t0} ms)`);
}

async function eventually(what, fn, timeout = WAIT) {
  const deadline = Date.now() + timeout;
  let last;
  for (;;) {
    try {
      const v = await fn();
      if (v !== false && v !== undefined) return v;
      last = new Error('condition not met');
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${last && last.message}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// api calls the admin API with the bearer token (what automation sees).
async function api(method, p, body) {
  const resp = await fetch(API + '/api/v1' + p, {
    method,
    headers: { Authorization: 'Bearer ' + TOKEN, ...(body ? { 'Content-Type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await resp.text();
  return { status: resp.status, data: text ? JSON.parse(text) : null };
}

// edgeGet requests https://SITE<p> from the lab edge, verifying the lab CA.
function edgeGet(p) {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: EDGE_IP, port: Number(EDGE_PORT), servername: SITE, path: p, method: 'GET',
      headers: { Host: SITE }, ca: EDGE_CA, agent: false, timeout: 5000,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

async function shot(page, name) {
  await page.screenshot({ path: path.join(SHOTS, name + '.png'), fullPage: true });
}

// fieldError is the message shown next to the input labelled label.
async function fieldError(page, label, scope = page) {
  const input = scope.getByLabel(label, { exact: true });
  const ids = (await input.getAttribute('aria-describedby')).split(' ');
  return (await page.locator('#' + ids[0]).textContent()).trim();
}

async function expectFieldError(page, label, re, scope = page) {
  const msg = await eventually(`an error next to "${label}"`, async () => (await fieldError(page, label, scope)) || false, 10_000);
  assert.match(msg, re, `error next to "${label}"`);
  assert.equal(await scope.getByLabel(label, { exact: true }).getAttribute('aria-invalid'), 'true');
}

// unlabelled lists the form controls on the page that have no label.
async function unlabelled(page) {
  return page.$$eval('input, select, textarea', (els) => els.filter((e) => e.labels.length === 0).map((e) => e.name || e.outerHTML));
}

async function checkLabels(page, where) {
  assert.deepEqual(await unlabelled(page), [], `every control on ${where} has a label`);
}

// tabTo presses Tab until the focused element has the accessible text
// name, failing after max presses: the page is usable from the keyboard.
async function tabTo(page, name, { max = 40, back = false } = {}) {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
    const got = await page.evaluate(() => {
      const e = document.activeElement;
      if (!e) return '';
      if (e.labels && e.labels.length) return e.labels[0].textContent.trim();
      return (e.getAttribute('aria-label') || e.textContent || '').trim();
    });
    if (got === name) return;
  }
  throw new Error(`"${name}" is not reachable with Tab`);
}

async function typeField(page, text) {
  await page.keyboard.press('Control+A');
  await page.keyboard.press('Delete');
  if (text) await page.keyboard.type(text);
}

// ---------- the test ----------

const browser = await chromium.launch({
  executablePath: env('CHROMIUM', '/usr/bin/chromium'),
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
let failed = false;
const context = await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1200, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
page.on('pageerror', (e) => consoleErrors.push(String(e)));

try {
  await step('the dashboard is served with a strict CSP and no external links', async () => {
    const resp = await page.goto(DASH);
    assert.equal(resp.status(), 200);
    const csp = resp.headers()['content-security-policy'];
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /style-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const external = await page.$$eval('script[src], link[href]', (els) =>
      els.map((e) => e.src || e.href).filter((u) => !u.startsWith(location.origin)));
    assert.deepEqual(external, []);
    assert.ok(await page.getByRole('button', { name: 'Sign out' }).isHidden(), 'no navigation before sign-in');
    await checkLabels(page, 'the sign-in page');
    await shot(page, '01-sign-in');
  });

  await step('a wrong admin token gets a message next to the field', async () => {
    await page.getByLabel('Admin token').fill('not-the-token-at-all');
    await page.getByRole('button', { name: 'Sign in with the admin token' }).click();
    await expectFieldError(page, 'Admin token', /wrong admin token/);
    assert.equal((await context.cookies()).length, 0, 'no cookie for a failed sign-in');
  });

  await step('first sign-in with the admin token, then create a user', async () => {
    await page.getByLabel('Admin token').fill(TOKEN);
    await page.getByRole('button', { name: 'Sign in with the admin token' }).click();
    await page.getByRole('heading', { name: 'Users' }).waitFor();
    await page.getByText('Create a user for everyday sign-in').waitFor();
    const [cookie] = await context.cookies();
    assert.equal(cookie.name, '__Host-rampart_session');
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.secure, true);
    assert.equal(cookie.sameSite, 'Strict');
    await checkLabels(page, 'the users page');
    await shot(page, '02-users');
  });

  await step('bad user input gets messages next to the fields and creates nothing', async () => {
    await page.getByLabel('User name').fill('Bad Name!');
    await page.getByLabel('Password').fill('short');
    await page.getByRole('button', { name: 'Create user' }).click();
    await expectFieldError(page, 'User name', /lower-case/);
    await expectFieldError(page, 'Password', /at least 12/);
    const { data } = await api('GET', '/users');
    assert.deepEqual(data.users, []);
    await page.getByLabel('User name').fill(USER);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByRole('cell', { name: USER, exact: true }).waitFor();
  });

  await step('writes without the CSRF header are refused', async () => {
    const status = await page.evaluate(() => fetch('/api/v1/sites', {
      method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"hostname":"csrf.rampart.test","origins":[{"url":"http://127.0.0.1:1"}]}',
    }).then((r) => r.status));
    assert.equal(status, 403);
    assert.equal((await api('GET', '/sites/csrf.rampart.test')).status, 404);
  });

  await step('sign out ends the session', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    const status = await page.evaluate(() => fetch('/api/v1/sites').then((r) => r.status));
    assert.equal(status, 401);
  });

  await step('a wrong password gets a message next to the password', async () => {
    await page.getByLabel('User name').fill(USER);
    await page.getByLabel('Password', { exact: true }).fill('wrong password here');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await expectFieldError(page, 'Password', /wrong user name or password/);
  });

  await step('sign in with the keyboard (Tab, type, Enter)', async () => {
    await page.goto(DASH + '#/signin');
    await page.getByRole('heading', { name: 'Sign in' }).waitFor();
    await tabTo(page, 'User name');
    await typeField(page, USER);
    await page.keyboard.press('Tab');
    await typeField(page, PASSWORD);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Sites' }).waitFor();
    await shot(page, '03-sites');
  });

  await step('bad site input gets a message next to each field and saves nothing', async () => {
    await tabTo(page, 'Add a site');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Add a site' }).waitFor();
    await checkLabels(page, 'the add-site page');
    const before = (await api('GET', '/sites')).data.sites.length;
    await page.getByLabel('Hostname').fill('Bad Host!');
    await page.getByLabel('Origin URL').fill('ftp://origin.example');
    await page.getByLabel('Cache everything for').fill('soon');
    await page.getByRole('button', { name: 'Add site' }).click();
    await expectFieldError(page, 'Hostname', /.+/);
    await expectFieldError(page, 'Origin URL', /scheme/);
    await expectFieldError(page, 'Cache everything for', /duration/);
    await shot(page, '04-add-site-errors');
    // A good hostname with a bad origin is not half-saved either.
    await page.getByLabel('Hostname').fill(SITE);
    await page.getByRole('button', { name: 'Add site' }).click();
    await expectFieldError(page, 'Origin URL', /scheme/);
    assert.equal((await api('GET', '/sites')).data.sites.length, before);
    assert.equal((await api('GET', '/sites/' + SITE)).status, 404);
  });

  await step('add a site with the keyboard', async () => {
    await page.getByLabel('Hostname').focus();
    await typeField(page, SITE);
    await page.keyboard.press('Tab');
    await typeField(page, ORIGIN);
    await page.keyboard.press('Tab');
    await typeField(page, '1m');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: SITE }).waitFor();
    const { data } = await api('GET', '/sites/' + SITE);
    assert.equal(data.origins[0].url, ORIGIN);
    assert.equal(data.cache.rules[0].action, 'aggressive');
  });

  await step('the site page shows the DNS record and the certificate', async () => {
    await page.locator('#dns-record').getByText(`${SITE}. CNAME ${SITE}.edge.rampart.test.`).waitFor();
    await page.locator('#dns-state').waitFor();
    await eventually('the certificate', async () => {
      await page.reload();
      await page.getByRole('heading', { name: SITE }).waitFor();
      return (await page.locator('dl#cert').count()) > 0;
    });
    await page.locator('dl#cert').getByText('Expires').waitFor();
    await checkLabels(page, 'the site page');
    await shot(page, '05-site');
  });

  let first;
  await step('the site is served by a lab edge', async () => {
    first = await eventually(`${SITE} through the edge`, async () => {
      const r = await edgeGet('/hello');
      return r.status === 200 && JSON.parse(r.body).host === SITE ? r : false;
    });
  });

  await step('bad WAF input gets a message next to the field and changes nothing', async () => {
    const form = page.locator('#waf-form');
    await form.getByLabel('Paranoia level').fill('9');
    await form.getByLabel('Mode').selectOption('block');
    await form.getByRole('button', { name: 'Save WAF' }).click();
    await expectFieldError(page, 'Paranoia level', /1 to 4/, form);
    const { data } = await api('GET', '/sites/' + SITE);
    assert.ok(!data.waf || !data.waf.mode || data.waf.mode === 'off', 'the WAF mode was not saved');
  });

  await step('WAF detect, then block: an attack gets 403', async () => {
    const form = page.locator('#waf-form');
    await form.getByLabel('Paranoia level').fill('1');
    await form.getByLabel('Mode').selectOption('detect');
    await form.getByRole('button', { name: 'Save WAF' }).click();
    await form.getByText('Saved: WAF detect').waitFor();
    assert.equal((await api('GET', '/sites/' + SITE)).data.waf.mode, 'detect');
    // The switch to block by keyboard: back from the Save button to the
    // mode, pick "block" by typing, then Tab to Save and Enter.
    await tabTo(page, 'Mode', { back: true });
    await page.keyboard.type('b');
    await tabTo(page, 'Save WAF');
    await page.keyboard.press('Enter');
    await form.getByText('Saved: WAF block').waitFor();
    await eventually('a 403 for an XSS attempt', async () =>
      (await edgeGet('/search?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E')).status === 403);
  });

  await step('bad rate-limit input gets messages next to the fields; a good rule is listed', async () => {
    const form = page.locator('#ratelimit-form');
    await form.getByLabel('Rule name').fill('login');
    await form.getByLabel('Path').fill('login');
    await form.getByLabel('Requests').fill('0');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await expectFieldError(page, 'Path', /./, form);
    await expectFieldError(page, 'Requests', /1 to/, form);
    const { data } = await api('GET', '/sites/' + SITE);
    assert.ok(!data.rate_limit || !data.rate_limit.rules, 'no rule was saved');
    await form.getByLabel('Path').fill('/login');
    await form.getByLabel('Requests').fill('5');
    await form.getByLabel('Per').fill('1m');
    await form.getByRole('button', { name: 'Add rule' }).click();
    await page.getByRole('cell', { name: '5 per 1m' }).waitFor();
    assert.equal((await api('GET', '/sites/' + SITE)).data.rate_limit.rules[0].path, '/login');
    assert.equal((await api('GET', '/sites/' + SITE)).data.waf.mode, 'block', 'the WAF change survived');
  });

  await step('the attack appears on the events page', async () => {
    await page.getByRole('link', { name: 'Events' }).click();
    await page.getByRole('heading', { name: 'Events · ' + SITE }).waitFor();
    await eventually('the blocked request in the events', async () => {
      await page.getByRole('button', { name: 'Refresh' }).click();
      const row = page.getByRole('row').filter({ hasText: '/search' }).filter({ hasText: 'block' });
      return (await row.count()) > 0;
    });
    const row = page.getByRole('row').filter({ hasText: '/search' }).first();
    assert.match(await row.textContent(), /403/);
    assert.match(await row.textContent(), /127\.0\.0\.1/);
    assert.match(await row.textContent(), /9\d{5}/, 'a CRS rule id');
    await shot(page, '06-events');
  });

  await step('purge: bad input gets a message; a purge makes the next request miss', async () => {
    await page.getByRole('link', { name: 'Overview' }).click();
    await page.getByRole('heading', { name: SITE }).waitFor();
    const form = page.locator('#purge-form');
    await form.getByLabel('Purge by').selectOption('urls');
    await form.getByLabel('What to purge').fill('');
    await form.getByRole('button', { name: 'Purge' }).click();
    await expectFieldError(page, 'What to purge', /Enter what to purge/, form);
    const probe = await api('POST', `/sites/${SITE}/purge`, {});
    const noEndpoint = probe.status === 404 && /no such endpoint/.test(probe.data && probe.data.error);
    if (!('cache-status' in first.headers) || noEndpoint) {
      console.log(`\n  SKIP the purge round trip: ${noEndpoint ? 'no purge endpoint in the admin API' : ''}${noEndpoint && !('cache-status' in first.headers) ? ' and ' : ''}${'cache-status' in first.headers ? '' : 'no Cache-Status from the edge'} (the edge cache is not in this tree yet)`);
      await shot(page, '07-site-purge');
      return;
    }
    await form.getByLabel('What to purge').fill('not a path');
    await form.getByRole('button', { name: 'Purge' }).click();
    await expectFieldError(page, 'What to purge', /must be a path/, form);
    const warm = await eventually('a cache hit', async () => {
      const r = await edgeGet('/cached');
      return /\bhit\b/.test(r.headers['cache-status'] || '') ? r : false;
    });
    assert.equal(warm.status, 200);
    await form.getByLabel('What to purge').fill('');
    await form.getByLabel('Purge by').selectOption('all');
    await form.getByRole('button', { name: 'Purge' }).click();
    await form.getByText(/Purged \(id/).waitFor();
    const after = await edgeGet('/cached');
    assert.match(after.headers['cache-status'] || '', /fwd=miss/, 'the next request after a purge misses');
    await shot(page, '07-site-purge');
  });

  await step('the regions page shows every edge\'s heartbeat', async () => {
    await tabTo(page, 'Regions');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Regions' }).waitFor();
    await eventually('three edges', async () => {
      const n = await page.getByRole('row').filter({ hasText: 'healthy' }).count();
      if (n >= 3) return true;
      await page.getByRole('button', { name: 'Refresh' }).click();
      return false;
    });
    assert.match(await page.getByRole('table').textContent(), /lab/, 'the version');
    await shot(page, '08-regions');
  });

  await step('no script errors on any page (CSP violations included)', async () => {
    assert.deepEqual(consoleErrors.filter((e) => !/status of 40[0134]/.test(e)), []);
  });
} catch (err) {
  failed = true;
  console.log('FAILED');
  console.error(err && err.stack ? err.stack : err);
  try { await shot(page, 'failure'); } catch { /* the page may be gone */ }
  console.error('page URL:', page.url());
} finally {
  await browser.close();
}
process.exit(failed ? 1 : 0);
