// Live calls for supervisors and admins: listen, whisper or barge into a
// call (docs/desk.md, "Monitoring"). The audio is the supervisor's own SIP
// user: "in the browser" (the softphone of this page, which answers the
// monitor call by itself) or "on the phone" (the desk phone rings).
// POST /api/v1/calls/{id}/monitor rings it; PATCH switches the mode;
// DELETE leaves (hotline hangs up the supervisor's leg only). The list
// comes from /desk/api/live and follows the events.
import { t } from './i18n.js';
import { expectMonitor, softphoneReady } from './softphone.js';

const $ = (sel) => document.querySelector(sel);
let api = null;
let me = '';
let current = null; // {call_id, mode} while this user monitors a call
let timer = 0;

export function startMonitor(apiFn, user) {
  api = apiFn;
  me = user;
  $('#live-panel').hidden = false;
  refresh();
}

// audio is where the supervisor hears the call: the browser when its
// softphone is registered and the user did not pick the phone.
function audio() {
  const sel = $('#mon-audio');
  if (!sel.dataset.touched) sel.value = softphoneReady() ? 'browser' : 'phone';
  return sel.value;
}
$('#mon-audio').addEventListener('change', () => { $('#mon-audio').dataset.touched = '1'; });

export function stopMonitor() {
  current = null;
  $('#live-panel').hidden = true;
}

// monitorEvent refreshes the list when calls or monitors change.
export function monitorEvent(ev) {
  if (!api) return;
  if (ev.type === 'monitor.ended' && ev.data && ev.data.supervisor === me && current && ev.call_id === current.call_id) {
    current = null;
  }
  if (['agent.state', 'queue.answered', 'call.completed', 'monitor.started', 'monitor.mode', 'monitor.followed', 'monitor.ended'].includes(ev.type)) {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  }
}

function say(msg, error = false) {
  const el = $('#live-status');
  el.textContent = msg;
  el.classList.toggle('error', error);
}

export async function refresh() {
  if (!api) return;
  let calls = [];
  try { calls = await api('GET', '/desk/api/live'); } catch (e) { say(e.message, true); return; }
  // A monitored call missing from the list is between two agents (the
  // monitor follows it across an escalation): current stays until
  // monitor.ended says otherwise.
  const body = $('#live tbody');
  while (body.firstChild) body.removeChild(body.firstChild);
  for (const c of calls) {
    const tr = document.createElement('tr');
    tr.dataset.call = c.call_id;
    const mine = current && current.call_id === c.call_id;
    if (mine) tr.dataset.mode = current.mode;
    const cell = (text) => { const td = document.createElement('td'); td.textContent = text; tr.append(td); return td; };
    cell(c.name ? `${c.name} (${c.agent})` : c.agent);
    cell((c.queues || []).join(', '));
    cell(new Date(c.since).toLocaleTimeString());
    const acts = cell('');
    for (const mode of ['listen', 'whisper', 'barge']) {
      const b = document.createElement('button');
      b.textContent = t('mon_' + mode);
      b.className = 'mon-' + mode;
      b.setAttribute('aria-pressed', String(Boolean(mine && current.mode === mode)));
      b.disabled = Boolean(current && !mine);
      b.addEventListener('click', () => (mine ? setMode(c.call_id, mode) : join(c.call_id, mode)));
      acts.append(b);
    }
    if (mine) {
      const b = document.createElement('button');
      b.textContent = t('mon_leave');
      b.className = 'mon-leave';
      b.addEventListener('click', () => leave(c.call_id));
      acts.append(b);
    }
    body.append(tr);
  }
  $('#live-none').hidden = calls.length > 0;
}

const url = (id) => `/api/v1/calls/${encodeURIComponent(id)}/monitor`;

async function join(id, mode) {
  const where = audio();
  say(t(where === 'browser' ? 'mon_connecting' : 'mon_ringing'));
  const done = where === 'browser' ? expectMonitor() : () => {};
  try {
    await api('POST', url(id), { mode, audio: where });
    current = { call_id: id, mode };
    say(t('mon_on', { mode: t('mon_' + mode) }));
  } catch (e) { say(e.message, true); }
  done();
  refresh();
}

async function setMode(id, mode) {
  try {
    await api('PATCH', url(id), { mode });
    current = { call_id: id, mode };
    say(t('mon_on', { mode: t('mon_' + mode) }));
  } catch (e) { say(e.message, true); }
  refresh();
}

async function leave(id) {
  try {
    await api('DELETE', url(id), {});
    current = null;
    say(t('mon_left'));
  } catch (e) { say(e.message, true); }
  refresh();
}
