// The supervisors' wallboard: plain ES module. Every figure comes from
// GET /desk/api/wallboard, which reads them from /metrics (reporting.Metrics)
// and today's reports (the store); this page only formats them (rounding
// a ratio to a whole percent) and counts the seconds an agent has been in
// their state since the queue said so. No formula lives here.
import { t, stateName, language } from './i18n.js';

const $ = (sel) => document.querySelector(sel);
const STATES = ['available', 'ringing', 'on_call', 'wrapup', 'paused', 'logged_out'];
let board = null;   // the last answer
let pending = 0;    // debounce timer of a refresh asked for by an event
let every = 0;      // periodic refresh (waits and the real-time SL grow with the clock)
let tick = 0;       // time-in-state ticker
let running = false;

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }

// value of a reporting.Ratio ({num, den, value}) or a plain number/null.
function val(r) {
  if (r === null || r === undefined) return null;
  if (typeof r === 'object') return r.value;
  return r;
}
export function pct(r) { const v = val(r); return v === null || v === undefined ? '—' : `${Math.round(v * 100)} %`; }
// seconds: one decimal under 10 s, whole seconds above.
export function secs(r) {
  const v = val(r);
  if (v === null || v === undefined) return '—';
  return `${v < 10 ? Math.round(v * 10) / 10 : Math.round(v)} ${t('seconds')}`;
}
function score(r) { const v = val(r); return v === null || v === undefined ? '—' : String(Math.round(v)); }
function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  const two = (n) => String(n).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(r)}` : `${m}:${two(r)}`;
}

function cell(tr, id, text, raw) {
  const td = document.createElement('td');
  td.id = id;
  td.textContent = text;
  if (raw !== undefined) td.dataset.value = raw === null || raw === undefined ? '' : String(raw);
  tr.append(td);
  return td;
}

export async function refreshBoard(api) {
  try {
    board = await api('GET', '/desk/api/wallboard');
    render();
  } catch (e) {
    $('#wb-error').hidden = false;
    $('#wb-error').textContent = e.message;
  }
}

export function render() {
  if (!board) return;
  const body = $('#wb-queues tbody');
  clear(body);
  const states = $('#wb-states tbody');
  clear(states);
  for (const q of board.queues) {
    const tr = document.createElement('tr');
    tr.id = 'wb-q-' + q.queue;
    tr.dataset.queue = q.queue;
    tr.classList.toggle('past-target', q.past_target);
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = q.queue;
    if (q.past_target) {
      const warn = document.createElement('span');
      warn.className = 'badge';
      warn.textContent = t('pastTarget');
      name.append(' ', warn);
    }
    tr.append(name);
    const d = q.today || {};
    const sl = d.service_level || {};
    const id = (f) => `wb-${q.queue}-${f}`;
    cell(tr, id('waiting'), String(q.waiting), q.waiting);
    cell(tr, id('longest'), secs(q.longest_wait_s), q.longest_wait_s);
    cell(tr, id('sl-now'), pct(q.sl_now), q.sl_now);
    cell(tr, id('sl-today'), pct(sl.offered), val(sl.offered));
    cell(tr, id('target'), pct(q.target), q.target);
    cell(tr, id('asa'), secs(d.asa_s), val(d.asa_s));
    cell(tr, id('offered'), String(d.offered ?? 0), d.offered ?? 0);
    cell(tr, id('answered'), String(d.answered ?? 0), d.answered ?? 0);
    cell(tr, id('abandoned'), String(d.abandoned ?? 0), d.abandoned ?? 0);
    cell(tr, id('escalated'), String(d.escalated ?? 0), d.escalated ?? 0);
    cell(tr, id('csi'), q.csi ? score(q.csi.score) : '—', q.csi ? val(q.csi.score) : null);
    body.append(tr);
    const sr = document.createElement('tr');
    const sn = document.createElement('th');
    sn.scope = 'row';
    sn.textContent = q.queue;
    sr.append(sn);
    for (const s of STATES) cell(sr, id('agents-' + s), String(q.agents[s] ?? 0), q.agents[s] ?? 0);
    states.append(sr);
  }
  $('#wb-none').hidden = board.queues.length > 0;

  const ab = $('#wb-agents tbody');
  clear(ab);
  for (const a of board.agents) {
    const tr = document.createElement('tr');
    tr.id = 'wb-a-' + a.id;
    tr.dataset.state = a.state;
    const name = document.createElement('th');
    name.scope = 'row';
    name.textContent = a.name ? `${a.name} (${a.id})` : a.id;
    tr.append(name);
    cell(tr, `wb-${a.id}-team`, a.team || '—');
    cell(tr, `wb-${a.id}-state`, stateName(a.state)).dataset.state = a.state;
    const since = cell(tr, `wb-${a.id}-since`, '');
    since.dataset.since = a.since;
    since.className = 'since';
    cell(tr, `wb-${a.id}-reason`, a.reason || '—');
    ab.append(tr);
  }
  ticking();

  const fcr = $('#wb-fcr');
  clear(fcr);
  for (const f of board.fcr) {
    const line = f.line || 'all';
    const add = (k, v, raw) => {
      const dt = document.createElement('dt'); dt.textContent = `${t('fcrLine_' + line)} — ${t(k)}`;
      const dd = document.createElement('dd'); dd.textContent = v; dd.id = `wb-fcr-${line}-${k}`;
      dd.dataset.value = raw === null || raw === undefined ? '' : String(raw);
      fcr.append(dt, dd);
    };
    add('fcrDisposition', `${pct(f.disposition.ratio)} (${f.disposition.resolved}/${f.disposition.covered})`, val(f.disposition.ratio));
    add('fcrCombined', pct(f.combined.ratio), val(f.combined.ratio));
  }
  $('#wb-fcr-none').hidden = board.fcr.length > 0;
  const esc = $('#wb-escalations');
  clear(esc);
  if (board.escalations) {
    const e = board.escalations;
    for (const [k, v, raw] of [['escalated', String(e.escalated), e.escalated], ['escRate', pct(e.rate), val(e.rate)],
      ['secondReached', String(e.second_line_reached), e.second_line_reached]]) {
      const dt = document.createElement('dt'); dt.textContent = t(k);
      const dd = document.createElement('dd'); dd.textContent = v; dd.id = 'wb-esc-' + k;
      dd.dataset.value = raw === null || raw === undefined ? '' : String(raw);
      esc.append(dt, dd);
    }
  }
  $('#wb-error').hidden = !(board.errors && board.errors.length);
  $('#wb-error').textContent = (board.errors || []).join('; ');
  $('#wb-at').textContent = new Date(board.at).toLocaleTimeString(language());
  $('#wallboard').dataset.at = board.at;
}

// ticking shows each agent's time in state: now − the queue's "since".
function ticking() {
  const show = () => {
    for (const el of document.querySelectorAll('#wb-agents .since')) {
      el.textContent = clock(Date.now() - Date.parse(el.dataset.since));
    }
  };
  show();
  if (!tick) tick = setInterval(show, 1000);
}

// Events that change a figure on the board: refresh (at most once a second).
const relevant = /^(queue|agent|call|survey|escalation|consult|callback)\./;

export function boardEvent(api, ev) {
  if (!running || !relevant.test(ev.type)) return;
  if (pending) return;
  pending = setTimeout(() => { pending = 0; refreshBoard(api); }, 1000);
}

export function startBoard(api) {
  running = true;
  $('#wallboard').hidden = false;
  refreshBoard(api);
  // Waits and the real-time SL change with the clock, not only with events;
  // today's reports are read from the store, which the writer fills a
  // moment after the event.
  if (!every) every = setInterval(() => refreshBoard(api), 5000);
}

export function stopBoard() {
  running = false;
  clearInterval(every); every = 0;
  clearInterval(tick); tick = 0;
  board = null;
  $('#wallboard').hidden = true;
  setTV(false);
}

// ---- TV mode: the board alone, large, full screen when the browser allows ----

export function setTV(on) {
  document.body.classList.toggle('tv', on);
  $('#btn-tv').setAttribute('aria-pressed', String(on));
  if (on && document.fullscreenEnabled && !document.fullscreenElement) {
    document.documentElement.requestFullscreen().catch(() => { /* the class alone is enough */ });
  } else if (!on && document.fullscreenElement) {
    document.exitFullscreen().catch(() => {});
  }
  if (on) $('#wallboard').focus();
}

export function tvOn() { return document.body.classList.contains('tv'); }
