'use strict';
/*
 * viewer.js - one desktop opened from the portal in Chromium, through the gateway, drawn
 * by the stock client for its protocol (test_viewer.c starts the stack).
 *
 *   node web/viewer.js POOL BASE_URL SHOT_DIR XDISPLAY|-
 *
 * Sign in -> click the pool's Open -> the viewer connects -> the canvas shows the desktop:
 * with an X display (VNC: Xvnc, RDP: Xvfb behind freerdp-shadow) the root window is
 * painted with xsetroot and the canvas must turn that colour (pixels read back from the
 * canvas); without one (SPICE guest) the canvas must hold more than one colour and some
 * bright pixels (the guest's text). A typed key must reach the X server (xev on the root
 * window prints it), and so must a click, a touch tap and the Ctrl+Alt+Del button; VNC
 * also carries clipboard text both ways (Tk reads and owns the X selection). Then the connection is dropped
 * as a network blip would: the viewer gets a fresh ticket (launch again) and reconnects
 * to the same desktop without a sign-in, and the canvas follows a new colour. Back to the
 * portal, sign out.
 */
const assert = require('assert');
const { spawn, execFileSync } = require('child_process');
const { run } = require('../lib/chromium');
const { shooter, guard, signIn } = require('./common');

const [pool, base, shots, xdisplay] = process.argv.slice(2);
const X = xdisplay && xdisplay !== '-' ? xdisplay : null;

function paint(hex) {
  execFileSync('xsetroot', ['-solid', hex], { env: { ...process.env, DISPLAY: X } });
}

/* xev on the root window: key events the X server delivered, as text. */
function keyWatch() {
  const p = spawn('xev', ['-root', '-event', 'keyboard', '-event', 'button'], { env: { ...process.env, DISPLAY: X } });
  const w = { out: '', stop: () => p.kill('SIGTERM') };
  p.stdout.on('data', (d) => { w.out += d.toString(); });
  return w;
}

