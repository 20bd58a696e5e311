// Rampart dashboard: a single page over the admin API (/api/v1/…). Every
// call goes through api(), which sends the session's CSRF token on writes.
// No inline code and no HTML strings: pages are built with el().

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let session = null; // {user, csrf, expires, needs_user}

// ---------- helpers ----------

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class APIError extends Error {
  constructor(status, body) {
    super((body && body.error) || `HTTP ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

async function api(method, path, body, headers = {}) {
  const h = { Accept: 'application/json', ...headers };
  if (body !== undefined) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && session) h['X-CSRF-Token'] = session.csrf;
  const resp = await fetch('/api/v1' + path, {
    method, headers: h, credentials: 'same-origin',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  let data = null;
  const text = await resp.text();
  if (text) { try { data = JSON.parse(text); } catch { data = { error: text }; } }
  if (resp.status === 401 && path !== '/session') {
    session = null;
    go('#/signin');
    throw new APIError(401, data);
  }
  if (!resp.ok) throw new APIError(resp.status, data);
  return { data, etag: resp.headers.get('ETag') };
}

const enc = encodeURIComponent;

function go(hash) {
  if (location.hash === hash) route(); else location.hash = hash;
}

function page(title, ...content) {
  main.replaceChildren(el('h1', { id: 'page-title' }, title), ...content);
  document.title = title + ' · Rampart';
  main.focus();
}

// field builds a labelled input with its error slot; the input's name is
// the API's JSON path, so field errors find it.
let fieldSeq = 0;
function field(label, input, hint) {
  const id = 'f' + (++fieldSeq);
  input.id = id;
  const errId = id + '-err';
  const described = [errId];
  let hintEl = null;
  if (hint) { hintEl = el('span', { class: 'hint', id: id + '-hint' }, hint); described.push(id + '-hint'); }
  input.setAttribute('aria-describedby', described.join(' '));
  return el('div', { class: 'field' },
    el('label', { for: id }, label), input, hintEl,
    el('p', { class: 'field-error', id: errId, 'data-for': input.name, role: 'alert' }));
}

function formError() { return el('p', { class: 'form-error', role: 'alert' }); }
function notice() { return el('p', { class: 'notice', role: 'status' }); }

function clearErrors(form) {
  form.querySelectorAll('.field-error, .form-error').forEach((p) => { p.textContent = ''; });
  form.querySelectorAll('[aria-invalid]').forEach((i) => i.removeAttribute('aria-invalid'));
}

// showErrors puts each API field error next to its input. match(field)
// returns the input name an API path belongs to (or null for the form).
function showErrors(form, err, match = (f) => f) {
  clearErrors(form);
  const general = form.querySelector('.form-error');
  const list = (err.body && err.body.errors) || [];
  let first = null;
  const unplaced = [];
  for (const fe of list) {
    const name = match(fe.field || '');
    const input = name !== null ? form.querySelector(`[name="${CSS.escape(name)}"]`) : null;
    if (!input) { unplaced.push(fe.field ? `${fe.field}: ${fe.error}` : fe.error); continue; }
    const slot = document.getElementById(input.id + '-err');
    slot.textContent = slot.textContent ? slot.textContent + '; ' + fe.error : fe.error;
    input.setAttribute('aria-invalid', 'true');
    first = first || input;
  }
  if (!list.length) unplaced.push(err.message);
  if (general) general.textContent = unplaced.join('; ');
  if (first) first.focus();
}

function localError(form, name, msg) {
  const input = form.querySelector(`[name="${CSS.escape(name)}"]`);
  document.getElementById(input.id + '-err').textContent = msg;
  input.setAttribute('aria-invalid', 'true');
  input.focus();
}

function fmtTime(t) {
  if (!t) return '';
  const d = new Date(t);
  return isNaN(d) ? String(t) : d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function ago(t) {
  const s = Math.max(0, Math.round((Date.now() - new Date(t).getTime()) / 1000));
  return s < 120 ? `${s}s ago` : `${Math.round(s / 60)}m ago`;
}

function pct(x) { return (100 * x).toFixed(1) + '%'; }

function table(headers, rows, caption) {
  return el('table', {},
    caption ? el('caption', { class: 'muted' }, caption) : null,
    el('thead', {}, el('tr', {}, headers.map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows));
}

// ---------- sign-in ----------

function signInPage() {
  nav.hidden = true;
  const pwForm = el('form', { id: 'signin-form', novalidate: true },
    field('User name', el('input', { name: 'user', autocomplete: 'username', required: true })),
    field('Password', el('input', { name: 'password', type: 'password', autocomplete: 'current-password', required: true })),
    formError(),
    el('button', { type: 'submit', class: 'primary' }, 'Sign in'));
  pwForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = new FormData(pwForm);
    signIn(pwForm, { user: f.get('user').trim(), password: f.get('password') });
  });
  const tokForm = el('form', { id: 'token-form', novalidate: true },
    field('Admin token', el('input', { name: 'token', type: 'password', autocomplete: 'off', required: true }),
      'First sign-in: the token in the control data dir (admin-token); then create a user.'),
    formError(),
    el('button', { type: 'submit' }, 'Sign in with the admin token'));
  tokForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    signIn(tokForm, { token: new FormData(tokForm).get('token').trim() });
  });
  page('Sign in', pwForm, el('h2', {}, 'First time?'), tokForm);
}

async function signIn(form, body) {
  clearErrors(form);
  if (body.token === '' ) return localError(form, 'token', 'Enter the admin token.');
  if (body.user === '') return localError(form, 'user', 'Enter your user name.');
  if (body.password === '') return localError(form, 'password', 'Enter your password.');
  try {
    const { data } = await api('POST', '/session', body);
    session = data;
    go(session.needs_user ? '#/users' : '#/sites');
  } catch (err) {
    showErrors(form, err);
  }
}

async function signOut() {
  try { await api('DELETE', '/session'); } catch { /* signed out either way */ }
  session = null;
  go('#/signin');
}

// ---------- users ----------

async function usersPage() {
  const { data } = await api('GET', '/users');
  const form = el('form', { id: 'user-form', novalidate: true },
    field('User name', el('input', { name: 'name', autocomplete: 'off', required: true }), 'Lower-case letters, digits, . _ -'),
    field('Password', el('input', { name: 'password', type: 'password', autocomplete: 'new-password', required: true }), 'At least 12 characters.'),
    formError(), notice(),
    el('button', { type: 'submit', class: 'primary' }, 'Create user'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    clearErrors(form);
    try {
      await api('POST', '/users', { name: f.get('name').trim(), password: f.get('password') });
      go('#/users');
    } catch (err) { showErrors(form, err); }
  });
  const rows = data.users.map((u) => el('tr', {}, el('td', {}, u.name), el('td', {}, fmtTime(u.created))));
  page('Users',
    session && session.needs_user ? el('p', { class: 'warn' }, 'You signed in with the admin token. Create a user for everyday sign-in.') : null,
    rows.length ? table(['User', 'Created'], rows) : el('p', { class: 'muted' }, 'No users yet.'),
    el('h2', {}, 'Add a user'), form);
}

// ---------- sites ----------

async function sitesPage() {
  const { data } = await api('GET', '/sites');
  const rows = data.sites.map((s) => el('tr', {},
    el('td', {}, el('a', { href: '#/site/' + enc(s.hostname) }, s.hostname)),
    el('td', {}, s.origins.map((o) => o.url).join(', ')),
    el('td', {}, (s.waf && s.waf.mode) || 'off'),
    el('td', {}, ((s.rate_limit && s.rate_limit.rules) || []).length)));
  page('Sites',
    el('p', {}, el('a', { href: '#/sites/new', id: 'add-site' }, 'Add a site')),
    rows.length ? table(['Hostname', 'Origins', 'WAF', 'Rate-limit rules'], rows) : el('p', { class: 'muted' }, 'No sites yet.'));
}

function newSitePage() {
  const form = el('form', { id: 'site-form', novalidate: true },
    field('Hostname', el('input', { name: 'hostname', autocomplete: 'off', required: true, placeholder: 'shop.example.com' })),
    field('Origin URL', el('input', { name: 'origins[0].url', autocomplete: 'off', required: true, placeholder: 'https://origin.example.net' }),
      'Where the edge fetches from.'),
    field('Cache everything for', el('input', { name: 'cache.rules[0].ttl', autocomplete: 'off', placeholder: '1m' }),
      'Optional: a duration like 1m or 1h caches every cacheable response for that long; empty follows the origin\'s headers.'),
    formError(),
    el('button', { type: 'submit', class: 'primary' }, 'Add site'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = new FormData(form);
    const site = { v: 1, hostname: f.get('hostname').trim(), origins: [{ url: f.get('origins[0].url').trim() }] };
    const ttl = f.get('cache.rules[0].ttl').trim();
    if (ttl) site.cache = { rules: [{ path: '/*', action: 'aggressive', ttl }] };
    try {
      const { data } = await api('POST', '/sites', site);
      go('#/site/' + enc(data.hostname));
    } catch (err) {
      showErrors(form, err, (p) => {
        if (p === 'origins') return 'origins[0].url';
        if (p.startsWith('origins[0]')) return 'origins[0].url';
        if (p.startsWith('cache')) return 'cache.rules[0].ttl';
        if (p === 'hostname') return 'hostname';
        return null;
      });
    }
  });
  page('Add a site', form);
}

function siteNav(host, current) {
  const link = (href, text) => el('a', { href, 'aria-current': current === href ? 'page' : null }, text);
  return el('nav', { class: 'subnav', 'aria-label': 'Site' },
    link('#/site/' + enc(host), 'Overview'), link('#/site/' + enc(host) + '/events', 'Events'));
}

async function sitePage(host) {
  const { data: site } = await api('GET', '/sites/' + enc(host));
  const dnsBox = el('div', {}, el('p', { class: 'muted' }, 'Checking DNS…'));
  const certBox = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const cacheBox = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  page(host, siteNav(host, '#/site/' + enc(host)),
    el('dl', {}, el('dt', {}, 'Origins'), el('dd', {}, site.origins.map((o) => o.url).join(', '))),
    el('h2', {}, 'DNS'), dnsBox,
    el('h2', {}, 'Certificate'), certBox,
    el('h2', {}, 'WAF'), wafForm(host, site),
    el('h2', {}, 'Rate limits'), rateLimits(host, site),
    el('h2', {}, 'Cache'), cacheBox, purgeForm(host));
  loadDNS(host, dnsBox);
  loadCert(host, certBox);
  loadCache(host, cacheBox);
}

async function loadDNS(host, box) {
  try {
    const { data } = await api('GET', '/sites/' + enc(host) + '/dns');
    const items = [];
    if (data.record) items.push(el('p', {}, 'Create this record at your DNS provider:'), el('pre', { id: 'dns-record' }, data.record));
    if (data.edge_ips && data.edge_ips.length) {
      items.push(el('p', {}, (data.record ? 'Or ' : '') + 'A/AAAA records to ' + data.edge_ips.join(', ') + ' only.'));
    }
    let state;
    if (data.pointed) state = el('span', { class: 'badge good' }, 'seen: points at the edge');
    else if (data.error) state = el('span', { class: 'badge warn' }, 'could not check: ' + data.error);
    else state = el('span', { class: 'badge bad' }, 'not seen yet' + (data.found ? ': it resolves to ' + data.found : ': it does not resolve'));
    items.push(el('p', { id: 'dns-state' }, 'Status: ', state));
    box.replaceChildren(...items);
  } catch (err) {
    box.replaceChildren(el('p', { class: 'muted' }, err.status === 404 ? 'The DNS check is not configured on this control service.' : err.message));
  }
}

async function loadCert(host, box) {
  try {
    const { data } = await api('GET', '/sites/' + enc(host) + '/cert');
    const iss = data.issuance;
    box.replaceChildren(el('dl', { id: 'cert' },
      el('dt', {}, 'Issuer'), el('dd', {}, data.issuer || ''),
      el('dt', {}, 'Valid from'), el('dd', {}, fmtTime(data.not_before)),
      el('dt', {}, 'Expires'), el('dd', {}, fmtTime(data.not_after)),
      el('dt', {}, 'Last issuance'), el('dd', {}, iss ? (iss.state === 'ok' ? el('span', { class: 'badge good' }, 'ok')
        : el('span', { class: 'bad' }, `failing (${iss.failures}×): ${iss.error || ''}`)) : '—')));
  } catch (err) {
    box.replaceChildren(el('p', { class: err.status === 404 ? 'warn' : 'bad', id: 'cert' }, err.message));
  }
}

async function loadCache(host, box) {
  try {
    const { data } = await api('GET', '/sites/' + enc(host) + '/cache');
    const c = data.counters;
    box.replaceChildren(el('p', { id: 'cache-ratio' },
      el('strong', {}, 'Hit ratio: ' + pct(data.hit_ratio)),
      ` (${c.hits} hits, ${c.stale} stale, ${c.misses} misses, ${c.bypass} bypassed, over ${data.edges} live edges)`));
  } catch (err) {
    box.replaceChildren(el('p', { class: 'muted' }, err.message));
  }
}

// putSite re-reads the site, applies change and writes it back with
// If-Match, so a concurrent edit is refused rather than overwritten.
async function putSite(host, change) {
  const { data: site, etag } = await api('GET', '/sites/' + enc(host));
  change(site);
  return api('PUT', '/sites/' + enc(host), site, etag ? { 'If-Match': etag } : {});
}

function wafForm(host, site) {
  const waf = site.waf || {};
  const mode = el('select', { name: 'waf.mode' },
    ['off', 'detect', 'block'].map((m) => el('option', { value: m, selected: (waf.mode || 'off') === m }, m)));
  const paranoia = el('input', { name: 'waf.paranoia', inputmode: 'numeric', value: waf.paranoia || 1 });
  const form = el('form', { id: 'waf-form', novalidate: true },
    el('p', { class: 'muted' }, 'Roll out in detect (log only) first, watch the events, then switch to block.'),
    el('div', { class: 'row' },
      field('Mode', mode),
      field('Paranoia level', paranoia, '1 (fewest false positives) to 4')),
    formError(), notice(),
    el('button', { type: 'submit', class: 'primary' }, 'Save WAF'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    form.querySelector('.notice').textContent = '';
    const p = paranoia.value.trim();
    if (!/^\d+$/.test(p)) return localError(form, 'waf.paranoia', 'Enter a whole number from 1 to 4.');
    try {
      await putSite(host, (s) => { s.waf = { ...(s.waf || {}), mode: mode.value, paranoia: Number(p) }; });
      form.querySelector('.notice').textContent = `Saved: WAF ${mode.value}, paranoia ${p}.`;
    } catch (err) {
      showErrors(form, err, (f) => (f === 'waf.mode' || f === 'waf.paranoia' ? f : null));
    }
  });
  return form;
}

function rateLimits(host, site) {
  const rules = (site.rate_limit && site.rate_limit.rules) || [];
  const rows = rules.map((r, i) => el('tr', {},
    el('td', {}, r.name), el('td', {}, (r.methods || []).join(', ') || 'all'), el('td', {}, r.path || '/*'),
    el('td', {}, `${r.rate} per ${r.period || '1s'}`), el('td', {}, r.burst || r.rate), el('td', {}, r.key || 'ip'),
    el('td', {}, el('button', { type: 'button', 'aria-label': 'Delete rule ' + r.name, onclick: async () => {
      try {
        await putSite(host, (s) => { s.rate_limit.rules.splice(i, 1); });
        route();
      } catch (err) {
        form.querySelector('.form-error').textContent = err.message;
      }
    } }, 'Delete'))));
  const n = rules.length;
  const prefix = `rate_limit.rules[${n}]`;
  const form = el('form', { id: 'ratelimit-form', novalidate: true },
    el('div', { class: 'row' },
      field('Rule name', el('input', { name: prefix + '.name', autocomplete: 'off' })),
      field('Path', el('input', { name: prefix + '.path', autocomplete: 'off', placeholder: '/login' }), 'Exact, or a prefix ending in *'),
      field('Requests', el('input', { name: prefix + '.rate', inputmode: 'numeric' })),
      field('Per', el('input', { name: prefix + '.period', autocomplete: 'off', placeholder: '1m' })),
      field('Burst', el('input', { name: prefix + '.burst', inputmode: 'numeric', placeholder: 'same as requests' }))),
    formError(),
    el('button', { type: 'submit' }, 'Add rule'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    const f = new FormData(form);
    const rule = { name: f.get(prefix + '.name').trim(), path: f.get(prefix + '.path').trim() };
    const rate = f.get(prefix + '.rate').trim();
    const burst = f.get(prefix + '.burst').trim();
    if (!/^\d+$/.test(rate)) return localError(form, prefix + '.rate', 'Enter a whole number of requests.');
    if (burst && !/^\d+$/.test(burst)) return localError(form, prefix + '.burst', 'Enter a whole number, or leave empty.');
    rule.rate = Number(rate);
    if (burst) rule.burst = Number(burst);
    const period = f.get(prefix + '.period').trim();
    if (period) rule.period = period;
    try {
      await putSite(host, (s) => {
        s.rate_limit = s.rate_limit || {};
        s.rate_limit.rules = [...(s.rate_limit.rules || []), rule];
      });
      route();
    } catch (err) {
      showErrors(form, err, (p) => (p.startsWith(prefix + '.') ? p : null));
    }
  });
  return el('div', {},
    rows.length ? table(['Name', 'Methods', 'Path', 'Rate', 'Burst', 'Key', ''], rows) : el('p', { class: 'muted', id: 'no-rules' }, 'No rate-limit rules.'),
    form);
}

function purgeForm(host) {
  const kind = el('select', { name: 'kind' },
    [['urls', 'URL'], ['prefixes', 'Prefix'], ['tags', 'Tag'], ['all', 'Everything']].map(([v, t]) => el('option', { value: v }, t)));
  const value = el('input', { name: 'value', autocomplete: 'off', placeholder: '/path, /prefix/ or a tag' });
  const result = el('div', { id: 'purge-result', role: 'status' });
  const form = el('form', { id: 'purge-form', novalidate: true },
    el('div', { class: 'row' }, field('Purge by', kind), field('What to purge', value, 'Not needed for Everything.')),
    formError(),
    el('button', { type: 'submit' }, 'Purge'), result);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clearErrors(form);
    result.replaceChildren();
    const v = value.value.trim();
    const body = {};
    if (kind.value === 'all') body.all = true;
    else if (v === '') return localError(form, 'value', 'Enter what to purge, or choose Everything.');
    else body[kind.value] = [v];
    try {
      const { data } = await api('POST', '/sites/' + enc(host) + '/purge', body);
      const pending = data.pending || [];
      result.replaceChildren(el('p', { class: 'notice' },
        `Purged (id ${data.id}): confirmed by ${(data.confirmed || []).length} edges` +
        (pending.length ? `; not yet confirmed: ${pending.map((e) => e.region + '/' + e.node).join(', ')}` : '.')));
    } catch (err) {
      // Errors name urls[0], prefixes[0], tags[0], or the request ("").
      showErrors(form, err, (p) => (p === '' || /^(urls|prefixes|tags)\[0\]$/.test(p) ? 'value' : null));
    }
  });
  return form;
}

async function eventsPage(host) {
  const body = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const refresh = el('button', { type: 'button', id: 'refresh-events' }, 'Refresh');
  page('Events · ' + host, siteNav(host, '#/site/' + enc(host) + '/events'),
    el('p', { class: 'muted' }, 'Sampled WAF blocks, challenges, rate-limited and failed requests, newest first.'),
    refresh, body);
  const load = async () => {
    const { data } = await api('GET', '/events?site=' + enc(host) + '&limit=100');
    const rows = data.events.map((e) => el('tr', {},
      el('td', {}, fmtTime(e.time)), el('td', {}, `${e.region}/${e.node}`), el('td', {}, e.action),
      el('td', {}, e.status), el('td', {}, e.method), el('td', {}, el('code', {}, e.path)),
      el('td', {}, e.client_ip), el('td', {}, (e.rule_ids || []).join(', '))));
    body.replaceChildren(rows.length
      ? table(['Time', 'Edge', 'Action', 'Status', 'Method', 'Path', 'Client IP', 'Rule ids'], rows)
      : el('p', { class: 'muted', id: 'no-events' }, 'No events yet.'));
  };
  refresh.addEventListener('click', () => load());
  await load();
}

// ---------- regions ----------

async function regionsPage() {
  const { data } = await api('GET', '/edges');
  const rows = data.edges.map((e) => el('tr', {},
    el('td', {}, e.region), el('td', {}, e.node),
    el('td', {}, e.stale ? el('span', { class: 'badge bad' }, 'stale') : e.healthy
      ? el('span', { class: 'badge good' }, 'healthy') : el('span', { class: 'badge warn' }, 'unhealthy')),
    el('td', {}, ago(e.received)), el('td', {}, e.version), el('td', {}, e.in_flight),
    el('td', {}, e.requests), el('td', {}, e.sites), el('td', {}, e.nats ? 'up' : 'down'),
    el('td', {}, e.cache ? pct(hitRatio(e.cache)) : '—')));
  page('Regions',
    el('p', { class: 'muted' }, `Each edge node's last heartbeat; a node silent for over ${data.max_age} is stale.`),
    el('button', { type: 'button', id: 'refresh-regions', onclick: () => route() }, 'Refresh'),
    rows.length ? table(['Region', 'Node', 'State', 'Last beat', 'Version', 'In flight', 'Requests', 'Sites', 'NATS', 'Cache hits'], rows)
      : el('p', { class: 'muted' }, 'No heartbeats yet.'));
}

function hitRatio(c) {
  const n = c.hits + c.stale + c.misses;
  return n ? (c.hits + c.stale) / n : 0;
}

// ---------- router ----------

async function route() {
  const hash = location.hash || '#/sites';
  if (!session && hash !== '#/signin') {
    try { session = (await api('GET', '/session')).data; } catch { session = null; }
    if (!session) { if (location.hash !== '#/signin') { location.hash = '#/signin'; return; } }
  }
  if (hash === '#/signin') return signInPage();
  nav.hidden = false;
  document.getElementById('whoami').textContent = 'signed in as ' + session.user;
  const m = hash.match(/^#\/site\/([^/]+)(\/events)?$/);
  try {
    if (hash === '#/sites') await sitesPage();
    else if (hash === '#/sites/new') newSitePage();
    else if (hash === '#/regions') await regionsPage();
    else if (hash === '#/users') await usersPage();
    else if (m && m[2]) await eventsPage(decodeURIComponent(m[1]));
    else if (m) await sitePage(decodeURIComponent(m[1]));
    else page('Not found', el('p', {}, el('a', { href: '#/sites' }, 'Back to the sites')));
  } catch (err) {
    if (err.status !== 401) page('Error', el('p', { class: 'bad', role: 'alert' }, err.message));
  }
}

document.getElementById('signout').addEventListener('click', signOut);
window.addEventListener('hashchange', route);
route();
