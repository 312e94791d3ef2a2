/*
 * viewer.js - one desktop in the browser. It asks the broker for a ticket (launch), waits
 * while the desktop starts (202 + retry_after_ms), then hands the gateway URL and ticket to
 * the client for the protocol: guacamole-common-js for RDP, spice-html5 for SPICE, noVNC
 * for VNC (client-*.js wrap each behind one small interface). When the connection drops
 * without the user asking, it launches again (the broker reconnects the user to the same
 * desktop and signs a fresh ticket) with backoff, so a network blip needs no new sign-in.
 */
import { api, ApiError, requireMe } from './api.js';

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const pool = params.get('pool') || '';
const wantProtocol = params.get('protocol') || '';

const MAX_RECONNECTS = 8;
const CLIENTS = {
  rdp: () => import('./client-rdp.js'),
  spice: () => import('./client-spice.js'),
  vnc: () => import('./client-vnc.js'),
};

let session = null; // the running client's handle
let userClosed = false;
let attempts = 0;
let everConnected = false;
let desktopId = '';

/* window.portico: read by the end-to-end tests and handy in the console. */
const state = (window.portico = {
  phase: 'starting', phases: ['starting'], protocol: '', desktop: '', connects: 0, launches: 0, lastError: '',
  canvas: () => (session && session.canvas ? session.canvas() : null),
});

function setStatus(text, phase) {
  $('status').textContent = text;
  if (phase && phase !== state.phase) state.phases.push(phase);
  if (phase) state.phase = phase;
  document.body.dataset.phase = state.phase;
}

function showOverlay(text) {
  $('overlay-text').textContent = text;
  $('overlay').hidden = false;
  $('retry').focus();
}

function hideOverlay() {
  $('overlay').hidden = true;
}

