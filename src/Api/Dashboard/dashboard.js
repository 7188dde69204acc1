// MathV2 dashboard: laps, flywheels and searches over the HTTP API. No dependencies; the key travels only in
// the x-functions-key header (never in a URL) and is kept in this tab's sessionStorage.
'use strict';

const KEY = 'mathv2.key';
const POLL_MS = 1500;        // a lap, a job, a search
const HOME_POLL_MS = 5000;   // the runs (it reads every running lap)
const PHASES = ['1a', '1b', '1c', '1d', '2', '3', '4'];
let timer = null;
let generation = 0;            // bumped on navigation: a stale render does not touch the new view
const blobUrls = new Map();    // artifact file → object URL (plots fetched with the key)

// ---- DOM helpers (text is always set as text, never parsed as HTML) ----
function h(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'style') e.style.cssText = v;   // CSSOM: allowed under the page's style-src 'self'
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat().filter(present)) e.append(c instanceof Node ? c : String(c));
  return e;
}
// A part of a view that is there (null, undefined, false and '' stand for "nothing here").
const present = c => c !== null && c !== undefined && c !== false && c !== '';
const lower = s => String(s || '').toLowerCase();
const statusEl = s => h('span', { class: 'status ' + lower(s) }, s || '?');
const when = t => t ? new Date(t).toLocaleString() : '';
const num = (v, d = 4) => typeof v === 'number' ? String(Math.round(v * 10 ** d) / 10 ** d) : '';
const seconds = s => s >= 60 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${Math.round(s * 10) / 10} s`;

// ---- API ----
const key = () => sessionStorage.getItem(KEY) || '';
class ApiError extends Error { constructor(status, detail) { super(detail); this.status = status; } }

async function api(path, init = {}) {
  const r = await fetch(path, { ...init, headers: { ...(init.headers || {}), 'x-functions-key': key() } });
  if (r.status === 401) { showLogin('The key was refused.'); throw new ApiError(401, 'unauthorized'); }
  return r;
}
async function problemOf(r) {
  const text = await r.text();
  try {
    const p = JSON.parse(text);
    const errors = p.errors ? Object.entries(p.errors).map(([f, m]) => `${f}: ${[].concat(m).join('; ')}`) : [];
    return new ApiError(r.status, [p.detail || p.title || `HTTP ${r.status}`, ...errors].join('\n'));
  } catch { return new ApiError(r.status, text || `HTTP ${r.status}`); }
}
async function getJson(path) { const r = await api(path); if (!r.ok) throw await problemOf(r); return r.json(); }
async function getText(path) { const r = await api(path); if (!r.ok) throw await problemOf(r); return r.text(); }
const enc = encodeURIComponent;

async function artifactUrl(artifact, file) {
  const k = artifact + '/' + file;
  if (!blobUrls.has(k)) {
    const r = await api(`/api/artifacts/${enc(artifact)}/files/${file.split('/').map(enc).join('/')}`);
    if (!r.ok) throw await problemOf(r);
    blobUrls.set(k, URL.createObjectURL(await r.blob()));
  }
  return blobUrls.get(k);
}

// ---- Login ----
function showLogin(message) {
  document.getElementById('login').hidden = false;
  document.getElementById('view').hidden = true;
  document.getElementById('forget-key').hidden = true;
  document.getElementById('login-error').textContent = message || '';
  clearTimeout(timer);
}
document.getElementById('login-form').addEventListener('submit', e => {
  e.preventDefault();
  sessionStorage.setItem(KEY, document.getElementById('key').value);
  document.getElementById('key').value = '';
  route();
});
document.getElementById('forget-key').addEventListener('click', () => { sessionStorage.removeItem(KEY); showLogin(''); });

// ---- Routing: #/, #/laps/ID, #/flywheels/ID, #/searches/ID, #/jobs/ID ----
function route() {
  clearTimeout(timer);
  const [, kind, id] = (location.hash.replace(/^#/, '') || '/').split('/');
  const annotator = kind === 'annotate';   // an annotator's page: the batch's token, no admin key
  if (!annotator && !key()) { showLogin(''); return; }
  document.getElementById('login').hidden = true;
  document.getElementById('view').hidden = false;
  document.getElementById('forget-key').hidden = annotator;
  const gen = ++generation;
  const view = document.getElementById('view');
  const render = { laps: renderLap, flywheels: renderFlywheel, searches: renderSearch, jobs: renderJob, annotate: renderAnnotate }[kind] || renderHome;
  const tick = async () => {
    let again = true;
    try { again = await render(view, decodeURIComponent(id || ''), gen) !== false; }
    catch (e) {
      if (e instanceof ApiError && e.status === 401) return;
      if (gen === generation) view.replaceChildren(h('p', { class: 'error', id: 'view-error' }, e.message));
    }
    if (gen !== generation) return;
    document.getElementById('refreshed').textContent = 'updated ' + new Date().toLocaleTimeString();
    if (again) timer = setTimeout(tick, render === renderHome ? HOME_POLL_MS : POLL_MS);
  };
  tick();
}
window.addEventListener('hashchange', route);

// replaceChildren would write a null as the text "null": absent parts are dropped first.
function swap(view, gen, ...children) { if (gen === generation) view.replaceChildren(...children.flat().filter(present)); }
const finished = s => ['completed', 'failed', 'terminated'].includes(lower(s));

// ---- Home: laps, flywheels, searches, batches waiting for people ----
async function renderHome(view, _, gen) {
  const [laps, flywheels, searches] = await Promise.all([getJson('/api/laps'), getJson('/api/flywheels'), getJson('/api/searches')]);
  const waiting = [];
  for (const lap of laps.filter(l => !finished(l.runtimeStatus)).slice(0, 20)) {
    const full = await getJson(`/api/laps/${enc(lap.id)}`);
    const w = full.phaseStatus?.status;
    if (w?.status === 'awaiting-annotation') waiting.push({ lap: lap.id, ...w });
  }
  swap(view, gen,
    h('h1', {}, 'Runs'),
    h('h2', {}, 'Waiting for people'),
    waiting.length === 0 ? h('p', { class: 'muted', id: 'no-waiting' }, 'No annotation batch is waiting.') :
      table(['lap', 'phase', 'batch', 'items', 'deadline'], waiting.map(w => [link(`#/laps/${w.lap}`, w.lap), w.phase, w.batchId, w.items, when(w.deadline)]), 'waiting'),
    h('h2', {}, 'Laps'),
    laps.length === 0 ? h('p', { class: 'muted' }, 'No lap yet: POST /api/laps or ./mathv2 lap start.') :
      table(['lap', 'status', 'phase', 'started', 'updated'], laps.map(l => [link(`#/laps/${l.id}`, l.id), statusEl(l.runtimeStatus), l.status?.phase || '', when(l.createdAt), when(l.lastUpdatedAt)]), 'laps'),
    h('h2', {}, 'Flywheels'),
    flywheels.length === 0 ? h('p', { class: 'muted' }, 'No flywheel yet.') :
      table(['flywheel', 'status', 'lap', 'started'], flywheels.map(f => [link(`#/flywheels/${f.id}`, f.id), statusEl(f.runtimeStatus), f.status ? `${f.status.lap} of ${f.status.of}` : '', when(f.createdAt)]), 'flywheels'),
    h('h2', {}, 'Searches'),
    searches.length === 0 ? h('p', { class: 'muted' }, 'No search yet.') :
      table(['search', 'status', 'round', 'step', 'started'], searches.map(s => [link(`#/searches/${s.id}`, s.id), statusEl(s.runtimeStatus), s.status ? `${s.status.round} of ${s.status.rounds}` : '', s.status?.step || '', when(s.createdAt)]), 'searches'));
}

