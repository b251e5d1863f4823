// hotline desk softphone: plain ES module, no library. It speaks SIP over
// WebSocket (RFC 7118) on the desk's own origin (/desk/sip; the desk
// session binds the socket to this agent, so there is no SIP password in
// the page) and WebRTC (DTLS-SRTP, ICE, G.711) for the audio. The switch
// rings it like any phone: register, ring, answer, hang up, mute, hold
// (re-INVITE sendonly), DTMF (RFC 4733 through RTCRtpSender.dtmf).
import { t, addWords } from './i18n.js';

addWords({
  ru: {
    sp_h: 'Телефон в браузере', sp_unavailable: 'Телефон в браузере недоступен',
    sp_asterisk: 'Телефон в браузере недоступен: звонки ведёт Asterisk (см. docs/asterisk.md), используйте SIP-телефон',
    sp_connecting: 'Подключение…', sp_registered: 'Готов принимать звонки', sp_offline: 'Нет связи с сервером, переподключение…',
    sp_ringing: 'Входящий звонок', sp_incall: 'Разговор', sp_onhold: 'На удержании', sp_ended: 'Звонок завершён',
    sp_answer: 'Ответить', sp_hangup: 'Положить трубку', sp_mute: 'Микрофон выкл.', sp_unmute: 'Микрофон вкл.',
    sp_hold: 'Удержание', sp_resume: 'Снять с удержания', sp_keypad: 'Тоновый набор',
    sp_mic_denied: 'Нет доступа к микрофону: разрешите его для этой страницы в настройках браузера и ответьте снова',
    sp_mic_missing: 'Микрофон не найден: подключите гарнитуру',
    sp_media_failed: 'Не удалось установить голосовое соединение',
  },
  en: {
    sp_h: 'Browser phone', sp_unavailable: 'The browser phone is unavailable',
    sp_asterisk: 'The browser phone is unavailable: Asterisk handles the calls (see docs/asterisk.md); use a SIP phone',
    sp_connecting: 'Connecting…', sp_registered: 'Ready for calls', sp_offline: 'No connection to the server, reconnecting…',
    sp_ringing: 'Incoming call', sp_incall: 'In call', sp_onhold: 'On hold', sp_ended: 'Call ended',
    sp_answer: 'Answer', sp_hangup: 'Hang up', sp_mute: 'Mute', sp_unmute: 'Unmute',
    sp_hold: 'Hold', sp_resume: 'Resume', sp_keypad: 'Keypad',
    sp_mic_denied: 'No microphone access: allow it for this page in the browser settings and answer again',
    sp_mic_missing: 'No microphone found: plug in a headset',
    sp_media_failed: 'The voice connection could not be set up',
  },
});

const $ = (sel) => document.querySelector(sel);
const rnd = (n = 10) => Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => (b % 36).toString(36)).join('');

let info = null;     // /desk/api/softphone
let ws = null;
let stopped = true;
let regTimer = 0;
let retryTimer = 0;
let regCSeq = 0;
const regCallId = rnd(16);
const instance = rnd(8) + '.invalid';
let call = null;     // the one call: {invite, localTag, state, pc, mic, cseq, pending}
let monitorWanted = false; // the supervisor asked to monitor in the browser (monitor.js)

// ---- the panel ----

function panel() {
  let el = $('#softphone');
  if (el.dataset.built) return el;
  el.dataset.built = '1';
  el.innerHTML = `
    <h2 id="sp-h" data-t="sp_h"></h2>
    <p id="sp-status" role="status" aria-live="assertive"></p>
    <p id="sp-error" class="error" role="alert" hidden></p>
    <p id="sp-peer"></p>
    <div class="row">
      <button id="sp-answer" data-t="sp_answer" title="Alt+A" hidden></button>
      <button id="sp-hangup" data-t="sp_hangup" title="Alt+H" hidden></button>
      <button id="sp-mute" aria-pressed="false" title="Alt+M" hidden></button>
      <button id="sp-hold" aria-pressed="false" title="Alt+O" hidden></button>
    </div>
    <div id="sp-keypad" role="group" aria-labelledby="sp-keypad-h" hidden>
      <span id="sp-keypad-h" data-t="sp_keypad"></span>
      ${'123456789*0#'.split('').map((d) => `<button class="sp-key" data-digit="${d}">${d}</button>`).join('')}
    </div>
    <audio id="sp-audio" autoplay></audio>`;
  for (const w of el.querySelectorAll('[data-t]')) w.textContent = t(w.dataset.t);
  $('#sp-answer').addEventListener('click', answer);
  $('#sp-hangup').addEventListener('click', hangup);
  $('#sp-mute').addEventListener('click', toggleMute);
  $('#sp-hold').addEventListener('click', toggleHold);
  for (const b of el.querySelectorAll('.sp-key')) b.addEventListener('click', () => dtmf(b.dataset.digit));
  document.addEventListener('keydown', (ev) => {
    if (!ev.altKey || el.hidden) return;
    const k = ev.key.toLowerCase();
    if (k === 'a' && call && call.state === 'ringing') { ev.preventDefault(); answer(); }
    if (k === 'h' && call) { ev.preventDefault(); hangup(); }
    if (k === 'm' && call && call.state === 'incall') { ev.preventDefault(); toggleMute(); }
    if (k === 'o' && call && call.state === 'incall') { ev.preventDefault(); toggleHold(); }
  });
  return el;
}

