'use strict';
/*
 * portal.js - the portal in Chromium against a running broker (test_web.c starts it).
 *
 *   node web/portal.js portal|errors BASE_URL SHOT_DIR
 *
 * portal: sign in through the form at 1366x768 -> the cards show what /api/v1/desktops
 *   says -> keyboard alone reaches "Open" -> phone width has no sideways scrolling ->
 *   sign out -> the session is gone (/api/v1/me 401) and the page says "signed out".
 * errors: a wrong password shows its sentence and keeps the user on the form; an ended
 *   session (an admin disconnects it) brings the page back to sign-in with a message.
 */
const assert = require('assert');
const { run } = require('../lib/chromium');
const { shooter, guard, signIn, freshPage, assertNoSidewaysScroll } = require('./common');

const [mode, base, shots] = process.argv.slice(2);
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };

async function portal({ browser, page }) {
  page.setDefaultTimeout(15000);
  await page.setViewportSize(DESKTOP);
  const g = guard(page, base);
  const shot = shooter(page, shots);
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForSelector('#signin-form', { state: 'visible' });
  assert.strictEqual(await page.evaluate(() => document.activeElement.id), 'user', 'focus starts in the user name');
  await shot('signin');
  // keyboard only: type, Tab to the password, Enter submits
  await page.keyboard.type('alice');
  await page.keyboard.press('Tab');
  await page.keyboard.type('alice-pw');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#cards .card', { timeout: 15000 });
  assert.strictEqual(await page.textContent('#who'), await page.evaluate(async () => {
    const r = await fetch('/api/v1/me');
    const j = await r.json();
    return j.display || j.user;
  }));
  assert.ok(await page.isHidden('#admin-link'), 'alice is no admin: no admin link');
  // the cards are what the broker says
  const api = await page.evaluate(async () => (await (await fetch('/api/v1/desktops')).json()));
  const cards = await page.$$eval('#cards .card', (cs) => cs.map((c) => ({
    name: c.dataset.pool,
    protocols: [...c.querySelectorAll('.protocol')].map((b) => b.textContent),
    state: c.querySelector('.state').textContent,
  })));
  assert.deepStrictEqual(cards.map((c) => c.name).sort(), api.pools.map((p) => p.name).sort());
  for (const p of api.pools) {
    const c = cards.find((x) => x.name === p.name);
    assert.deepStrictEqual(c.protocols, p.protocols.map((x) => x.toUpperCase()), `protocols of ${p.name}`);
    if (!p.my_desktop) {
      const want = !p.available ? 'No desktop free' : p.ready > 0 ? `${p.ready} ready of ${p.total}` : 'starts when you open it';
      assert.ok(c.state.includes(want), `${p.name}: "${c.state}" lacks "${want}"`);
    }
  }
  console.log(`portal: cards ${JSON.stringify(cards)}`);
  await shot('desktops');
  // keyboard navigation: Tab from the top reaches the first Open button
  await page.focus('body');
  let reached = false;
  for (let i = 0; i < 12 && !reached; i++) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement.classList.contains('open'));
  }
  assert.ok(reached, 'Tab reaches an Open button');
  // holding a desktop: the card says so and offers Log off, which gives it back
  const launched = await page.evaluate(async () => {
    const me = await (await fetch('/api/v1/me')).json();
    const r = await fetch('/api/v1/pools/eng/launch', { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token } });
    return { status: r.status, body: await r.json() };
  });
  // the plain broker claims the desktop, then says 503 display_unavailable (no display
  // lookup in this build of pool/): the claim is what the card shows
  assert.ok([200, 202].includes(launched.status) || (launched.body.error || {}).code === 'display_unavailable', JSON.stringify(launched));
  const mine = await page.evaluate(async () => (await (await fetch('/api/v1/desktops')).json()).pools.find((p) => p.name === 'eng').my_desktop);
  assert.ok(mine && mine.id, 'the launch claimed a desktop');
  const mineSel = '#cards .card[data-pool="eng"] .state';
  await page.waitForFunction((sel) => /Your desktop/.test(document.querySelector(sel).textContent), mineSel, { timeout: 15000 });
  assert.ok((await page.textContent(mineSel)).includes(mine.id));
  assert.strictEqual((await page.textContent('#cards .card[data-pool="eng"] button.open')).trim(), 'Reconnect');
  await shot('desktops-holding');
  await page.click('#cards .card[data-pool="eng"] button:has-text("Log off")');
  await page.waitForFunction((sel) => !/Your desktop/.test(document.querySelector(sel).textContent), mineSel, { timeout: 15000 });
  console.log(`portal: held ${mine.id}, logged off; card now says: ${await page.textContent(mineSel)}`);
  // phone width
  await page.setViewportSize(PHONE);
  await assertNoSidewaysScroll(page);
  await shot('desktops-phone');
  await page.setViewportSize(DESKTOP);
  // sign out
  await page.click('#signout');
  await page.waitForURL(/m=signed_out/);
  await page.waitForSelector('#signin-form', { state: 'visible' });
  assert.match(await page.textContent('#notice'), /signed out/);
  const me = await page.evaluate(async () => (await fetch('/api/v1/me')).status);
  assert.strictEqual(me, 401, 'the session is gone after sign-out');
  await shot('signed-out');
  g.check();
}