function link(href, text) { return h('a', { href }, text); }
function table(head, rows, id) {
  return h('table', { id }, h('thead', {}, h('tr', {}, head.map(c => h('th', {}, c)))),
    h('tbody', {}, rows.map(r => h('tr', {}, r.map(c => h('td', {}, c))))));
}

// ---- A lap: phase timeline, running jobs with live curves, annotation form, report with plots ----
let annotation = null;   // the form on screen: { batchId, element }

async function renderLap(view, id, gen) {
  const lap = await getJson(`/api/laps/${enc(id)}`);
  const done = finished(lap.runtimeStatus);
  const parts = [h('h1', {}, 'Lap ', h('span', { id: 'lap-id' }, id), ' ', h('span', { id: 'lap-status' }, statusEl(lap.runtimeStatus)))];
  if (lap.failure) parts.push(h('p', { class: 'error', id: 'lap-failure' }, lap.failure));
  parts.push(h('h2', {}, 'Phases'), timeline(lap));
  const wait = lap.phaseStatus?.status;
  if (!done && lap.phaseStatus) {
    parts.push(h('h2', {}, `Phase ${wait?.phase || lap.status?.phase}: ${wait?.step || wait?.status || lap.phaseStatus.runtimeStatus}`));
    for (const j of lap.phaseStatus.jobs || []) parts.push(await jobBox(j));
  }
  const access = lap.phaseStatus?.annotators;
  if (!done && access) parts.push(h('p', { id: 'annotator-access' }, 'Annotators need no key: give them the token ',
    h('code', { id: 'annotator-token' }, access.token), ` (it opens only batch ${access.batchId}, until ${when(access.expiresAt)}) and the page `,
    h('a', { href: `#/annotate/${access.batchId}` }, `/api/dashboard/#/annotate/${access.batchId}`), '.'));
  if (!done && wait?.status === 'awaiting-annotation') {
    if (annotation?.batchId !== wait.batchId) {
      const base = `/api/laps/${enc(id)}/annotations/${enc(wait.batchId)}`;
      annotation = { lap: id, batchId: wait.batchId, element: await annotationForm(wait.batchId, wait.deadline, base, api) };
    }
    parts.push(annotation.element);
  } else if (annotation && (annotation.lap !== id || !annotation.element.querySelector('.ok'))) annotation = null;
  else if (annotation) parts.push(annotation.element);   // this lap's confirmation stays on screen
  if (lap.output?.report) parts.push(h('h2', {}, 'Report'), await reportBox(id, lap.output.report));
  swap(view, gen, ...parts);
  return !done;
}

