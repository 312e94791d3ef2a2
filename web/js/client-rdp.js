/*
 * client-rdp.js - RDP through the gateway's Guacamole translation, drawn by the stock
 * guacamole-common-js 1.5.0 (vendor/guacamole). Keyboard (Guacamole.Keyboard on the
 * document while the desktop has focus), mouse, touch (the touchscreen mode: a tap is a
 * click), clipboard both ways as text, the remote size following the window, and a
 * quality figure from the display's own frame statistics (processing lag) and the
 * tunnel's "unstable" state.
 *
 * The tunnel: WebSocketTunnel opens `<gateway_url>?ticket=...` with subprotocol
 * "guacamole". A gateway that does not offer that subprotocol makes the browser fail the
 * handshake; then this module retries once without the subprotocol and remembers that
 * for the tab (see docs/web.md).
 */
import Guacamole from '/vendor/guacamole/guacamole-common.js';

const CTRL = 0xffe3;
const ALT = 0xffe9;
const DEL = 0xffff;
const NOPROTO_KEY = 'portico.guac.noSubprotocol';

/* A WebSocket constructor that drops the requested subprotocol. */
function withoutSubprotocol(fn) {
  const Real = window.WebSocket;
  function Plain(url) {
    return new Real(url);
  }
  Plain.prototype = Real.prototype;
  Object.assign(Plain, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
  window.WebSocket = Plain;
  try {
    return fn();
  } finally {
    window.WebSocket = Real;
  }
}

function level(lagMs) {
  if (lagMs < 80) return 'good';
  if (lagMs < 250) return 'fair';
  return 'poor';
}

export function connect(screen, gatewayUrl, ticket, hooks) {
  let noProto = sessionStorage.getItem(NOPROTO_KEY) === '1';
  let client = null;
  let keyboard = null;
  let opened = false;
  let closed = false;
  let unstable = false;
  let retriedPlain = false;
  let resizeTimer = 0;
  let gen = 0; // which start() the handlers belong to: an abandoned attempt's events are ignored
  const holder = document.createElement('div');
  holder.className = 'guac-holder';
  screen.classList.add('guac');
  screen.prepend(holder);

  const fit = () => {
    if (!client) return;
    const d = client.getDisplay();
    const w = screen.clientWidth;
    const h = screen.clientHeight;
    if (d.getWidth() && d.getHeight()) d.scale(Math.min(w / d.getWidth(), h / d.getHeight(), 1));
  };
  const sendSize = () => {
    if (!client || !opened) return;
    const r = window.devicePixelRatio || 1;
    client.sendSize(Math.floor(screen.clientWidth * r), Math.floor(screen.clientHeight * r));
  };

  function start() {
    const my = ++gen;
    const tunnel = new Guacamole.WebSocketTunnel(gatewayUrl);
    client = new Guacamole.Client(tunnel);
    const display = client.getDisplay();
    const el = display.getElement();
    holder.replaceChildren(el);
    display.onresize = fit;
    display.statisticWindow = 2000;
    display.onstatistics = (s) => {
      const lag = Math.round(s.processingLag || 0);
      hooks.onQuality(unstable ? 'poor' : level(lag), unstable ? 'unstable' : `${lag} ms`);
    };
    // the client does not watch its tunnel: a refused or dropped WebSocket is seen here
    tunnel.onerror = (status) => finish(my, status && status.message ? status.message : 'the tunnel failed');
    tunnel.onstatechange = (st) => {
      unstable = st === Guacamole.Tunnel.State.UNSTABLE;
      if (unstable) hooks.onQuality('poor', 'unstable');
      if (st === Guacamole.Tunnel.State.CLOSED) finish(my, opened ? 'the connection closed' : 'the gateway refused the connection');
    };
    client.onstatechange = (st) => {
      if (st === Guacamole.Client.State.CONNECTED && !opened) {
        opened = true;
        sendSize();
        hooks.onQuality('good', 'RDP');
        hooks.onConnected();
      } else if (st === Guacamole.Client.State.DISCONNECTED) {
        finish(my, opened ? 'the connection closed' : 'the gateway refused the connection');
      }
    };
    client.onerror = (status) => {
      finish(my, status && status.message ? status.message : `error ${status && status.code}`);
    };
    client.onclipboard = (stream, mimetype) => {
      if (!/^text\//.test(mimetype)) return;
      const reader = new Guacamole.StringReader(stream);
      let text = '';
      reader.ontext = (t) => { text += t; };
      reader.onend = () => hooks.onClipboard(text);
    };
    const mouse = new Guacamole.Mouse(el);
    mouse.onEach(['mousedown', 'mouseup', 'mousemove'], (e) => client.sendMouseState(e.state, true));
    const touch = new Guacamole.Mouse.Touchscreen(el);
    touch.onEach(['mousedown', 'mouseup', 'mousemove'], (e) => client.sendMouseState(e.state, true));
    el.tabIndex = 0;
    el.setAttribute('aria-label', 'Remote desktop (RDP)');
    el.addEventListener('focus', () => { if (keyboard) keyboard.reset(); });
    keyboard = new Guacamole.Keyboard(el);
    keyboard.onkeydown = (keysym) => { client.sendKeyEvent(1, keysym); };
    keyboard.onkeyup = (keysym) => { client.sendKeyEvent(0, keysym); };
    const data = `ticket=${encodeURIComponent(ticket)}`;
    if (noProto) withoutSubprotocol(() => client.connect(data));
    else client.connect(data);
  }

  function finish(my, reason) {
    if (closed || my !== gen) return;
    if (!opened && !noProto && !retriedPlain) {
      // most likely the subprotocol: try once more without it
      retriedPlain = true;
      noProto = true;
      gen++; // the old client's DISCONNECTED event must not count
      try { client.disconnect(); } catch (e) { /* already */ }
      sessionStorage.setItem(NOPROTO_KEY, '1');
      // the ticket may admit one more WebSocket (ticket_max_conns); if not, the viewer relaunches
      setTimeout(start, 0);
      return;
    }
    closed = true;
    try { client.disconnect(); } catch (e) { /* already */ }
    hooks.onDisconnected(reason);
  }

  start();
  return {
    kind: 'rdp',
    client: () => client,
    canvas: () => client && client.getDisplay().flatten(),
    focus: () => { const el = client && client.getDisplay().getElement(); if (el) el.focus(); },
    ctrlAltDel: () => {
      for (const k of [CTRL, ALT, DEL]) client.sendKeyEvent(1, k);
      for (const k of [DEL, ALT, CTRL]) client.sendKeyEvent(0, k);
    },
    paste: (text) => {
      const stream = client.createClipboardStream('text/plain');
      const w = new Guacamole.StringWriter(stream);
      w.sendText(text);
      w.sendEnd();
    },
    resize: () => {
      fit();
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(sendSize, 300); // one size once the window stops moving
    },
    drop: () => client && client.disconnect(), // as a network failure: the viewer relaunches
    disconnect: () => {
      closed = true;
      try { client.disconnect(); } catch (e) { /* already */ }
      if (keyboard) keyboard.reset();
      holder.remove();
      screen.classList.remove('guac');
    },
  };
}