function setQuality(level, text) {
  $('quality').dataset.level = level;
  $('quality-text').textContent = text;
  $('quality').title = `Connection quality: ${level} (${text})`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/* launch() - a ticket for my desktop in the pool, waiting while it starts. */
async function launch() {
  const body = wantProtocol ? { protocol: wantProtocol } : undefined;
  for (;;) {
    state.launches++;
    const r = await api('POST', `/pools/${encodeURIComponent(pool)}/launch`, body);
    desktopId = r.desktop || desktopId;
    state.desktop = desktopId;
    if (r.status === 200 && r.ticket) return r;
    const wait = Math.min(Math.max(r.retry_after_ms || 1000, 250), 5000);
    const eta = r.expected_wait_ms ? ` (about ${Math.ceil(r.expected_wait_ms / 1000)} s)` : '';
    setStatus(`Your desktop ${r.desktop || ''} is ${r.state || 'starting'}${eta}…`, 'waiting');
    await sleep(wait);
  }
}

function launchErrorText(e) {
  switch (e.code) {
    case 'pool_exhausted':
      return 'Every desktop of this pool is in use and the pool is at its maximum. Try again later or ask your administrator for more.';
    case 'not_entitled':
      return 'You are not entitled to desktops of this pool. Ask your administrator.';
    case 'pool_not_found':
      return `There is no desktop pool named “${pool}”.`;
    case 'protocol_not_offered':
      return `This pool does not offer ${wantProtocol.toUpperCase()}. Open it from your desktops page.`;
    default:
      return e.message;
  }
}

async function connect() {
  hideOverlay();
  setStatus(attempts ? `Reconnecting (attempt ${attempts} of ${MAX_RECONNECTS})…` : 'Asking for your desktop…',
    attempts ? 'reconnecting' : 'starting');
  let t;
  try {
    t = await launch();
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // api() goes to sign-in
    state.lastError = e.code || String(e);
    const transient = !(e instanceof ApiError) || e.status === 0 || e.status >= 500;
    if (transient && everConnected) return retryLater(e.message);
    setStatus('Could not open the desktop', 'failed');
    showOverlay(launchErrorText(e));
    return;
  }
  state.protocol = t.protocol;
  document.title = `Portico – ${t.desktop} (${t.protocol.toUpperCase()})`;
  $('title').textContent = `${t.desktop} · ${t.protocol.toUpperCase()}`;
  setStatus(`Connecting to ${t.desktop}…`, 'connecting');
  const mod = await CLIENTS[t.protocol]();
  const screen = $('screen');
  if (session) session.disconnect();
  screen.querySelectorAll(':scope > :not(#overlay)').forEach((n) => n.remove());
  session = mod.connect(screen, t.gateway_url, t.ticket, {
    onConnected() {
      attempts = 0;
      everConnected = true;
      state.connects++;
      setStatus(`Connected to ${t.desktop}`, 'connected');
      $('cad').disabled = false;
      $('paste').disabled = !session.paste || !navigator.clipboard;
      session.focus();
    },
    onDisconnected(reason) {
      $('cad').disabled = true;
      $('paste').disabled = true;
      setQuality('unknown', '–');
      if (userClosed) return;
      state.lastError = reason || 'closed';
      if (!everConnected && attempts >= 2) {
        setStatus('Could not connect', 'failed');
        showOverlay(`The desktop's display could not be reached: ${reason || 'the connection closed'}.`);
        return;
      }
      retryLater(reason);
    },
    onQuality: setQuality,
    onClipboard(text) {
      // desktop -> browser; allowed only while the page has focus (and permission)
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(text).catch(() => {});
    },
  });
}

function retryLater(reason) {
  attempts++;
  if (attempts > MAX_RECONNECTS) {
    setStatus('Disconnected', 'failed');
    showOverlay(`The connection to your desktop was lost (${reason || 'closed'}) and did not come back. Your desktop keeps running: try again.`);
    return;
  }
  const wait = Math.min(500 * 2 ** (attempts - 1), 8000);
  setStatus(`Connection lost (${reason || 'closed'}); reconnecting in ${Math.round(wait / 100) / 10} s…`, 'reconnecting');
  setTimeout(connect, wait);
}

async function pasteToDesktop() {
  if (!session || !session.paste) return;
  try {
    const text = await navigator.clipboard.readText();
    if (text) session.paste(text);
    setStatus(`Sent ${text.length} characters to the desktop's clipboard`);
  } catch (e) {
    setStatus('The browser did not allow reading your clipboard');
  }
}

function toggleFullscreen() {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else document.documentElement.requestFullscreen().catch(() => setStatus('Full screen is not allowed here'));
}

async function start() {
  if (!pool) {
    setStatus('No desktop chosen', 'failed');
    showOverlay('No desktop was chosen. Go back to your desktops and open one.');
    return;
  }
  await requireMe();
  $('cad').addEventListener('click', () => {
    if (session) session.ctrlAltDel();
    session && session.focus();
  });
  $('paste').addEventListener('click', pasteToDesktop);
  $('fullscreen').addEventListener('click', toggleFullscreen);
  document.addEventListener('fullscreenchange', () => {
    $('fullscreen').textContent = document.fullscreenElement ? 'Leave full screen' : 'Full screen';
  });
  $('disconnect').addEventListener('click', () => {
    userClosed = true;
    if (session) session.disconnect();
    location.assign('/');
  });
  $('retry').addEventListener('click', () => {
    attempts = 0;
    connect();
  });
  // the browser's clipboard follows to the desktop when the window regains focus
  window.addEventListener('focus', () => {
    if (session && session.paste && navigator.clipboard && navigator.clipboard.readText) {
      navigator.clipboard.readText().then((t) => t && session.paste(t)).catch(() => {});
    }
  });
  window.addEventListener('resize', () => session && session.resize && session.resize());
  window.addEventListener('beforeunload', () => {
    userClosed = true;
    if (session) session.disconnect();
  });
  // tests and people can force a blip: the gateway connection drops, the viewer comes back
  window.porticoDropConnection = () => session && session.drop && session.drop();
  connect();
}

start();
