'use strict';
/*
 * rdp_view.js - the stock guacamole-common-js 1.5.0 client in headless Chromium, drawing
 * an RDP desktop through portico-gateway. Run by test_rdp_browser.c through tf_node_run.
 *
 *   node rdp_view.js WS_URL TICKET X_DISPLAY
 *
 * Connects Guacamole.Client over Guacamole.WebSocketTunnel, waits for the desktop size
 * and a drawn frame, turns the X screen red with xsetroot, and waits until the browser's
 * canvas shows red, then moves the mouse with the client's own sendMouseState() and
 * waits until the desktop's pointer (xdotool) is there. Exit 0 on success.
 */
const path = require('path');
const { execFileSync } = require('child_process');
const { run } = require(path.resolve(process.env.NODE_PATH, '..', 'lib', 'chromium.js'));

const [wsUrl, ticket, xdisplay] = process.argv.slice(2);
const guacJs = path.resolve(__dirname, '..', '..', '..', 'web', 'node_modules',
  'guacamole-common-js', 'dist', 'cjs', 'guacamole-common.js');

async function connect(page) {
  return page.evaluate(async ({ wsUrl, ticket }) => {
    const tunnel = new Guacamole.WebSocketTunnel(wsUrl);
    const client = new Guacamole.Client(tunnel);
    window.__ops = {};
    window.__sent = {};
    const origSend = tunnel.sendMessage;
    tunnel.sendMessage = function (...a) {
      window.__sent[a[0]] = (window.__sent[a[0]] || 0) + 1;
      return origSend.apply(this, a);
    };
    const orig = tunnel.oninstruction;
    tunnel.oninstruction = (op, args) => {
      window.__ops[op] = (window.__ops[op] || 0) + 1;
      return orig(op, args);
    };
    window.__client = client;
    window.__error = null;
    client.onerror = (s) => { window.__error = `${s.code} ${s.message}`; };
    window.__syncs = 0;
    client.onsync = () => { window.__syncs++; };
    document.body.appendChild(client.getDisplay().getElement());
    client.connect('ticket=' + encodeURIComponent(ticket));
    for (let i = 0; i < 150; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const d = client.getDisplay();
      if (window.__error) return { ok: false, why: window.__error };
      if (tunnel.state === Guacamole.Tunnel.State.CLOSED) return { ok: false, why: 'tunnel closed' };
      if (d.getWidth() > 0 && d.getHeight() > 0) return { ok: true, w: d.getWidth(), h: d.getHeight() };
    }
    return { ok: false, why: 'no size within 15 s' };
  }, { wsUrl, ticket });
}

function pixel(page) {
  return page.evaluate(() => {
    const c = window.__client.getDisplay().flatten();
    const p = c.getContext('2d').getImageData(100, 100, 1, 1).data;
    return [p[0], p[1], p[2]];
  });
}

/* The stock client's mouse state moves the desktop's pointer (read back with xdotool). */
async function mouseReachesDesktop(page) {
  await page.evaluate(() => {
    window.__client.sendMouseState(new Guacamole.Mouse.State(123, 45, false, false, false, false, false));
  });
  for (let i = 0; i < 50; i++) {
    const loc = execFileSync('xdotool', ['getmouselocation'], { env: { ...process.env, DISPLAY: xdisplay } }).toString();
    if (/x:123 y:45 /.test(loc)) {
      console.log(`rdp_view: desktop pointer at ${loc.trim()}`);
      return;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error('the desktop pointer never moved to 123,45');
}

run(async ({ page }) => {
  await page.setContent('<!doctype html><html><body></body></html>');
  await page.addScriptTag({ content: 'var module = { exports: {} };' });
  await page.addScriptTag({ path: guacJs });
  // The stock WebSocketTunnel asks for subprotocol "guacamole": the gateway offers it,
  // so the first try must work.
  const r = await connect(page);
  if (!r.ok) throw new Error(`no desktop: ${r.why}`);
  console.log(`rdp_view: desktop ${r.w}x${r.h}`);
  execFileSync('xsetroot', ['-solid', 'red'], { env: { ...process.env, DISPLAY: xdisplay } });
  for (let i = 0; i < 100; i++) {
    const [rr, g, b] = await pixel(page);
    if (rr > 200 && g < 60 && b < 60) {
      console.log(`rdp_view: canvas turned red (${rr},${g},${b})`);
      await mouseReachesDesktop(page);
      if (page.portico.errors.length) throw new Error(`page errors: ${page.portico.errors}`);
      return;
    }
    await new Promise((res) => setTimeout(res, 100));
  }
  const syncs = await page.evaluate(() =>
    JSON.stringify([window.__syncs, window.__ops, window.__sent]));
  throw new Error(`canvas never turned red: ${await pixel(page)} after ${syncs} frames; ` +
    `console: ${page.portico.console.slice(-5).join(' | ')}`);
}, { timeoutMs: 60000 });