function timeline(lap) {
  const out = lap.output?.phases || [];
  const completed = lap.status?.completed || [];
  const total = Math.max(1, ...out.map(p => (new Date(p.finished) - new Date(p.started)) / 1000));
  const rows = PHASES.map(p => {
    const r = out.find(x => x.phase === p);
    let state = completed.includes(p) ? 'done' : lap.status?.phase === p ? 'running' : 'pending';
    let secs = 0;
    if (r) { state = r.reusedFrom ? 'reused' : 'done'; secs = r.reusedFrom ? 0 : (new Date(r.finished) - new Date(r.started)) / 1000; }
    const bar = secs > 0 ? h('span', { class: 'bar', style: `width:${Math.round(300 * secs / total)}px` }) : '';
    return h('tr', { class: state, 'data-phase': p }, h('td', {}, p), h('td', { class: 'state' }, state + (r?.reusedFrom ? ` from ${r.reusedFrom}` : '')),
      h('td', {}, r ? seconds(secs) : ''), h('td', {}, r ? r.jobs.length : ''), h('td', {}, bar));
  });
  return h('table', { class: 'timeline', id: 'timeline' }, h('thead', {}, h('tr', {}, ['phase', 'state', 'wall', 'jobs', ''].map(c => h('th', {}, c)))), h('tbody', {}, rows));
}

function progressText(p) {
  if (!p) return '';
  const bits = [];
  if (p.step != null) bits.push(`step ${p.step}/${p.steps}`);
  if (p.done != null) bits.push(`${p.done}/${p.total} done`);
  if (p.loss != null) bits.push(`loss ${num(p.loss)}`);
  if (p.meanReward != null) bits.push(`reward ${num(p.meanReward)}`);
  if (p.kl != null) bits.push(`KL ${num(p.kl)}`);
  if (p.tokensPerSecond != null) bits.push(`${num(p.tokensPerSecond, 1)} tokens/s`);
  return bits.join(', ');
}

async function jobBox(j) {
  const box = h('div', { class: 'job', 'data-job': j.jobId },
    h('div', {}, h('a', { href: `#/jobs/${j.jobId}` }, j.jobId), ' ', statusEl(j.status), j.attempt ? ` attempt ${j.attempt}` : ''),
    h('div', { class: 'progress' }, progressText(j.progress)));
  if (j.progress?.step != null) {
    const rows = await metricsOf(j.jobId);
    if (rows.length) box.append(curve(rows));
  }
  return box;
}

