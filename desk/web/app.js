// hotline agent's desk: plain ES module, no build step. It talks to the
// desk endpoints (/desk/...) and the role-checked API (/api/v1/...) with
// the session cookie, sends the CSRF token on every state-changing
// request, and follows the live stream (SSE) with catch-up.
import { t, setLanguage, language, stateName, result } from './i18n.js';
import { startBoard, stopBoard, boardEvent, render as renderBoard, setTV, tvOn } from './wallboard.js';
import { startMonitor, stopMonitor, monitorEvent, refresh as renderLive } from './monitor.js';
import { initFollowup, renderFollowup, refreshCallbacks } from './followup.js';
import { startSoftphone, stopSoftphone } from './softphone.js';

const $ = (sel) => document.querySelector(sel);
let session = null;     // what /desk/api/session said
let agentInfo = null;   // the agent's live state (GET /api/v1/agents/{me})
let stream = null;      // the EventSource
let lastId = '';        // the last event seen, for catch-up after a new EventSource
const seen = new Set(); // event IDs handled: a replay never handles one twice
const popped = new Set(); // calls whose card popped
let currentCall = '';
let wrapTimer = 0;

async function api(method, url, body) {
  const opt = { method, headers: {}, credentials: 'same-origin' };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  if (method !== 'GET' && session && session.csrf) opt.headers['X-CSRF-Token'] = session.csrf;
  const r = await fetch(url, opt);
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(data.error || r.statusText);
    e.status = r.status;
    throw e;
  }
  return data;
}

function status(msg, error = false) {
  const el = $('#status');
  el.textContent = msg;
  el.classList.toggle('error', error);
}

function fail(e) {
  if (e.status === 401) { showLogin(); return; }
  status(e.message, true);
}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

function fillSelect(sel, values, blank = false) {
  clear(sel);
  if (blank) sel.append(new Option('—', ''));
  for (const v of values) sel.append(new Option(v, v));
}

// ---- login ----

function showLogin() {
  session = null;
  if (stream) { stream.close(); stream = null; }
  stopBoard();
  stopMonitor();
  stopSoftphone();
  $('#desk').hidden = true;
  $('#btn-signout').hidden = true;
  $('#who').textContent = '';
  $('#login-form').hidden = false;
  $('#login-user').focus();
}

$('#login-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    session = await api('POST', '/desk/login', { user: $('#login-user').value, password: $('#login-password').value });
    $('#login-password').value = '';
    start();
  } catch (e) {
    status(e.status === 429 ? t('locked') : t('badLogin'), true);
  }
});

$('#btn-signout').addEventListener('click', async () => {
  try { await api('POST', '/desk/logout'); } catch (e) { /* logged out anyway */ }
  showLogin();
});

// ---- the desk ----

function isAgent() { return session && session.role === 'agent'; }

async function start() {
  $('#login-form').hidden = true;
  $('#desk').hidden = false;
  $('#btn-signout').hidden = false;
  $('#who').textContent = `${session.name || session.user} (${session.role})`;
  fillSelect($('#pause-reason'), session.pause_reasons);
  fillSelect($('#outcome-category'), session.outcome_categories, true);
  fillSelect($('#esc-reason'), session.escalation_reasons, true);
  $('#state-panel').hidden = !isAgent();
  $('#today-panel').hidden = !isAgent();
  $('#callbacks-panel').hidden = !isAgent();
  $('#team-panel').hidden = session.role !== 'supervisor';
  $('#escalate-form').hidden = !session.escalation_queue || session.line === 2; // second line has nowhere to escalate to
  status('');
  connect();
  if (isAgent() || session.role === 'supervisor') startSoftphone(api); // a supervisor's: the audio of monitoring
  if (isAgent()) {
    await refreshAgent();
    await refreshToday();
    await refreshCallbacks();
  }
  if (session.role === 'supervisor' || session.role === 'admin') {
    startBoard(api);
    startMonitor(api, session.user);
  }
  if (session.role === 'supervisor') await refreshTeam();
  $('#review-panel').hidden = isAgent();
  if (!isAgent()) await refreshReview();
}