function say(key, state) {
  const el = panel();
  const s = $('#sp-status');
  s.dataset.t = key;
  s.textContent = t(key);
  if (state) el.dataset.state = state;
}

function error(key) {
  const e = $('#sp-error');
  if (!key) { e.hidden = true; delete e.dataset.t; e.textContent = ''; return; }
  e.dataset.t = key;
  e.textContent = t(key);
  e.hidden = false;
}

function render() {
  const el = panel();
  const st = call ? call.state : '';
  $('#sp-answer').hidden = st !== 'ringing';
  $('#sp-hangup').hidden = !call;
  $('#sp-mute').hidden = st !== 'incall';
  $('#sp-hold').hidden = st !== 'incall';
  $('#sp-keypad').hidden = st !== 'incall';
  const muted = !!(call && call.muted);
  $('#sp-mute').dataset.t = muted ? 'sp_unmute' : 'sp_mute';
  $('#sp-mute').textContent = t($('#sp-mute').dataset.t);
  $('#sp-mute').setAttribute('aria-pressed', String(muted));
  const held = !!(call && call.held);
  $('#sp-hold').dataset.t = held ? 'sp_resume' : 'sp_hold';
  $('#sp-hold').textContent = t($('#sp-hold').dataset.t);
  $('#sp-hold').setAttribute('aria-pressed', String(held));
  $('#sp-peer').textContent = call ? peerName(call.invite) : '';
  el.classList.toggle('sp-ringing', st === 'ringing');
}

// ---- monitoring (monitor.js) ----

// softphoneReady: registered and free for a call.
export function softphoneReady() {
  const el = $('#softphone');
  return Boolean(ws && el && el.dataset.state === 'registered' && !call);
}

// expectMonitor: the supervisor pressed Listen, Whisper or Barge with the
// audio in the browser; hotline's INVITE for it (X-Hotline-Monitor) is
// answered without a click. It returns what to call once the request is
// over (answered or failed).
export function expectMonitor() {
  monitorWanted = true;
  return () => { monitorWanted = false; };
}

// ---- start and stop (app.js) ----

export async function startSoftphone(api) {
  const el = panel();
  el.hidden = false;
  stopped = false;
  try { info = await api('GET', '/desk/api/softphone'); } catch (e) { info = null; }
  if (!info || !info.available) {
    say(info && info.reason === 'asterisk' ? 'sp_asterisk' : 'sp_unavailable', 'unavailable');
    render();
    return;
  }
  connect();
  render();
}

export function stopSoftphone() {
  stopped = true;
  clearTimeout(regTimer);
  clearTimeout(retryTimer);
  endCall();
  if (ws) { ws.close(); ws = null; }
  const el = $('#softphone');
  if (el) el.hidden = true;
}

// ---- SIP over WebSocket ----

function connect() {
  say('sp_connecting', 'connecting');
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  const sock = new WebSocket(`${proto}//${location.host}${info.path}`, 'sip');
  ws = sock;
  sock.onopen = () => register();
  sock.onmessage = (ev) => { if (typeof ev.data === 'string') receive(ev.data); };
  sock.onclose = () => {
    if (ws !== sock) return;
    ws = null;
    clearTimeout(regTimer);
    endCall();
    if (stopped) return;
    say('sp_offline', 'offline');
    retryTimer = setTimeout(connect, 3000);
  };
}