async function errors({ browser, page }) {
  page.setDefaultTimeout(15000);
  await page.setViewportSize(DESKTOP);
  const g = guard(page, base);
  const shot = shooter(page, shots);
  await signIn(page, base, 'alice', 'not-her-password');
  await page.waitForFunction(() => document.getElementById('signin-error').textContent.length > 0, null, { timeout: 15000 });
  const msg = await page.textContent('#signin-error');
  assert.match(msg, /Wrong user name or password/);
  assert.strictEqual(await page.getAttribute('#signin-error', 'data-code'), 'bad_credentials');
  assert.strictEqual(await page.inputValue('#password'), '', 'the wrong password is cleared');
  assert.strictEqual(await page.evaluate(() => document.activeElement.id), 'password');
  await shot('wrong-password');
  // five wrong passwords lock the account for minutes: the page says for how long
  for (let i = 0; i < 6; i++) {
    await page.fill('#user', 'o*brien');
    await page.fill('#password', `wrong-${i}`);
    await page.click('#signin-submit');
    await page.waitForFunction(() => !document.getElementById('signin-submit').disabled);
  }
  assert.strictEqual(await page.getAttribute('#signin-error', 'data-code'), 'signin_locked');
  const locked = await page.textContent('#signin-error');
  assert.match(locked, /Try again in \d+ minutes?\./);
  console.log(`errors: a locked account reads: ${locked}`);
  await shot('locked');
  // empty fields: said before asking the broker
  await page.fill('#user', '');
  await page.click('#signin-submit');
  assert.match(await page.textContent('#signin-error'), /Enter your user name and your password/);

  // an ended session: bob (admin) disconnects alice's session; her page notices on its
  // next refresh and goes to sign-in with a message, no broken page
  await page.fill('#user', 'alice');
  await page.fill('#password', 'alice-pw');
  await page.click('#signin-submit');
  await page.waitForSelector('#cards .card', { timeout: 15000 });
  const sid = await page.evaluate(async () => (await (await fetch('/api/v1/me')).json()).session_id);
  const admin = await freshPage(browser, DESKTOP);
  await signIn(admin, base, 'bob', 'bob-pw');
  await admin.waitForSelector('#desktops', { state: 'visible', timeout: 15000 });
  const r = await admin.evaluate(async (id) => {
    const me = await (await fetch('/api/v1/me')).json();
    const res = await fetch(`/api/v1/admin/sessions/${id}/disconnect`, { method: 'POST', headers: { 'X-CSRF-Token': me.csrf_token } });
    return res.status;
  }, sid);
  assert.strictEqual(r, 200, 'admin disconnect');
  await page.waitForURL(/m=(expired|signin)/, { timeout: 15000 });
  await page.waitForSelector('#signin-form', { state: 'visible' });
  const notice = await page.textContent('#notice');
  assert.match(notice, /Sign in/);
  console.log(`errors: after the session ended the page says: ${notice}`);
  await shot('session-ended');
  // a page behind sign-in, opened without a session, comes back after sign-in
  await page.goto(`${base}/viewer.html?pool=eng`);
  await page.waitForURL(/m=signin&next=/, { timeout: 15000 });
  await page.waitForSelector('#signin-form', { state: 'visible' });
  await page.fill('#user', 'alice');
  await page.fill('#password', 'alice-pw');
  await page.click('#signin-submit');
  await page.waitForURL(/\/viewer\.html\?pool=eng$/, { timeout: 15000 });
  await page.waitForFunction(() => window.portico && window.portico.launches > 0, null, { timeout: 15000 });
  console.log('errors: the viewer opened before sign-in came back after it and launched');
  g.check();
}

/* The directory is down (the test killed slapd): sign-in says so, and what to do. */
async function unavailable({ page }) {
  page.setDefaultTimeout(15000);
  await page.setViewportSize(DESKTOP);
  const g = guard(page, base);
  const shot = shooter(page, shots);
  await signIn(page, base, 'alice', 'alice-pw');
  await page.waitForFunction(() => document.getElementById('signin-error').textContent.length > 0, null, { timeout: 20000 });
  assert.strictEqual(await page.getAttribute('#signin-error', 'data-code'), 'directory_unavailable');
  const msg = await page.textContent('#signin-error');
  assert.match(msg, /directory cannot be reached/);
  console.log(`unavailable: the page says: ${msg}`);
  await shot('directory-down');
  g.check();
}

run(async (ctx) => {
  if (mode === 'portal') await portal(ctx);
  else if (mode === 'errors') await errors(ctx);
  else if (mode === 'unavailable') await unavailable(ctx);
  else throw new Error(`unknown mode ${mode}`);
}, { timeoutMs: 80000 });
