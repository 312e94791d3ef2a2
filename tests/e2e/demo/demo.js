'use strict';
/*
 * demo.js - a person's first minutes with the demo, in headless Chromium: sign in through
 * the portal's form as the demo user, see the demo pools as cards, open a VM desktop of
 * the "desktops" pool in the viewer (PROTOCOL: vnc or spice), or the "rdp" pool (rdp:
 * guacamole-common-js -> gateway RDP -> xrdp -> the guest's VNC), and check that the demo
 * desktop's picture reaches the canvas (its blue screen with text, not blank); with
 * RDP_PORT, also that the RDP front answers an RDP connection request (X.224).
 *
 *   node demo.js URL USER PASSWORD PROTOCOL RDP_PORT SHOT_DIR
 *
 * Exit 0 on success, 1 on failure, 3 when the broker answers launch with 503
 * display_unavailable (pool/ cannot report display endpoints yet): everything before the
 * viewer was checked, the desktop could not be opened, and the caller says so.
 */
const assert = require('assert');
const net = require('net');
const path = require('path');
const { run } = require('../lib/chromium');

const [url, user, password, protocol, rdpPort, shots] = process.argv.slice(2);
const base = url.replace(/\/+$/, '');
const shot = (page, name) => page.screenshot({ path: path.join(shots, `demo-${name}.png`) }).catch(() => {});

/* RDP connection request with a negotiation request for TLS|Hybrid; returns the
 * X.224 reply's code (0xD0 = connection confirm) or throws. */
function rdpProbe(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: Number(port) });
    const cr = Buffer.from([0x03, 0x00, 0x00, 0x13, 0x0e, 0xe0, 0, 0, 0, 0, 0,
      0x01, 0x00, 0x08, 0x00, 0x03, 0x00, 0x00, 0x00]);
    const t = setTimeout(() => { s.destroy(); reject(new Error('no X.224 answer in 5 s')); }, 5000);
    s.on('connect', () => s.write(cr));
    s.on('data', (d) => {
      clearTimeout(t);
      s.destroy();
      if (d.length < 7 || d[0] !== 0x03) reject(new Error(`not a TPKT reply: ${d.toString('hex')}`));
      else resolve(d[5]);
    });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
  });
}

/* Colour statistics of the desktop canvas (drawn by noVNC or spice-html5). */
async function canvasStats(page) {
  return page.evaluate(() => {
    const cs = [...document.querySelectorAll('#screen canvas')].filter((c) => c.width > 16 && c.height > 16);
    if (!cs.length) return null;
    const c = cs.sort((a, b) => b.width * b.height - a.width * a.height)[0];
    const ctx = c.getContext('2d');
    const { data } = ctx.getImageData(0, 0, c.width, c.height);
    const colours = new Set();
    let lit = 0;
    let blue = 0; // the demo desktop's background: VGA blue (0, 0, 170)-ish

    const n = c.width * c.height;
    for (let i = 0; i < data.length; i += 4 * 7) {
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
      if (data[i] + data[i + 1] + data[i + 2] > 60) lit++;
      if (data[i + 2] > 120 && data[i] < 60 && data[i + 1] < 60) blue++;
    }
    const k = Math.ceil(n / 7);
    return { w: c.width, h: c.height, colours: colours.size, litShare: lit / k, blueShare: blue / k };
  });
}

/* the demo desktop: mostly its blue background, with a title bar and text on it */
const drawn = (st) => st && st.colours >= 3 && st.litShare > 0.3 && st.blueShare > 0.5;

run(async ({ page }) => {
  page.setDefaultTimeout(20000);
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForSelector('#signin-form', { state: 'visible' });
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.click('#signin-submit');
  await page.waitForSelector('#cards .card[data-pool="desktops"]', { timeout: 20000 });
  const pools = await page.$$eval('#cards .card', (cs) => cs.map((c) => c.dataset.pool));
  console.log(`demo: signed in as ${user}; pools ${pools.join(', ')}`);
  assert.ok(pools.includes('desktops'), 'the demo user sees the desktops pool');
  await shot(page, 'portal');

  // the viewer asks the broker for a ticket itself; watch its launch answer
  let launch = null;
  page.on('response', async (r) => {
    if (/\/api\/v1\/pools\/[a-z]+\/launch$/.test(r.url())) {
      try {
        launch = { status: r.status(), body: await r.json() };
      } catch (e) {
        launch = { status: r.status(), body: null };
      }
    }
  });
  const t0 = Date.now();
  const pool = protocol === 'rdp' ? 'rdp' : 'desktops';
  if (pool === 'rdp') await page.click('#cards .card[data-pool="rdp"] button.open');
  else await page.click(`#cards .card[data-pool="desktops"] button.open-proto[data-protocol="${protocol}"]`);
  await page.waitForURL(/viewer\.html/);
  await page.waitForFunction(() => window.portico && ['connected', 'failed'].includes(window.portico.phase), null, { timeout: 60000 });
  const phase = await page.evaluate(() => window.portico.phase);
  if (phase !== 'connected') {
    await shot(page, `viewer-${protocol}-failed`);
    throw new Error(`viewer ended in phase ${phase}: ${await page.textContent('#overlay-text')} (launch ${JSON.stringify(launch)})`);
  }
  // the picture: the demo desktop is a blue screen with a title bar and text
  let st = null;
  const deadline = Date.now() + 30000;
  while (Date.now() < deadline) {
    st = await canvasStats(page);
    if (drawn(st)) break;
    if (protocol === 'rdp') {
      // xrdp's "vnc-any" session box waits for OK (the ticket carries no RDP credentials
      // for an autologon): click into the desktop and press Enter, as a person would
      await page.mouse.click(512, 430).catch(() => {});
      await page.keyboard.press('Enter').catch(() => {});
      await page.waitForTimeout(2500);
    }
    await page.waitForTimeout(500);
  }
  await shot(page, `viewer-${protocol}`);
  console.log(`demo: ${protocol} canvas ${JSON.stringify(st)} after ${Date.now() - t0} ms`);
  assert.ok(st, 'a desktop canvas is on the page');
  assert.ok(drawn(st), `the demo desktop is drawn (blue screen with text, not blank): ${JSON.stringify(st)}`);
  assert.deepStrictEqual(page.portico.errors, [], `page errors: ${page.portico.errors.join(' | ')}`);

  if (rdpPort && rdpPort !== '-') {
    const code = await rdpProbe(rdpPort);
    assert.strictEqual(code, 0xd0, `X.224 connection confirm from the RDP front (got 0x${code.toString(16)})`);
    console.log(`demo: the rdp pool's endpoint 127.0.0.1:${rdpPort} answers RDP (X.224 confirm)`);
  }
}, { timeoutMs: 110000 });