// Each job's metrics as read so far ({ attempt, bytes, rows }): a tick asks only for the lines added since
// (?offset=&attempt=); the server answers with all of them when they are another attempt's.
const metricsHeld = new Map();
async function metricsOf(jobId) {
  const held = metricsHeld.get(jobId);
  const r = await api(`/api/jobs/${enc(jobId)}/metrics` + (held && held.attempt >= 1 ? `?offset=${held.bytes}&attempt=${held.attempt}` : ''));
  if (r.status === 404) return [];
  if (!r.ok) throw await problemOf(r);
  const bytes = new Uint8Array(await r.arrayBuffer());
  const attempt = Number(r.headers.get('X-MathV2-Metrics-Attempt') || 0), from = Number(r.headers.get('X-MathV2-Metrics-Offset') || 0);
  const rows = new TextDecoder().decode(bytes).split('\n').filter(l => l.trim()).map(l => JSON.parse(l));
  const all = held && from > 0 && from === held.bytes && attempt === held.attempt ? held.rows.concat(rows) : rows;
  metricsHeld.set(jobId, { attempt, bytes: from + bytes.length, rows: all });
  return all;
}

// A training curve on a canvas: loss (blue), eval loss (orange), reward mean (green) by step.
function curve(rows, width = 640, height = 220) {
  const c = h('canvas', { class: 'curve', width, height, 'data-points': rows.length, 'data-last-loss': rows[rows.length - 1].loss });
  const g = c.getContext('2d');
  const series = [
    { name: 'loss', color: '#1f77b4', pts: rows.map(r => [r.step, r.loss]) },
    { name: 'eval loss', color: '#ff7f0e', pts: rows.filter(r => r.evalLoss != null).map(r => [r.step, r.evalLoss]) },
    { name: 'reward mean', color: '#2ca02c', pts: rows.filter(r => r.meanReward != null).map(r => [r.step, r.meanReward]) },
  ].filter(s => s.pts.length);
  const all = series.flatMap(s => s.pts);
  const [x0, x1] = [Math.min(...all.map(p => p[0])), Math.max(...all.map(p => p[0]))];
  let [y0, y1] = [Math.min(...all.map(p => p[1])), Math.max(...all.map(p => p[1]))];
  if (y1 === y0) { y0 -= 1; y1 += 1; }
  const L = 50, R = 10, T = 20, B = 25;
  const X = x => L + (x1 === x0 ? 0.5 : (x - x0) / (x1 - x0)) * (width - L - R);
  const Y = y => T + (1 - (y - y0) / (y1 - y0)) * (height - T - B);
  g.font = '11px sans-serif'; g.fillStyle = '#333'; g.strokeStyle = '#999';
  g.strokeRect(L, T, width - L - R, height - T - B);
  g.fillText(num(y1, 3), 4, T + 4); g.fillText(num(y0, 3), 4, height - B);
  g.fillText(`step ${x0}`, L, height - 8); g.fillText(`${x1}`, width - R - 20, height - 8);
  series.forEach((s, i) => {
    g.strokeStyle = g.fillStyle = s.color; g.lineWidth = 1.5; g.beginPath();
    s.pts.forEach(([x, y], k) => k ? g.lineTo(X(x), Y(y)) : g.moveTo(X(x), Y(y)));
    g.stroke(); g.fillText(s.name, L + 10 + i * 110, 13);
  });
  return c;
}

