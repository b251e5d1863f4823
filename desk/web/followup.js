// Warm escalation (consult second line, then transfer or return to the
// caller) and callbacks scheduled from the card, with the agent's list of
// them. app.js calls initFollowup once, renderFollowup with every card and
// refreshCallbacks when the list may have changed.
import { t, language } from './i18n.js';

const $ = (sel) => document.querySelector(sel);
let ctx = null; // {api, fail, status, session: () => session, call: () => currentCall, reload: () => loadCard()}

function clear(el) { while (el.firstChild) el.removeChild(el.firstChild); }
const when = (iso) => new Date(iso).toLocaleString(language());

// The datetime-local value for d in the browser's zone.
function localValue(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

async function consultOp(path, body, done) {
  const call = ctx.call();
  try {
    await ctx.api('POST', `/api/v1/calls/${encodeURIComponent(call)}/${path}`, body);
    if (path === 'consult') $('#esc-notes').value = '';
    if (done) ctx.status(t(done));
    await ctx.reload();
  } catch (e) { ctx.fail(e); }
}

export function initFollowup(c) {
  ctx = c;
  $('#btn-consult').addEventListener('click', () => consultOp('consult',
    { reason: $('#esc-reason').value, notes: $('#esc-notes').value }, 'consultStarted'));
  $('#btn-consult-complete').addEventListener('click', () => consultOp('consult/complete', {}, 'consultCompleted'));
  $('#btn-consult-cancel').addEventListener('click', () => consultOp('consult/cancel', {}, 'consultReturned'));
  $('#callback-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const v = $('#cb-at').value;
    if (!v) { ctx.status(t('cbWhen'), true); return; }
    try {
      await ctx.api('POST', `/desk/api/calls/${encodeURIComponent(ctx.call())}/callback`,
        { at: new Date(v).toISOString(), notes: $('#cb-notes').value });
      $('#cb-notes').value = '';
      ctx.status(t('cbScheduled'));
      await ctx.reload();
      await refreshCallbacks();
    } catch (e) { ctx.fail(e); }
  });
}

// renderFollowup shows the consultation and the scheduled callbacks of card c.
export function renderFollowup(c) {
  const s = ctx.session();
  const k = c.consult;
  const box = $('#consult');
  box.hidden = !k;
  if (k) {
    box.dataset.state = k.state;
    $('#consult-text').textContent = `${t('consultWith')} ${k.to_queue}${k.agent ? ' (' + k.agent + ')' : ''}: ` +
      `${t('cs_' + k.state)}; ${t('from')} ${k.from_agent}` + (k.reason ? `: ${k.reason}` : '') + (k.notes ? ` — «${k.notes}»` : '');
    const mine = s && s.user === k.from_agent && ['waiting', 'ringing', 'talking'].includes(k.state);
    $('#btn-consult-complete').hidden = !mine;
    $('#btn-consult-complete').disabled = k.state !== 'talking';
    $('#btn-consult-cancel').hidden = !mine;
  }
  // No second consultation while one is under way.
  $('#btn-consult').disabled = !!k && ['waiting', 'ringing', 'talking'].includes(k.state);
  const list = $('#card-callbacks');
  clear(list);
  for (const cb of c.callbacks || []) {
    const li = document.createElement('li');
    li.dataset.call = cb.call_id;
    li.textContent = `${when(cb.due)}, ${cb.queue}, ${cb.agent}` + (cb.notes ? ` — «${cb.notes}»` : '');
    list.append(li);
  }
  if (!$('#cb-at').value) $('#cb-at').value = localValue(new Date(Date.now() + 3600e3));
}

// refreshCallbacks reads the agent's own callbacks.
export async function refreshCallbacks() {
  const s = ctx && ctx.session();
  if (!s || s.role !== 'agent') return;
  try {
    const r = await ctx.api('GET', `/desk/api/agents/${encodeURIComponent(s.user)}/callbacks`);
    const body = $('#my-callbacks tbody');
    clear(body);
    for (const cb of r.callbacks) {
      const tr = document.createElement('tr');
      tr.dataset.call = cb.call_id;
      tr.dataset.state = cb.state;
      for (const v of [when(cb.due), cb.caller || '—', cb.queue, t('cb_' + cb.state) + (cb.outcome ? ` (${cb.outcome})` : ''), cb.notes || '']) {
        const td = document.createElement('td'); td.textContent = v; tr.append(td);
      }
      body.append(tr);
    }
    $('#my-callbacks-none').hidden = r.callbacks.length > 0;
  } catch (e) { ctx.fail(e); }
}