function send(text) { if (ws && ws.readyState === WebSocket.OPEN) ws.send(text); }

const aor = () => `sip:${info.user}@${info.domain}`;
const contact = () => `<sip:${info.user}@${instance};transport=ws>`;
const via = () => `SIP/2.0/WS ${instance};branch=z9hG4bK${rnd(12)}`;

function register() {
  regCSeq += 1;
  send([`REGISTER sip:${info.domain} SIP/2.0`, `Via: ${via()}`, 'Max-Forwards: 70',
    `From: <${aor()}>;tag=${rnd(8)}`, `To: <${aor()}>`, `Call-ID: ${regCallId}`, `CSeq: ${regCSeq} REGISTER`,
    `Contact: ${contact()};expires=300`, 'Expires: 300', 'User-Agent: hotline-desk', 'Content-Length: 0', '', ''].join('\r\n'));
}

// parse reads a SIP message: start line, headers (compact names expanded,
// in order), body.
const compact = { v: 'via', f: 'from', t: 'to', i: 'call-id', m: 'contact', l: 'content-length', c: 'content-type' };
function parse(text) {
  const cut = text.indexOf('\r\n\r\n');
  const head = cut < 0 ? text : text.slice(0, cut);
  const body = cut < 0 ? '' : text.slice(cut + 4);
  const lines = head.split('\r\n');
  const msg = { start: lines[0], headers: [], body };
  for (const ln of lines.slice(1)) {
    const i = ln.indexOf(':');
    if (i < 0) continue;
    let name = ln.slice(0, i).trim().toLowerCase();
    name = compact[name] || name;
    msg.headers.push([name, ln.slice(i + 1).trim()]);
  }
  const m = /^SIP\/2\.0 (\d{3})/.exec(msg.start);
  if (m) msg.status = Number(m[1]);
  else msg.method = msg.start.split(' ')[0];
  return msg;
}
const hdr = (msg, name) => (msg.headers.find(([n]) => n === name) || [])[1] || '';
const hdrs = (msg, name) => msg.headers.filter(([n]) => n === name).map(([, v]) => v);
const tagOf = (v) => (/;\s*tag=([^;>\s]+)/i.exec(v) || [])[1] || '';
const uriOf = (v) => { const m = /<([^>]+)>/.exec(v); return m ? m[1] : v.split(';')[0].trim(); };

function peerName(invite) {
  const from = hdr(invite, 'from');
  const name = (/^\s*"([^"]*)"/.exec(from) || [])[1];
  const user = (/sip:([^@;>]+)/.exec(uriOf(from)) || [])[1] || '';
  return name ? `${name} (${user})` : user;
}