// The batch's items with a 0 / 0.5 / 1 choice each; the server checks the labels (a 4xx is shown, nothing stored).
// fetcher: api (the admin key) or an annotator's token fetch; path: the batch's items (GET) and labels (POST).
async function annotationForm(batchId, deadline, path, fetcher) {
  const r = await fetcher(path);
  if (!r.ok) throw await problemOf(r);
  const items = (await r.text()).split('\n').filter(l => l.trim()).map(l => JSON.parse(l));
  const message = h('p', { id: 'annotation-message', role: 'status' });
  const form = h('form', { id: 'annotation-form', 'data-batch': batchId },
    h('h2', {}, `Annotation batch ${batchId}`),
    h('p', { class: 'muted' }, `${items.length} items${deadline ? `; deadline ${when(deadline)}` : ''}. Score each ${items.some(i => i.analysis) ? 'analysis with the meta-rubric' : 'proof with the rubric'}: 1 correct and rigorous, 0.5 minor gaps, 0 wrong.`),
    items.map(it => h('div', { class: 'item', 'data-item': it.itemId },
      h('div', {}, h('strong', {}, it.itemId), h('span', { class: 'muted' }, ` (${it.problemId})`)),
      h('div', {}, 'Problem'), h('pre', {}, it.problem),
      h('div', {}, 'Proof'), h('pre', {}, it.proof),
      it.analysis ? [h('div', {}, 'Analysis'), h('pre', {}, it.analysis)] : null,
      h('fieldset', {}, h('legend', {}, 'Score'), ['0', '0.5', '1'].map(s =>
        h('label', {}, h('input', { type: 'radio', name: it.itemId, value: s }), ` ${s} `))))),
    h('button', { type: 'submit', id: 'annotation-submit' }, 'Submit labels'), message);
  form.addEventListener('submit', async e => {
    e.preventDefault();
    const lines = items.map(it => form.querySelector(`input[name="${CSS.escape(it.itemId)}"]:checked`))
      .filter(x => x).map(x => JSON.stringify({ itemId: x.name, score: Number(x.value) }) + '\n').join('');
    const r = await fetcher(path, { method: 'POST', body: lines, headers: { 'content-type': 'application/x-ndjson' } });
    if (r.ok) {
      const accepted = await r.json();
      message.className = 'ok';
      message.textContent = `${accepted.labels} labels stored; the lap goes on.`;
      form.querySelector('#annotation-submit').disabled = true;
    } else {
      message.className = 'error';
      message.textContent = (await problemOf(r)).message;
    }
  });
  return form;
}

const reports = new Map();   // report artifact → rendered element (a finished report does not change)
async function reportBox(lapId, reportId) {
  if (!reports.has(reportId)) reports.set(reportId, h('div', { class: 'report', id: 'report' }, await markdown(await getText(`/api/laps/${enc(lapId)}/report`), reportId)));
  return reports.get(reportId);
}

// The report's Markdown: headings, paragraphs, tables, images (fetched with the key), code blocks.
async function markdown(text, artifact) {
  const out = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith('```')) {
      const code = [];
      while (++i < lines.length && !lines[i].startsWith('```')) code.push(lines[i]);
      out.push(h('pre', {}, code.join('\n')));
    } else if (/^#{1,3} /.test(line)) {
      const level = line.indexOf(' ');
      out.push(h('h' + Math.min(level + 1, 4), {}, line.slice(level + 1)));
    } else if (line.startsWith('|')) {
      const rows = [];
      for (; i < lines.length && lines[i].startsWith('|'); i++) rows.push(lines[i]);
      i--;
      const cells = r => r.slice(1, -1).split('|').map(c => c.trim());
      out.push(h('table', {}, h('thead', {}, h('tr', {}, cells(rows[0]).map(c => h('th', {}, c)))),
        h('tbody', {}, rows.slice(2).map(r => h('tr', {}, cells(r).map(c => h('td', {}, c)))))));
    } else if (/^!\[[^\]]*\]\(plots\/[A-Za-z0-9._-]+\.png\)$/.test(line)) {
      // Only the report's own plots are fetched (with the key); any other image line stays text.
      const [, alt, file] = line.match(/^!\[([^\]]*)\]\(([^)]+)\)$/);
      const img = h('img', { alt, title: alt, 'data-file': file });
      img.src = await artifactUrl(artifact, file);
      out.push(h('figure', {}, img));
    } else if (line.trim()) out.push(h('p', {}, line));
  }
  return out;
}

