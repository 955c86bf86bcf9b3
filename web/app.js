// The steerdns status page: reads the status server's JSON API and keeps itself current.
//   /api/status     the header (version, PoP, readiness, last reload)
//   /api/overview   load balancers → pools → endpoints with their health
//   /api/events     the health-event log (then each new event arrives on /api/stream)
//   /api/analytics  answers per pool, endpoint and region over time, pool health and RTT
// Live: /api/stream (server-sent events) pushes every health event as it happens; the overview is fetched again
// then, and everything every REFRESH_MS. Without the stream (a proxy that buffers it), the overview is polled.
'use strict';
(() => {
  const REFRESH_MS = 5000;
  const POLL_MS = 2000;
  const RANGES = { '15m': 15, '1h': 60, '6h': 360, '24h': 1440 };
  const PALETTE = ['#2f6fdf', '#e0682b', '#2a9d5b', '#b03fc4', '#c8a000', '#1aa3b8', '#d43d5a', '#6b7a8f', '#7c5b2e', '#4f4fd9'];

  const state = {
    lb: '',
    range: '1h',
    overview: null,
    events: [],
    lastEventId: 0,
    folded: new Set(),
    charts: {},
    streamOpen: false,
  };

  const $ = (sel) => document.querySelector(sel);

  function esc(v) {
    return String(v ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
  }

  async function api(path) {
    const r = await fetch(path, { cache: 'no-store' });
    if (r.status === 401) {
      location.reload(); // the server shows its sign-in form
      throw new Error('unauthorized');
    }
    const body = await r.json();
    if (!body.success) throw new Error(body.errors.map((e) => e.message).join('; '));
    return body.result;
  }

  function ago(iso) {
    if (!iso) return '';
    const s = Math.round((Date.now() - Date.parse(iso)) / 1000);
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return new Date(iso).toLocaleString();
  }

  function ms(v) {
    return v === null || v === undefined ? '' : `${v < 10 ? v.toFixed(1) : Math.round(v)} ms`;
  }

  function badge(status, text) {
    return `<span class="badge ${esc(status)}">${esc(text ?? status)}</span>`;
  }

  // ---- header ------------------------------------------------------------------------------------------------

  async function loadSummary() {
    const s = await api('/api/status');
    const items = [
      ['version', s.version],
      ['PoP', s.pop && s.pop.code + (s.pop.region ? ` (${s.pop.region})` : '')],
      ['role', s.role + (Array.isArray(s.workers) ? `, ${s.workers.length} workers` : '')],
      ['ready', s.ready ? 'yes' : 'no'],
      ['config loaded', ago(s.config_loaded_at)],
      ['last reload', s.last_reload_successful ? 'ok' : `failed: ${s.last_reload_error}`],
    ];
    $('#summary').innerHTML = items.map(([k, v]) => `<div><dt>${esc(k)}</dt><dd class="${k === 'last reload' && !s.last_reload_successful ? 'bad' : ''}">${esc(v)}</dd></div>`).join('');
  }

  // ---- load balancers → pools → endpoints ---------------------------------------------------------------------

  async function loadOverview() {
    state.overview = await api('/api/overview');
    renderFilter();
    renderTree();
  }

  function renderFilter() {
    const sel = $('#lb-filter');
    const names = state.overview.load_balancers.map((l) => l.name);
    const have = [...sel.options].map((o) => o.value).slice(1);
    if (have.join('\n') === names.join('\n')) return;
    sel.innerHTML = '<option value="">all</option>' + names.map((n) => `<option value="${esc(n)}">${esc(n)}</option>`).join('');
    sel.value = names.includes(state.lb) ? state.lb : '';
  }

  function renderTree() {
    const ov = state.overview;
    const pools = new Map(ov.pools.map((p) => [p.name, p]));
    const rows = [];
    for (const lb of ov.load_balancers) {
      if (state.lb && lb.name !== state.lb) continue;
      const folded = state.folded.has(lb.name);
      const detail = `${lb.steering_policy || 'off'} · pools ${lb.default_pools.join(', ')} · fallback ${lb.fallback_pool}${lb.enabled ? '' : ' · disabled'}`;
      rows.push(`<tr class="lb" data-lb="${esc(lb.name)}" data-health="${esc(lb.health)}"><td><button type="button" class="fold" aria-expanded="${!folded}">${folded ? '▸' : '▾'}</button> ${esc(lb.name)}</td>` +
        `<td>${badge(lb.health)}</td><td>${esc(detail)}</td><td></td><td></td></tr>`);
      if (folded) continue;
      for (const name of lb.pools) {
        const p = pools.get(name);
        if (!p) continue;
        const pstatus = p.enabled ? (p.monitored ? p.state : 'unmonitored') : 'disabled';
        const role = name === lb.fallback_pool ? ' · fallback' : lb.default_pools.includes(name) ? '' : ' · geo/rules';
        rows.push(`<tr class="pool" data-lb="${esc(lb.name)}" data-pool="${esc(name)}" data-state="${esc(pstatus)}"><td>${esc(name)}</td>` +
          `<td>${badge(p.healthy ? pstatus : pstatus === 'unknown' ? 'unknown' : 'critical', pstatus)}</td>` +
          `<td>${p.healthy_origins}/${p.enabled_origins} healthy, minimum ${p.minimum_origins}${esc(role)}</td><td>${ms(p.rtt_ms)}</td><td></td></tr>`);
        for (const e of p.origins) {
          const status = !e.enabled ? 'disabled' : !p.monitored ? 'unmonitored' : e.status;
          const reason = e.enabled && p.monitored && e.failure_reason && e.failure_reason !== 'No failures' ? e.failure_reason : '';
          rows.push(`<tr class="endpoint" data-lb="${esc(lb.name)}" data-endpoint="${esc(`${name}/${e.name}`)}" data-status="${esc(status)}"><td>${esc(e.name)} <small>${esc(e.address)}</small></td>` +
            `<td>${badge(status)}</td><td class="reason">${esc(reason)}</td><td>${ms(e.rtt_ms)}</td><td title="${esc(e.changed ?? '')}">${esc(ago(e.changed))}</td></tr>`);
        }
      }
    }
    $('#lbs tbody').innerHTML = rows.join('') || '<tr><td colspan="5">no load balancers</td></tr>';
  }

  $('#lbs').addEventListener('click', (ev) => {
    const row = ev.target.closest('tr.lb');
    if (!row) return;
    const name = row.dataset.lb;
    if (state.folded.has(name)) state.folded.delete(name);
    else state.folded.add(name);
    renderTree();
  });

  // ---- charts and the region table -----------------------------------------------------------------------------

  function query(params) {
    const q = new URLSearchParams({ since: `-${RANGES[state.range]}`, ...params });
    if (state.lb) q.set('lb', state.lb);
    return api(`/api/analytics?${q}`);
  }

  /** Draws (or updates) a uPlot chart of `series` ({label, values}) over `time` (seconds). */
  function chart(id, time, series, unit) {
    const el = document.getElementById(id);
    const labels = series.map((s) => s.label).join('\n');
    let c = state.charts[id];
    const width = Math.max(300, el.clientWidth || 600);
    if (c && c.labels !== labels) {
      c.plot.destroy();
      c = null;
    }
    el.classList.toggle('has-data', series.some((s) => s.values.some((v) => v)));
    el.dataset.series = series.length;
    const data = [time, ...series.map((s) => s.values)];
    if (!c) {
      el.textContent = '';
      const opts = {
        width,
        height: 220,
        scales: { x: { time: true } },
        axes: [{}, { size: 60, values: (u, vals) => vals.map((v) => (v === null ? '' : `${+v.toFixed(2)}${unit}`)) }],
        // RTT is sampled every 5 s into buckets that may hold none: join the points and show them.
        series: [{}, ...series.map((s, i) => ({ label: s.label, stroke: PALETTE[i % PALETTE.length], width: 1.5, ...(unit === ' ms' ? { spanGaps: true, points: { show: true, size: 4 } } : {}) }))],
        legend: { live: false },
      };
      state.charts[id] = { plot: new uPlot(opts, data, el), labels };
    } else {
      c.plot.setData(data);
      if (Math.abs(c.plot.width - width) > 2) c.plot.setSize({ width, height: 220 });
    }
  }

  async function loadAnalytics() {
    const [byPool, byEndpoint, byRegion] = await Promise.all([
      query({ group_by: 'pool' }),
      query({ group_by: 'pool,endpoint' }),
      query({ group_by: 'region,pool' }),
    ]);
    const perSecond = (values) => values.map((v) => v / byPool.step);
    chart('chart-pools', byPool.time, byPool.series.map((s) => ({ label: s.pool, values: perSecond(s.values) })), '/s');
    chart('chart-endpoints', byEndpoint.time, byEndpoint.series.filter((s) => s.endpoint !== null).slice(0, 20).map((s) => ({ label: `${s.pool}/${s.endpoint}`, values: perSecond(s.values) })), '/s');
    // RTT: the pools of the load balancer shown (all pools without a filter).
    const shown = state.lb && state.overview ? new Set((state.overview.load_balancers.find((l) => l.name === state.lb) || { pools: [] }).pools) : null;
    const rtt = byPool.pools.filter((p) => (!shown || shown.has(p.pool)) && p.rtt_ms.some((v) => v !== null));
    chart('chart-rtt', byPool.time, rtt.map((p) => ({ label: p.pool, values: p.rtt_ms })), ' ms');
    renderRegions(byRegion);
  }

  function renderRegions(result) {
    const names = (state.overview && state.overview.regions) || {};
    const byRegion = new Map();
    for (const s of result.series) {
      let r = byRegion.get(s.region);
      if (!r) byRegion.set(s.region, (r = { total: 0, pools: [] }));
      r.total += s.total;
      r.pools.push([s.pool, s.total]);
    }
    const rows = [...byRegion].sort((a, b) => b[1].total - a[1].total).map(([region, r]) => {
      const pools = r.pools.sort((a, b) => b[1] - a[1]).map(([p, n], i) => `<span class="${i === 0 ? 'main' : ''}">${esc(p)} ${Math.round((100 * n) / r.total)} %</span>`).join(', ');
      return `<tr data-region="${esc(region)}"><td><abbr title="${esc(names[region] ?? '')}">${esc(region)}</abbr> <small>${esc(names[region] ?? '')}</small></td><td>${r.total}</td><td>${pools}</td></tr>`;
    });
    $('#regions tbody').innerHTML = rows.join('') || '<tr><td colspan="3">no answers in this range</td></tr>';
  }

  // ---- events ---------------------------------------------------------------------------------------------------

  function addEvents(list) {
    for (const e of list) {
      if (e.id <= state.lastEventId) continue;
      state.lastEventId = e.id;
      state.events.unshift(e);
    }
    state.events.length = Math.min(state.events.length, 200);
    renderEvents();
  }

  function renderEvents() {
    $('#events').innerHTML = state.events.map((e) => {
      const o = e.origins.find((x) => x.changed) || e.origins.find((x) => x.name === e.cause.origin);
      const what = o ? `${o.name} ${o.healthy ? 'healthy' : `unhealthy: ${o.failure_reason ?? ''}`}` : e.cause.origin;
      const pool = `pool ${e.pool.name} ${e.pool.changed ? (e.pool.healthy ? 'back to healthy' : 'no longer usable') : e.pool.state}`;
      const cls = o && !o.healthy ? 'down' : e.pool.healthy ? 'up' : 'down';
      return `<li class="${cls}" data-event-id="${e.id}"><time datetime="${esc(e.timestamp)}">${esc(new Date(e.timestamp).toLocaleString())}</time> <b>${esc(what)}</b> <span>${esc(pool)}</span> <small>#${e.id}</small></li>`;
    }).join('') || '<li class="none">no health events</li>';
  }

  async function loadEvents() {
    addEvents(await api(`/api/events?limit=200&since_id=${state.lastEventId}`));
  }

  // ---- live updates ---------------------------------------------------------------------------------------------

  let overviewTimer = null;
  function overviewSoon() {
    clearTimeout(overviewTimer);
    overviewTimer = setTimeout(() => loadOverview().catch(report), 100);
  }

  function setLive(text, ok) {
    const el = $('#live');
    el.textContent = text;
    el.classList.toggle('ok', ok);
  }

  function openStream() {
    const es = new EventSource('/api/stream');
    es.addEventListener('open', () => {
      state.streamOpen = true;
      setLive('live', true);
      loadEvents().catch(report); // whatever happened while the stream was down
    });
    es.addEventListener('health', (m) => {
      addEvents([JSON.parse(m.data)]);
      overviewSoon();
    });
    es.addEventListener('error', () => {
      state.streamOpen = false;
      setLive('polling', false);
    });
  }

  function report(err) {
    setLive(`error: ${err.message}`, false);
  }

  async function refresh() {
    await Promise.all([loadSummary(), loadOverview()]);
    await Promise.all([loadAnalytics(), state.streamOpen ? null : loadEvents()]);
  }

  $('#lb-filter').addEventListener('change', (ev) => {
    state.lb = ev.target.value;
    renderTree();
    loadAnalytics().catch(report);
  });
  for (const b of document.querySelectorAll('[data-range]')) {
    b.addEventListener('click', () => {
      state.range = b.dataset.range;
      for (const x of document.querySelectorAll('[data-range]')) x.classList.toggle('active', x === b);
      loadAnalytics().catch(report);
    });
  }
  window.addEventListener('resize', () => loadAnalytics().catch(report));

  refresh().then(() => loadEvents()).catch(report);
  openStream();
  setInterval(() => refresh().catch(report), REFRESH_MS);
  setInterval(() => {
    if (!state.streamOpen) loadOverview().catch(report);
  }, POLL_MS);
})();
