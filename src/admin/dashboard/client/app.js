/* global document, window, fetch, TextDecoder, AbortController, setTimeout, clearTimeout, URL, URLSearchParams, Option */
// hoard's live dashboard. The admin token lives in this module's memory only (never in storage,
// cookies or URLs); live figures come over server-sent events read with fetch(), so the token
// travels in the Authorization header. Bundled with uPlot by scripts/build-dashboard.mjs.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './app.css';

const HISTORY = 600; // points kept per cache: ten minutes at one snapshot a second
const $ = (id) => document.getElementById(id);

let token;
let controller;
let selected;
let retryTimer;
let updates = 0;
/** Per cache: the previous snapshot (for rates) and the chart series. */
const history = new Map();
const charts = {};

function setStatus(state, text) {
  const el = $('status');
  el.dataset.state = state;
  el.textContent = text;
}

function api(path, init = {}) {
  const url = new URL(path, document.baseURI);
  if (selected !== undefined) url.searchParams.set('cache', selected);
  return fetch(url, { ...init, cache: 'no-store', headers: { ...init.headers, Authorization: `Bearer ${token}` } });
}

function signOut(message) {
  token = undefined;
  controller?.abort();
  clearTimeout(retryTimer);
  $('main').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message;
  setStatus('error', 'not connected');
  $('token').focus();
}

async function stream() {
  controller?.abort();
  controller = new AbortController();
  const signal = controller.signal;
  clearTimeout(retryTimer);
  let res;
  try {
    res = await fetch(new URL('events', document.baseURI), { headers: { Authorization: `Bearer ${token}`, Accept: 'text/event-stream' }, cache: 'no-store', signal });
  } catch {
    if (!signal.aborted) retry(2000);
    return;
  }
  if (res.status === 401) return signOut('That token was refused.');
  if (res.status === 429) return retry(Number(res.headers.get('Retry-After') ?? 5) * 1000);
  if (!res.ok || res.body === null) return retry(3000);
  $('login').hidden = true;
  $('main').hidden = false;
  setStatus('live', 'live');
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        let event = 'message';
        let data = '';
        for (const line of block.split('\n')) {
          if (line.startsWith('event:')) event = line.slice(6).trim();
          else if (line.startsWith('data:')) data += line.slice(5).trim();
        }
        if (event === 'snapshot' && data !== '') render(JSON.parse(data));
      }
    }
  } catch {
    // aborted or dropped: retried below unless signed out
  }
  if (!signal.aborted && token !== undefined) retry(1000);
}

function retry(ms) {
  setStatus('error', 'reconnecting…');
  clearTimeout(retryTimer);
  retryTimer = setTimeout(() => {
    if (token !== undefined) void stream();
  }, ms);
}