function respond(req, code, reason, extra = [], body = '', toTag = '') {
  const lines = [`SIP/2.0 ${code} ${reason}`];
  for (const v of hdrs(req, 'via')) lines.push(`Via: ${v}`);
  lines.push(`From: ${hdr(req, 'from')}`);
  let to = hdr(req, 'to');
  if (toTag && !tagOf(to)) to += `;tag=${toTag}`;
  lines.push(`To: ${to}`, `Call-ID: ${hdr(req, 'call-id')}`, `CSeq: ${hdr(req, 'cseq')}`, ...extra);
  if (body) lines.push('Content-Type: application/sdp');
  lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`, '', body);
  send(lines.join('\r\n'));
}

function receive(text) {
  if (!text.trim()) return; // keep-alive
  const msg = parse(text);
  if (msg.status) { response(msg); return; }
  const inCall = call && hdr(msg, 'call-id') === hdr(call.invite, 'call-id');
  switch (msg.method) {
    case 'INVITE':
      if (inCall) { respond(msg, 491, 'Request Pending', [], '', call.localTag); return; } // hotline sends no re-INVITE
      if (call) { respond(msg, 486, 'Busy Here', [], '', rnd(8)); return; }
      incoming(msg);
      return;
    case 'ACK': return;
    case 'CANCEL':
      respond(msg, 200, 'OK');
      if (inCall && call.state === 'ringing') {
        respond(call.invite, 487, 'Request Terminated', [], '', call.localTag);
        endCall('sp_ended');
      }
      return;
    case 'BYE':
      respond(msg, inCall ? 200 : 481, inCall ? 'OK' : 'Call/Transaction Does Not Exist');
      if (inCall) endCall('sp_ended');
      return;
    case 'OPTIONS': respond(msg, 200, 'OK', ['Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY']); return;
    case 'NOTIFY': respond(msg, 200, 'OK'); return;
    default: respond(msg, 405, 'Method Not Allowed', ['Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY']);
  }
}

function response(res) {
  const [, method] = hdr(res, 'cseq').split(/\s+/);
  if (method === 'REGISTER') {
    if (res.status === 200) {
      say(call ? (call.state === 'incall' ? 'sp_incall' : 'sp_ringing') : 'sp_registered', call ? undefined : 'registered');
      error('');
      clearTimeout(regTimer);
      regTimer = setTimeout(register, 120000);
    } else if (res.status >= 300) {
      say('sp_unavailable', 'error');
    }
    return;
  }
  if (!call || !call.pending || hdr(res, 'cseq') !== call.pending.cseq) return;
  if (res.status < 200) return;
  const p = call.pending;
  call.pending = null;
  if (method === 'INVITE') {
    inDialog('ACK', '', p.cseqNo);
    if (res.status === 200) p.ok(res); else p.fail(res);
  }
}

// inDialog sends a request in the call's dialog (we are its UAS: our
// From is the INVITE's To with our tag).
function inDialog(method, body = '', cseqNo = 0) {
  if (!call) return '';
  if (!cseqNo) { call.cseq += 1; cseqNo = call.cseq; }
  const inv = call.invite;
  const cseq = `${cseqNo} ${method}`;
  const lines = [`${method} ${uriOf(hdr(inv, 'contact'))} SIP/2.0`, `Via: ${via()}`, 'Max-Forwards: 70',
    `From: ${hdr(inv, 'to').replace(/;\s*tag=[^;>\s]+/i, '')};tag=${call.localTag}`, `To: ${hdr(inv, 'from')}`,
    `Call-ID: ${hdr(inv, 'call-id')}`, `CSeq: ${cseq}`, `Contact: ${contact()}`];
  if (body) lines.push('Content-Type: application/sdp');
  lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`, '', body);
  send(lines.join('\r\n'));
  return cseq;
}

// ---- calls ----

function incoming(invite) {
  if (!/a=fingerprint:/i.test(invite.body)) {
    // Not a WebRTC offer: nothing a browser can answer.
    respond(invite, 488, 'Not Acceptable Here', ['Warning: 399 hotline-desk "a WebRTC offer (DTLS fingerprint) is needed"'], '', rnd(8));
    return;
  }
  call = { invite, localTag: rnd(8), state: 'ringing', cseq: Math.floor(Math.random() * 1000), muted: false, held: false };
  respond(invite, 180, 'Ringing', [`Contact: ${contact()}`], '', call.localTag);
  error('');
  say('sp_ringing', 'ringing');
  render();
  if (monitorWanted && hdr(invite, 'x-hotline-monitor')) {
    // The monitor call this page asked for: answer it at once.
    monitorWanted = false;
    answer();
    return;
  }
  $('#sp-answer').focus();
}

async function answer() {
  if (!call || call.state !== 'ringing') return;
  const c = call;
  c.state = 'answering';
  render();
  ensureAudio();
  try {
    c.mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
  } catch (e) {
    // The call stays ringing: the agent may allow the microphone and
    // answer again (the queue rings someone else at its ring timeout).
    c.state = 'ringing';
    error(e && e.name === 'NotFoundError' ? 'sp_mic_missing' : 'sp_mic_denied');
    render();
    return;
  }
  if (call !== c) { c.mic.getTracks().forEach((tr) => tr.stop()); return; }
  try {
    const pc = new RTCPeerConnection({ bundlePolicy: 'max-bundle', rtcpMuxPolicy: 'require' });
    c.pc = pc;
    for (const tr of c.mic.getAudioTracks()) c.sender = pc.addTrack(tr, c.mic);
    pc.ontrack = (ev) => listen(ev.streams[0] || new MediaStream([ev.track]));
    pc.onconnectionstatechange = () => {
      if (call === c && pc.connectionState === 'failed') { error('sp_media_failed'); hangup(); }
    };
    await pc.setRemoteDescription({ type: 'offer', sdp: c.invite.body });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    if (call !== c) return;
    respond(c.invite, 200, 'OK', [`Contact: ${contact()}`, 'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, NOTIFY'], pc.localDescription.sdp, c.localTag);
    c.state = 'incall';
    say('sp_incall', 'incall');
    render();
    $('#sp-hangup').focus();
  } catch (e) {
    error('sp_media_failed');
    respond(c.invite, 488, 'Not Acceptable Here', [], '', c.localTag);
    endCall();
  }
}

