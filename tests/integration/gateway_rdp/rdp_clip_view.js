'use strict';
/*
 * rdp_clip_view.js - clipboard both ways with the stock guacamole-common-js 1.5.0 client
 * in headless Chromium, through portico-gateway to xrdp in front of an Xvnc. Run by
 * test_rdp_browser.c through tf_node_run.
 *
 *   node rdp_clip_view.js WS_URL TICKET X_DISPLAY
 *
 * Browser -> desktop: Guacamole.Client.createClipboardStream + StringWriter, then the X
 * CLIPBOARD selection (xclip -o) must hold the text. Desktop -> browser: xclip sets the
 * selection, and the client's onclipboard + StringReader must receive it. Exit 0 on
 * success.
 */
const path = require('path');
const { spawnSync } = require('child_process');
const { run } = require(path.resolve(process.env.NODE_PATH, '..', 'lib', 'chromium.js'));

const [wsUrl, ticket, xdisplay] = process.argv.slice(2);
const guacJs = path.resolve(__dirname, '..', '..', '..', 'web', 'node_modules',
  'guacamole-common-js', 'dist', 'cjs', 'guacamole-common.js');
const xenv = { ...process.env, DISPLAY: xdisplay };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function desktopPaste() {
  const r = spawnSync('xclip', ['-selection', 'clipboard', '-o'], { env: xenv, timeout: 3000 });
  return r.status === 0 ? r.stdout.toString() : '';
}

function desktopCopy(text) {
  // stdio ignored: xclip forks a child that serves the selection and must not hold a pipe
  spawnSync('sh', ['-c', 'printf %s "$1" | xclip -selection clipboard -i', 'sh', text],
    { env: xenv, stdio: 'ignore', timeout: 3000 });
}

run(async ({ page }) => {
  await page.setContent('<!doctype html><html><body></body></html>');
  await page.addScriptTag({ content: 'var module = { exports: {} };' });
  await page.addScriptTag({ path: guacJs });
  const r = await page.evaluate(async ({ wsUrl, ticket }) => {
    const tunnel = new Guacamole.WebSocketTunnel(wsUrl);
    const client = new Guacamole.Client(tunnel);
    window.__client = client;
    window.__clip = null;
    window.__error = null;
    client.onerror = (s) => { window.__error = `${s.code} ${s.message}`; };
    client.onclipboard = (stream, mimetype) => {
      const reader = new Guacamole.StringReader(stream);
      let text = '';
      reader.ontext = (t) => { text += t; };
      reader.onend = () => { window.__clip = { mimetype, text }; };
    };
    document.body.appendChild(client.getDisplay().getElement());
    client.connect('ticket=' + encodeURIComponent(ticket));
    for (let i = 0; i < 150; i++) {
      await new Promise((res) => setTimeout(res, 100));
      if (window.__error) return { ok: false, why: window.__error };
      if (client.getDisplay().getWidth() > 0) return { ok: true };
    }
    return { ok: false, why: 'no size within 15 s' };
  }, { wsUrl, ticket });
  if (!r.ok) throw new Error(`no desktop: ${r.why}`);

  const toDesktop = 'from Chromium, d\u00e9j\u00e0 vu';
  await page.evaluate((text) => {
    const w = new Guacamole.StringWriter(window.__client.createClipboardStream('text/plain'));
    w.sendText(text);
    w.sendEnd();
  }, toDesktop);
  let got = '';
  for (let i = 0; i < 50 && got !== toDesktop; i++) {
    await sleep(100);
    got = desktopPaste();
  }
  if (got !== toDesktop) throw new Error(`desktop clipboard holds ${JSON.stringify(got)}`);
  console.log(`rdp_clip_view: desktop selection = ${JSON.stringify(got)}`);

  const toBrowser = 'from the desktop, Stra\u00dfe';
  let clip = null;
  for (let i = 0; i < 8 && !clip; i++) {
    desktopCopy(toBrowser);
    for (let j = 0; j < 10 && !clip; j++) {
      await sleep(100);
      clip = await page.evaluate(() => window.__clip);
    }
  }
  if (!clip) throw new Error('no clipboard stream reached the browser');
  if (clip.mimetype !== 'text/plain' || clip.text !== toBrowser)
    throw new Error(`browser clipboard: ${JSON.stringify(clip)}`);
  console.log(`rdp_clip_view: browser clipboard = ${JSON.stringify(clip.text)}`);
  if (page.portico.errors.length) throw new Error(`page errors: ${page.portico.errors}`);
}, { timeoutMs: 60000 });