// The low ratings of the supervisor's teams (admins: all), each with the
// agent's notes and its recording (played and downloaded through the
// role-checked /desk/api/calls/{id}/recording).
async function refreshReview() {
  let rows = [];
  try { rows = (await api('GET', '/desk/api/review')).review; } catch (e) { fail(e); return; }
  const body = $('#review tbody');
  clear(body);
  for (const r of rows) {
    const tr = document.createElement('tr');
    tr.dataset.call = r.call_id;
    for (const v of [new Date(r.at).toLocaleString(language()), r.agent || '—', r.rating ?? '—',
      r.solved ? t(r.solved === 'yes' ? 'yes' : 'no') : '—', r.notes || '—']) {
      const td = document.createElement('td'); td.textContent = v; tr.append(td);
    }
    const td = document.createElement('td');
    if (r.recording) {
      const audio = document.createElement('audio');
      audio.controls = true; audio.preload = 'none'; audio.src = r.recording;
      const a = document.createElement('a');
      a.href = r.recording + '?download=1'; a.textContent = t('download');
      td.append(audio, ' ', a);
    } else {
      td.textContent = t('noRecording');
    }
    tr.append(td);
    body.append(tr);
  }
  $('#review-none').hidden = rows.length > 0;
}

async function refreshAgent() {
  try {
    agentInfo = await api('GET', `/api/v1/agents/${encodeURIComponent(session.user)}`);
    renderState();
  } catch (e) { fail(e); }
}

function renderState() {
  if (!agentInfo) return;
  $('#state').textContent = stateName(agentInfo.state);
  $('#state').dataset.state = agentInfo.state;
  $('#state-reason').textContent = agentInfo.reason ? `(${agentInfo.reason})` : '';
  clearInterval(wrapTimer);
  const wrapping = agentInfo.state === 'wrap-up';
  $('#wrapup').hidden = !wrapping;
  $('#btn-ready-now').hidden = !wrapping;
  if (wrapping) {
    const tick = () => {
      const left = Math.max(0, Math.ceil(session.wrapup_s - (Date.now() - Date.parse(agentInfo.since)) / 1000));
      $('#wrapup').textContent = t('wrapupLeft', { s: left });
    };
    tick();
    wrapTimer = setInterval(tick, 1000);
  }
}

async function agentOp(op, body) {
  try {
    agentInfo = await api('POST', `/api/v1/agents/${encodeURIComponent(session.user)}/${op}`, body);
    renderState();
  } catch (e) { fail(e); }
}

$('#btn-login').addEventListener('click', () => agentOp('login'));
$('#btn-ready').addEventListener('click', () => agentOp('ready'));
$('#btn-ready-now').addEventListener('click', () => agentOp('ready'));
$('#btn-pause').addEventListener('click', () => agentOp('pause', { reason: $('#pause-reason').value }));
$('#btn-logout').addEventListener('click', () => agentOp('logout'));

// The wallboard's TV mode: Alt+W toggles it, Escape leaves it.
$('#btn-tv').addEventListener('click', () => setTV(!tvOn()));
document.addEventListener('keydown', (ev) => {
  if (!session || isAgent()) return;
  if (ev.altKey && (ev.key === 'w' || ev.key === 'W' || ev.code === 'KeyW')) { ev.preventDefault(); setTV(!tvOn()); }
  if (ev.key === 'Escape' && tvOn()) setTV(false);
});
document.addEventListener('fullscreenchange', () => { if (!document.fullscreenElement && tvOn()) setTV(false); });

document.addEventListener('keydown', (ev) => {
  if (!ev.altKey || !isAgent()) return;
  const b = { '1': '#btn-login', '2': '#btn-ready', '3': '#btn-pause', '4': '#btn-logout' }[ev.key];
  if (b) { ev.preventDefault(); $(b).click(); }
});