const fmt = {
  int: (n) => (n === undefined || n === null ? '–' : Math.round(n).toLocaleString('en-US')),
  pct: (r) => `${(r * 100).toFixed(1)} %`,
  ms: (v) => (v < 0.1 ? `${(v * 1000).toFixed(0)} µs` : `${v.toFixed(v < 10 ? 2 : 0)} ms`),
  bytes: (b) => {
    if (b === undefined || b === null) return '–';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let i = 0;
    while (b >= 1024 && i < units.length - 1) {
      b /= 1024;
      i++;
    }
    return `${b.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
  },
};

function render(snapshot) {
  const status = $('status');
  status.dataset.updates = String(++updates);
  status.title = `updated ${new Date(snapshot.at).toLocaleTimeString()}`;
  const select = $('cache');
  const names = snapshot.caches.map((c) => c.name);
  if (select.options.length !== names.length || names.some((n, i) => select.options[i].value !== n)) {
    select.replaceChildren(...names.map((n) => new Option(n, n)));
    select.hidden = names.length < 2;
    if (!names.includes(selected)) selected = names[0];
    select.value = selected;
  }
  for (const cache of snapshot.caches) track(cache, snapshot.at);
  const cache = snapshot.caches.find((c) => c.name === selected);
  if (cache !== undefined) show(cache);
  renderMonitors(snapshot.monitors ?? []);
}

function track(cache, at) {
  let h = history.get(cache.name);
  if (h === undefined) history.set(cache.name, (h = { last: undefined, t: [], hitRate: [], ops: [], p50: [], p99: [], entries: [] }));
  const s = cache;
  const ops = s.hits + s.misses + s.sets + s.deletes;
  const last = h.last;
  let rate = null;
  let hitRate = null;
  if (last !== undefined && at > last.at) {
    const dt = (at - last.at) / 1000;
    rate = Math.max(0, (ops - last.ops) / dt);
    const asked = s.hits + s.misses - (last.hits + last.misses);
    hitRate = asked > 0 ? ((s.hits - last.hits) / asked) * 100 : null;
  }
  h.last = { at, ops, hits: s.hits, misses: s.misses, rate };
  h.t.push(at / 1000);
  h.hitRate.push(hitRate);
  h.ops.push(rate);
  h.p50.push(s.latency.p50);
  h.p99.push(s.latency.p99);
  h.entries.push(s.size);
  if (h.t.length > HISTORY) for (const k of ['t', 'hitRate', 'ops', 'p50', 'p99', 'entries']) h[k].shift();
}

function show(cache) {
  const s = cache;
  const h = history.get(cache.name);
  $('hit-rate').textContent = s.hits + s.misses === 0 ? '–' : fmt.pct(s.hitRate);
  $('ops').textContent = h.last.rate === null ? '–' : fmt.int(h.last.rate);
  $('p50').textContent = fmt.ms(s.latency.p50);
  $('p99').textContent = fmt.ms(s.latency.p99);
  $('entries').textContent = fmt.int(s.size);
  $('bytes').textContent = fmt.bytes(s.bytes);
  $('evictions').textContent = fmt.int(s.evictions);
  $('errors').textContent = fmt.int(s.errors);
  $('errors').classList.toggle('bad', s.errors > 0);
  $('hits-misses').textContent = `${fmt.int(s.hits)} / ${fmt.int(s.misses)}`;
  const l2 = $('l2');
  if (cache.l2 === undefined) {
    l2.textContent = 'none';
    l2.className = 'value';
  } else {
    const text = { up: 'up', 'breaker-open': 'breaker open', disconnected: 'disconnected' }[cache.l2.state] ?? cache.l2.state;
    l2.textContent = cache.l2.bus === false ? `${text}, bus down` : text;
    l2.className = `value ${cache.l2.state === 'up' && cache.l2.bus !== false ? 'good' : 'bad'}`;
  }
  renderNamespaces(cache.namespaces ?? []);
  renderRedis(cache.redis);
  plot('hitRate', 'chart-hit-rate', [h.t, h.hitRate], [{ label: 'hit rate %', stroke: '#1e8e3e' }], { range: [0, 100] });
  plot('ops', 'chart-ops', [h.t, h.ops], [{ label: 'ops/s', stroke: '#2563eb' }]);
  plot('latency', 'chart-latency', [h.t, h.p50, h.p99], [{ label: 'p50 ms', stroke: '#2563eb' }, { label: 'p99 ms', stroke: '#c0392b' }]);
  plot('entries', 'chart-entries', [h.t, h.entries], [{ label: 'entries', stroke: '#7c3aed' }]);
}

function plot(id, el, data, series, options = {}) {
  const container = $(el);
  const width = Math.max(200, container.clientWidth);
  let chart = charts[id];
  if (chart === undefined || chart.width !== width) {
    chart?.destroy();
    chart = charts[id] = new uPlot(
      {
        width,
        height: 200,
        legend: { show: true },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: options.range === undefined ? {} : { range: options.range } },
        axes: [{}, { size: 60 }],
        series: [{}, ...series.map((s) => ({ ...s, width: 2, spanGaps: true }))],
      },
      data,
      container,
    );
  } else {
    chart.setData(data);
  }
}

function cell(text, numeric) {
  const td = document.createElement('td');
  td.textContent = text;
  if (numeric) td.className = 'num';
  return td;
}

function row(...cells) {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

function renderNamespaces(list) {
  const body = $('namespaces');
  if (list.length === 0) return body.replaceChildren(row(cell('no entries')));
  body.replaceChildren(...list.map((n) => row(cell(n.prefix), cell(fmt.int(n.entries), true))));
}

function renderRedis(redis) {
  const body = $('redis');
  if (redis === undefined) return body.replaceChildren(row(cell('no Redis tier')));
  if (redis.error !== undefined) return body.replaceChildren(row(cell(`unavailable: ${redis.error}`)));
  const lookups = redis.keyspaceHits + redis.keyspaceMisses;
  body.replaceChildren(
    row(cell('used memory'), cell(fmt.bytes(redis.usedMemory), true)),
    row(cell('maxmemory'), cell(redis.maxmemory === 0 ? 'unlimited' : fmt.bytes(redis.maxmemory), true)),
    row(cell('policy'), cell(redis.maxmemoryPolicy, true)),
    row(cell('keyspace hit rate'), cell(lookups === 0 ? '–' : fmt.pct(redis.keyspaceHits / lookups), true)),
    row(cell('evicted keys'), cell(fmt.int(redis.evictedKeys), true)),
    row(cell('connected clients'), cell(fmt.int(redis.connectedClients), true)),
  );
}

function renderMonitors(list) {
  const body = $('monitors');
  if (list.length === 0) return body.replaceChildren(row(cell('none: wrap a function with monitor() from hoard/metrics')));
  body.replaceChildren(
    ...list.map((m) => row(cell(m.name), cell(fmt.int(m.calls), true), cell(fmt.int(m.errors), true), cell(fmt.int(m.slow), true), cell(m.p50.toFixed(2), true), cell(m.p99.toFixed(2), true))),
  );
}

async function answer(res) {
  const text = await res.text();
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: text };
  }
  if (res.status === 401) signOut('The token was refused.');
  return { ok: res.ok, status: res.status, body };
}

$('login').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = $('token');
  token = input.value;
  input.value = ''; // kept in memory only
  $('login-error').textContent = '';
  setStatus('idle', 'connecting…');
  void stream();
});

$('cache').addEventListener('change', (e) => {
  selected = e.target.value;
});

$('inspect').addEventListener('submit', async (e) => {
  e.preventDefault();
  const key = $('inspect-key').value;
  const query = new URLSearchParams();
  if ($('inspect-value').checked) query.set('value', '1');
  const out = $('inspect-result');
  out.textContent = '…';
  const { status, body } = await answer(await api(`keys/${encodeURIComponent(key)}?${query}`));
  out.textContent = status === 404 ? `${key}: not in any tier` : JSON.stringify(body, null, 2);
});

$('invalidate').addEventListener('submit', async (e) => {
  e.preventDefault();
  const kind = $('inv-kind').value;
  const value = $('inv-value').value;
  const dryRun = $('inv-dry').checked;
  const out = $('inv-result');
  out.textContent = '…';
  const payload = { [kind]: kind === 'pattern' ? value : [value], dryRun };
  const { ok, body } = await answer(await api('invalidate', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(payload) }));
  if (!ok) out.textContent = `error: ${body.error ?? 'failed'}`;
  else out.textContent = dryRun ? `would remove ${body.removed} (dry run)` : `removed ${body.removed}`;
  out.dataset.removed = String(body.removed ?? '');
});

window.addEventListener('resize', () => {
  const cache = history.get(selected);
  if (cache !== undefined) for (const id of Object.keys(charts)) charts[id].setSize({ width: Math.max(200, charts[id].root.parentElement.clientWidth), height: 200 });
});