function gathered(pc) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { if (pc.iceGatheringState === 'complete') resolve(); };
    pc.addEventListener('icegatheringstatechange', done);
    setTimeout(resolve, 2000); // host candidates come at once; do not wait for slow ones
  });
}

function hangup() {
  if (!call) return;
  if (call.state === 'ringing' || call.state === 'answering') {
    respond(call.invite, 603, 'Decline', [], '', call.localTag);
  } else {
    inDialog('BYE');
  }
  endCall('sp_ended');
}

function endCall(key) {
  const c = call;
  call = null;
  if (c) {
    if (c.pc) c.pc.close();
    if (c.mic) c.mic.getTracks().forEach((tr) => tr.stop());
  }
  const el = $('#softphone');
  if (el && el.dataset.built) {
    stopListening();
    if (ws && ws.readyState === WebSocket.OPEN) say(key || 'sp_registered', 'registered');
    render();
  }
}

function toggleMute() {
  if (!call || !call.mic) return;
  call.muted = !call.muted;
  for (const tr of call.mic.getAudioTracks()) tr.enabled = !call.muted;
  render();
}

// toggleHold re-offers with sendonly (hold) or sendrecv (resume): the
// switch plays music to the other side while the agent holds.
async function toggleHold() {
  const c = call;
  if (!c || !c.pc || c.pending) return;
  const hold = !c.held;
  for (const tr of c.pc.getTransceivers()) tr.direction = hold ? 'sendonly' : 'sendrecv';
  // Held, the caller hears the queue's music (the switch plays it), not the agent.
  for (const tr of c.mic.getAudioTracks()) tr.enabled = !hold && !c.muted;
  await c.pc.setLocalDescription(await c.pc.createOffer());
  await gathered(c.pc);
  if (call !== c) return;
  await new Promise((resolve) => {
    c.cseq += 1;
    const cseqNo = c.cseq;
    c.pending = {
      cseqNo, cseq: `${cseqNo} INVITE`,
      ok: async (res) => {
        try {
          await c.pc.setRemoteDescription({ type: 'answer', sdp: res.body });
          c.held = hold;
        } catch (e) {
          error('sp_media_failed');
        }
        resolve();
      },
      fail: async () => {
        await c.pc.setLocalDescription({ type: 'rollback' }).catch(() => {});
        for (const tr of c.mic.getAudioTracks()) tr.enabled = !c.held && !c.muted;
        resolve();
      },
    };
    inDialog('INVITE', c.pc.localDescription.sdp, cseqNo);
  });
  say(c.held ? 'sp_onhold' : 'sp_incall');
  render();
}

function dtmf(d) {
  if (!call || !call.sender || !call.sender.dtmf) return;
  call.sender.dtmf.insertDTMF(d, 120, 70);
}

// ---- what the agent hears, and its loudest frequency (data-peer-hz:
// the acceptance test reads it; a level meter could too) ----

let audioCtx = null;
let meter = 0;

function ensureAudio() {
  if (!audioCtx) audioCtx = new AudioContext();
  if (audioCtx.state === 'suspended') audioCtx.resume();
}

function listen(stream) {
  const audio = $('#sp-audio');
  audio.srcObject = stream; // Chromium feeds WebAudio from a remote stream only while an element plays it
  audio.play().catch(() => {});
  ensureAudio();
  const an = audioCtx.createAnalyser();
  an.fftSize = 4096;
  audioCtx.createMediaStreamSource(stream).connect(an);
  const bins = new Float32Array(an.frequencyBinCount);
  clearInterval(meter);
  meter = setInterval(() => {
    an.getFloatFrequencyData(bins);
    let best = 0;
    for (let i = 1; i < bins.length; i++) if (bins[i] > bins[best]) best = i;
    const el = $('#softphone');
    el.dataset.peerHz = bins[best] > -70 ? String(Math.round(best * audioCtx.sampleRate / an.fftSize)) : '0';
  }, 200);
}

function stopListening() {
  clearInterval(meter);
  const el = $('#softphone');
  delete el.dataset.peerHz;
  const audio = $('#sp-audio');
  if (audio) audio.srcObject = null;
}
