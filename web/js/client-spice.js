/*
 * client-spice.js - spice-html5 0.2.1 (stock ES modules from vendor/) behind the viewer's
 * client interface. spice-html5 opens one WebSocket per SPICE channel to the same URL
 * (the broker's ticket admits several); it creates its canvas inside an element it finds
 * by id, and listens for keys on that canvas, so the canvas is made focusable.
 */
import { SpiceMainConn, sendCtrlAltDel } from '/vendor/spice/src/main.js';

let seq = 0;

export function connect(screen, gatewayUrl, ticket, hooks) {
  const holder = document.createElement('div');
  holder.id = `spice-area-${++seq}`;
  holder.className = 'spice-holder';
  screen.prepend(holder);
  let sc = null;
  let closed = false;
  let connected = false;
  const canvas = () => holder.querySelector('canvas');
  const fail = (why) => {
    if (closed) return;
    closed = true;
    try {
      if (sc) sc.stop();
    } catch (e) {
      /* already stopped */
    }
    hooks.onDisconnected(why);
  };
  // the display canvas appears once the display channel has its surface
  const watch = new MutationObserver(() => {
    const c = canvas();
    if (c && !connected) {
      connected = true;
      c.tabIndex = 0;
      c.setAttribute('aria-label', 'Remote desktop (SPICE)');
      hooks.onQuality('good', 'SPICE');
      hooks.onConnected();
    }
  });
  watch.observe(holder, { childList: true, subtree: true });
  try {
    sc = new SpiceMainConn({
      uri: `${gatewayUrl}?ticket=${encodeURIComponent(ticket)}`,
      screen_id: holder.id,
      password: '',
      onerror: (e) => fail(e && e.message ? e.message : 'SPICE connection error'),
      onsuccess: () => {},
    });
  } catch (e) {
    setTimeout(() => fail(e.message), 0);
  }
  return {
    kind: 'spice',
    canvas,
    focus: () => canvas() && canvas().focus(),
    ctrlAltDel: () => sc && sendCtrlAltDel(sc),
    resize: () => {},
    drop: () => {
      // close the main channel's socket as a network failure would
      if (sc && sc.ws) sc.ws.close();
    },
    disconnect: () => {
      closed = true;
      watch.disconnect();
      try {
        if (sc) sc.stop();
      } catch (e) {
        /* already stopped */
      }
      holder.remove();
    },
  };
}