async function until(what, fn, timeoutMs) {
  const t0 = Date.now();
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/* The X CLIPBOARD selection, read and owned with Tk (no xclip here). */
const TK_GET = 'import tkinter;r=tkinter.Tk();r.withdraw();print(r.clipboard_get())';
const TK_SET = 'import sys,tkinter;r=tkinter.Tk();r.withdraw();r.clipboard_clear();' +
  'r.clipboard_append(sys.argv[1]);r.update();r.after(6000,r.destroy);r.mainloop()';

function desktopClipboard() {
  try {
    return execFileSync('python3', ['-c', TK_GET], { env: { ...process.env, DISPLAY: X }, timeout: 4000, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  } catch (e) {
    return '';
  }
}

/* Text both ways: the browser's clipboard to the desktop ("Paste to desktop"), the
 * desktop's to the browser's (the client's clipboard event -> Clipboard API). */
async function clipboardRoundTrip(page) {
  await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: base });
  await page.evaluate(() => navigator.clipboard.writeText('portico-to-desktop'));
  await page.click('#paste');
  await until('the desktop clipboard to hold the browser text', () => desktopClipboard().includes('portico-to-desktop'), 10000);
  console.log('viewer: browser clipboard -> desktop ok');
  const owner = spawn('python3', ['-c', TK_SET, 'portico-from-desktop'], { env: { ...process.env, DISPLAY: X }, stdio: 'ignore' });
  try {
    await page.click('#screen', { position: { x: 420, y: 320 } }); // the page keeps focus
    await until('the browser clipboard to hold the desktop text', async () =>
      (await page.evaluate(() => navigator.clipboard.readText().catch(() => ''))) === 'portico-from-desktop', 10000);
  } finally {
    owner.kill('SIGTERM');
  }
  console.log('viewer: desktop clipboard -> browser ok');
}

/* Sample the client's canvas: the centre pixel, how many colours on a 32x24 grid, how
 * many bright samples. */
function sample(page) {
  return page.evaluate(() => {
    const c = window.portico.canvas();
    if (!c || !c.width || !c.height) return null;
    const ctx = c.getContext('2d');
    const px = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
    const colours = new Set();
    let bright = 0;
    for (let i = 0; i < 32; i++) {
      for (let j = 0; j < 24; j++) {
        const p = px(Math.floor(((i + 0.5) * c.width) / 32), Math.floor(((j + 0.5) * c.height) / 24));
        colours.add(p.join(','));
        if (p[0] + p[1] + p[2] > 300) bright++;
      }
    }
    return { w: c.width, h: c.height, centre: px(c.width >> 1, c.height >> 1), colours: colours.size, bright };
  });
}

const near = (p, rgb) => p && Math.abs(p[0] - rgb[0]) < 24 && Math.abs(p[1] - rgb[1]) < 24 && Math.abs(p[2] - rgb[2]) < 24;

async function connected(page, n) {
  return until(`connection #${n}`, async () => {
    const st = await page.evaluate(() => ({ ...window.portico, canvas: undefined }));
    if (st.phase === 'failed') {
      throw new Error(`viewer failed: ${await page.textContent('#overlay-text')} (${st.lastError})`);
    }
    return st.phase === 'connected' && st.connects >= n ? st : null;
  }, 30000);
}

async function showsColour(page, hex, rgb) {
  paint(hex);
  const s = await until(`the canvas to turn ${hex}`, async () => {
    const v = await sample(page);
    return v && near(v.centre, rgb) ? v : null;
  }, 15000);
  console.log(`viewer: canvas ${s.w}x${s.h} centre ${s.centre} after xsetroot ${hex}`);
  return s;
}

run(async ({ page }) => {
  page.setDefaultTimeout(20000);
  await page.setViewportSize({ width: 1366, height: 768 });
  const g = guard(page, base);
  const shot = shooter(page, shots);
  const t0 = Date.now();
  await signIn(page, base, 'alice', 'alice-pw');
  await page.waitForSelector(`#cards .card[data-pool="${pool}"] button.open`);
  await shot('portal');
  await page.click(`#cards .card[data-pool="${pool}"] button.open`);
  await page.waitForURL(/viewer\.html/);
  const first = await connected(page, 1);
  console.log(`viewer: ${pool} connected with ${first.protocol} to ${first.desktop} in ${Date.now() - t0} ms after sign-in`);
  assert.strictEqual(first.protocol, pool);
  console.log(`viewer: phases ${first.phases.join(' -> ')}`);
  if (pool === 'rdp') {
    // no warm desktop in this pool: the launch said 202 "starting" and the viewer waited
    assert.ok(first.phases.includes('waiting'), `phases ${first.phases}`);
  }

  let keys = null;
  if (X) {
    await showsColour(page, '#2a7fd4', [42, 127, 212]);
    await shot('desktop');
    keys = keyWatch();
    await new Promise((r) => setTimeout(r, 300)); // xev selects its events
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await page.click('#screen', { position: { x: 400, y: 300 } });
    await until('xev to see the mouse click', () => /ButtonPress event[\s\S]*button 1,/.test(keys.out), 10000);
    console.log('viewer: the mouse click reached the X server');
    await page.keyboard.press('q');
    await until('xev to see the q key', () => /keysym 0x71, q\)/.test(keys.out), 10000);
    console.log('viewer: the typed q reached the X server');
    keys.out = '';
    await page.touchscreen.tap(700, 400);
    await until('xev to see the tap as a click', () => /ButtonPress event[\s\S]*button 1,/.test(keys.out), 10000);
    console.log('viewer: a touch tap reached the X server as a click');
    await page.click('#cad');
    await until('xev to see Delete from Ctrl+Alt+Del', () => /keysym 0xffff, Delete\)/.test(keys.out), 10000);
    assert.match(keys.out, /Control_L/);
    console.log('viewer: Ctrl+Alt+Del reached the X server');
    // RDP: the gateway parses the browser's clipboard stream but does not wire cliprdr yet
    // (docs/rdp.md), so only VNC carries text both ways today
    if (pool === 'vnc') await clipboardRoundTrip(page);
  } else {
    const s = await until('the guest screen on the canvas', async () => {
      const v = await sample(page);
      return v && v.colours > 1 && v.bright > 0 ? v : null;
    }, 20000);
    console.log(`viewer: canvas ${s.w}x${s.h}, ${s.colours} colours, ${s.bright} bright samples`);
    await page.click('#screen', { position: { x: 400, y: 300 } });
    await page.keyboard.press('q'); // the guest (SeaBIOS) cannot show it; see docs/web.md
    await shot('desktop');
  }
  const quality = await page.getAttribute('#quality', 'data-level');
  console.log(`viewer: quality indicator ${quality} (${await page.textContent('#quality-text')})`);

  // a network blip: the viewer relaunches (fresh ticket) and reconnects, no sign-in
  const launches = first.launches;
  await page.evaluate(() => window.porticoDropConnection());
  const t1 = Date.now();
  const second = await connected(page, 2);
  console.log(`viewer: reconnected to ${second.desktop} in ${Date.now() - t1} ms (launches ${launches} -> ${second.launches})`);
  assert.strictEqual(second.desktop, first.desktop, 'the same desktop');
  assert.ok(second.launches > launches, 'a fresh ticket was asked for');
  assert.ok(!page.url().includes('m='), 'no trip to sign-in');
  if (X) {
    await showsColour(page, '#c04020', [192, 64, 32]);
    await page.click('#screen', { position: { x: 400, y: 300 } });
    keys.out = '';
    await page.keyboard.press('w');
    await until('xev to see w after the reconnect', () => /keysym 0x77, w\)/.test(keys.out), 10000);
    keys.stop();
  }
  await shot('reconnected');

  // phone width: the toolbar still fits, the desktop scales into what is left
  await page.setViewportSize({ width: 390, height: 844 });
  await page.waitForTimeout(500);
  await shot('phone');
  await page.setViewportSize({ width: 1366, height: 768 });

  await page.click('#disconnect');
  await page.waitForSelector('#cards .card');
  await page.click('#signout');
  await page.waitForURL(/m=signed_out/);
  g.check();
}, { timeoutMs: 95000, context: { hasTouch: true } });