async function refreshToday() {
  if (!isAgent()) return;
  try {
    const f = await api('GET', `/desk/api/agents/${encodeURIComponent(session.user)}/today`);
    const dl = $('#today');
    clear(dl);
    const add = (k, v) => {
      const dt = document.createElement('dt'); dt.textContent = t(k);
      const dd = document.createElement('dd'); dd.textContent = v; dd.id = 'today-' + k;
      dl.append(dt, dd);
    };
    add('answered', f.answered);
    add('aht', f.aht_s ? f.aht_s.toFixed(0) : '—');
    add('missed', f.missed_rings);
    add('escalated', f.escalations);
    const d = f.dispositions || {};
    add('fcr', f.fcr === undefined ? '—'
      : `${Math.round(f.fcr * 100)}% (${d.resolved || 0}/${(d.resolved || 0) + (d.not_resolved || 0) + (d.escalated || 0)})`);
    add('csi', f.csi === undefined ? '—' : `${f.csi.toFixed(1)} (${f.csi_ratings})`);
  } catch (e) { fail(e); }
}

async function refreshTeam() {
  const body = $('#team tbody');
  clear(body);
  for (const id of session.agents || []) {
    const tr = document.createElement('tr');
    tr.id = 'team-' + id;
    const a = document.createElement('td'); a.textContent = id;
    const s = document.createElement('td');
    try { s.textContent = stateName((await api('GET', `/api/v1/agents/${encodeURIComponent(id)}`)).state); } catch (e) { s.textContent = '?'; }
    tr.append(a, s);
    body.append(tr);
  }
}

// ---- the caller's card ----

async function pop(callID) {
  const first = !popped.has(callID);
  popped.add(callID);
  currentCall = callID;
  await loadCard();
  if (first) {
    status(t('ringing'));
    if (document.activeElement === document.body) $('#card').focus();
  }
}

async function loadCard() {
  if (!currentCall) return;
  try {
    renderCard(await api('GET', `/desk/api/calls/${encodeURIComponent(currentCall)}/card`));
  } catch (e) { fail(e); }
}

function li(list, text) {
  const el = document.createElement('li');
  el.textContent = text;
  list.append(el);
}

function renderCard(c) {
  $('#card').hidden = false;
  $('#card').dataset.call = c.call_id;
  $('#card').dataset.state = c.state;
  $('#card-caller').textContent = c.caller;
  $('#card-lang').textContent = c.language || '—';
  $('#card-queue').textContent = c.queue || '—';
  $('#card-waited').textContent = `${Math.round(c.waited_s)} ${t('seconds')}`;
  $('#card-path').textContent = c.ivr_path.join(' → ') || '—';
  $('#card-digits').textContent = c.digits.map((d) => `${d.node}: ${d.digits}`).join(', ') +
    Object.entries(c.collected || {}).map(([k, v]) => ` ${k}=${v}`).join('') || '—';
  const esc = $('#card-escalations');
  clear(esc);
  for (const e of c.escalations) {
    li(esc, `${new Date(e.at).toLocaleString(language())} ${e.from_queue} → ${e.to_queue}, ${t('from')} ${e.from_agent}` +
      (e.reason ? `: ${e.reason}` : '') + (e.notes ? ` — «${e.notes}»` : ''));
  }
  const out = $('#card-outcomes');
  clear(out);
  for (const o of c.outcomes) {
    li(out, `${o.agent}: ${result(o.result)}${o.category ? ' / ' + o.category : ''}${o.notes ? ' — «' + o.notes + '»' : ''}`);
  }
  const body = $('#card-history tbody');
  clear(body);
  for (const h of c.history) {
    const tr = document.createElement('tr');
    tr.dataset.outcome = h.outcome;
    tr.dataset.call = h.call_id;
    for (const v of [new Date(h.at).toLocaleString(language()), h.agent || '—', result(h.outcome) + (h.category ? ' / ' + h.category : ''),
      h.escalations ? `${h.escalations} → ${h.escalated_to}` : '0', h.csi || '—']) {
      const td = document.createElement('td'); td.textContent = v; tr.append(td);
    }
    body.append(tr);
  }
  $('#card-history-none').hidden = c.history.length > 0;
  if (c.history_note) $('#card-history-none').textContent = c.history_note;
  renderFollowup(c);
}