// ---- An annotator's page: one batch, opened by its token (kept in this tab only), no admin key ----
const tokenKey = batchId => 'mathv2.token.' + batchId;
async function renderAnnotate(view, batchId, gen) {
  const token = sessionStorage.getItem(tokenKey(batchId));
  const ask = message => {
    const input = h('input', { id: 'annotator-token-input', type: 'password', autocomplete: 'off', required: true });
    const form = h('form', { id: 'token-form' }, h('label', {}, 'Batch token ', input), ' ', h('button', { type: 'submit' }, 'Open'));
    form.addEventListener('submit', e => { e.preventDefault(); sessionStorage.setItem(tokenKey(batchId), input.value); route(); });
    swap(view, gen, h('h1', {}, `Annotation batch ${batchId}`), h('p', {}, 'Enter the token you were given for this batch.'), form,
      message ? h('p', { class: 'error', id: 'token-error' }, message) : null);
    return false;
  };
  if (!token) return ask('');
  const fetcher = (path, init = {}) => fetch(path, { ...init, headers: { ...(init.headers || {}), 'x-annotation-token': token } });
  let form;
  try { form = await annotationForm(batchId, null, `/api/annotations/${enc(batchId)}`, fetcher); }
  catch (e) {
    if (e instanceof ApiError && e.status === 401) { sessionStorage.removeItem(tokenKey(batchId)); return ask(e.message); }
    throw e;
  }
  swap(view, gen, form);
  return false;   // the form stays put while it is filled in
}

// ---- A flywheel: its laps with held-out accuracy and best verifier ----
async function renderFlywheel(view, id, gen) {
  const fw = await getJson(`/api/flywheels/${enc(id)}`);
  const laps = fw.output?.laps || fw.status?.laps || [];
  const running = !finished(fw.runtimeStatus) && fw.status?.lapId;
  swap(view, gen,
    h('h1', {}, 'Flywheel ', id, ' ', statusEl(fw.runtimeStatus)),
    fw.failure ? h('p', { class: 'error' }, fw.failure) : null,
    fw.output?.stopped || fw.status?.stopped ? h('p', {}, 'Stopped: ', fw.output?.stopped || fw.status?.stopped) : null,
    running ? h('p', {}, 'Running lap ', link(`#/laps/${fw.status.lapId}`, fw.status.lapId), ` (${fw.status.lap} of ${fw.status.of})`) : null,
    table(['lap', 'number', 'verifier accuracy (held-out)', 'next lap starts from'], laps.map(l => [link(`#/laps/${l.lapId}`, l.lapId), l.number, num(l.verifierAccuracy), l.bestVerifier || '']), 'flywheel-laps'));
  return !finished(fw.runtimeStatus);
}

// ---- A search: each problem's best mean score so far, the running jobs ----
async function renderSearch(view, id, gen) {
  const s = await getJson(`/api/searches/${enc(id)}`);
  const parts = [h('h1', {}, 'Search ', id, ' ', statusEl(s.runtimeStatus)),
    s.status ? h('p', {}, `Round ${s.status.round} of ${s.status.rounds}: ${s.status.step}`) : null,
    s.failure ? h('p', { class: 'error' }, s.failure) : null,
    table(['problem', 'round', 'best mean score', 'proofs', 'verifications', 'stopped'],
      (s.problems || []).map(p => [p.problemId, p.round, num(p.bestMeanScore), p.proofs, p.verifications, p.stopped ? (p.stopReason || 'yes') : '']), 'search-problems')];
  for (const j of s.jobs || []) parts.push(await jobBox(j));
  swap(view, gen, ...parts);
  return !finished(s.runtimeStatus);
}

// ---- A job: its record and its curves (live while it runs) ----
async function renderJob(view, id, gen) {
  const j = await getJson(`/api/jobs/${enc(id)}`);
  const rows = await metricsOf(id);
  swap(view, gen,
    h('h1', {}, 'Job ', id, ' ', statusEl(j.status)),
    h('p', {}, `${j.kind}; attempt ${j.attempt} of ${j.maxAttempts}`, j.workerId ? `; worker ${j.workerId}` : '', j.lap ? ['; lap ', link(`#/laps/${j.lap}`, j.lap)] : ''),
    j.progress ? h('p', { class: 'progress' }, progressText(j.progress)) : null,
    j.error ? h('p', { class: 'error' }, j.error) : null,
    j.summary ? table(['result', ''], Object.entries(j.summary).filter(([, v]) => typeof v !== 'object').map(([k, v]) => [k, typeof v === 'number' ? num(v) : String(v)]), 'job-summary') : null,
    rows.length ? curve(rows, 800, 300) : h('p', { class: 'muted' }, 'No training metrics (a sampling job, or before the first step).'));
  return !['succeeded', 'failed', 'cancelled'].includes(lower(j.status));
}

route();