initFollowup({ api, fail, status, session: () => session, call: () => currentCall, reload: () => loadCard() });

$('#outcome-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await api('POST', `/api/v1/calls/${encodeURIComponent(currentCall)}/disposition`, {
      result: $('#outcome-resolved').value, code: $('#outcome-category').value, notes: $('#outcome-notes').value });
    $('#outcome-notes').value = '';
    status(t('saved'));
    await loadCard();
    await refreshToday();
  } catch (e) { fail(e); }
});

$('#escalate-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  try {
    await api('POST', `/api/v1/calls/${encodeURIComponent(currentCall)}/escalate`, {
      reason: $('#esc-reason').value, notes: $('#esc-notes').value });
    $('#esc-notes').value = '';
    status(t('escalatedOk'));
    await loadCard();
  } catch (e) { fail(e); }
});

// ---- the live stream ----

function connect() {
  if (stream) stream.close();
  // The browser's own reconnections send Last-Event-ID; a new EventSource
  // (after the server closed the stream) names the last event in the URL.
  const url = '/desk/api/events' + (lastId ? `?last_event_id=${encodeURIComponent(lastId)}` : '');
  stream = new EventSource(url);
  stream.onopen = () => status(t('live'));
  stream.onerror = () => {
    status(t('reconnecting'), true);
    if (stream.readyState === EventSource.CLOSED) {
      // Closed for good (e.g. the session ended): check, then reopen.
      setTimeout(async () => {
        try { await api('GET', '/desk/api/session'); connect(); } catch (e) { fail(e); }
      }, 1000);
    }
  };
  stream.onmessage = (msg) => {
    if (!msg.lastEventId || seen.has(msg.lastEventId)) return;
    seen.add(msg.lastEventId);
    lastId = msg.lastEventId;
    handle(JSON.parse(msg.data));
  };
}

function handle(ev) {
  boardEvent(api, ev);
  monitorEvent(ev);
  const mine = session && ev.agent === session.user;
  switch (ev.type) {
    case 'agent.offered':
      if (mine) pop(ev.call_id);
      break;
    case 'agent.state':
      if (mine) refreshAgent();
      if (session.role === 'supervisor') {
        const row = document.getElementById('team-' + ev.agent);
        if (row) row.lastChild.textContent = stateName(ev.data && ev.data.to);
      }
      break;
    case 'call.completed':
    case 'agent.wrapup_ended':
      if (mine) refreshToday();
      break;
    case 'callback.requested':
    case 'callback.result':
      if (isAgent()) refreshCallbacks();
      break;
    default:
  }
  if (ev.call_id && ev.call_id === currentCall) loadCard();
}

// ---- start ----

$('#lang').addEventListener('change', () => {
  localStorage.setItem('hotline.lang', $('#lang').value);
  setLanguage($('#lang').value);
  renderState();
  refreshToday();
  refreshCallbacks();
  loadCard();
  renderBoard();
  if (session && !isAgent()) refreshReview();
  renderLive();
});

(async () => {
  let s = null;
  try { s = await api('GET', '/desk/api/session'); } catch (e) { s = null; }
  const lang = localStorage.getItem('hotline.lang') || (s && s.language) || 'ru';
  $('#lang').value = lang;
  setLanguage(lang);
  if (s) { session = s; start(); } else { showLogin(); }
})();
