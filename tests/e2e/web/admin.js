'use strict';
/*
 * admin.js - the admin console in Chromium against a running broker (test_web.c).
 *
 *   node web/admin.js admin BASE_URL SHOT_DIR
 *
 * bob (admin) signs in, follows the portal's admin link; the pools table shows the
 * broker's counts; resizing "eng" to warm 3 through the form shows progress and the ready
 * count climbs to 3 (the page's cells are compared with /api/v1/admin/pools), then back to
 * warm 0 and the count follows down. Desktops, hosts, sessions, user resolve and the audit
 * log (which has the resizes) are each shown. alice, no admin, is refused the console.
 */
const assert = require('assert');
const { run } = require('../lib/chromium');
const { shooter, guard, signIn, freshPage, assertNoSidewaysScroll } = require('./common');

const [mode, base, shots] = process.argv.slice(2);
const DESKTOP = { width: 1366, height: 768 };

async function cell(page, pool, cls) {
  return Number(await page.textContent(`#pools-table tr[data-pool="${pool}"] .${cls}`));
}

async function resize(page, pool, min, warm, max) {
  const form = `#pools-table form[data-pool="${pool}"]`;
  await page.fill(`${form} input[name=min]`, String(min));
  await page.fill(`${form} input[name=warm]`, String(warm));
  await page.fill(`${form} input[name=max]`, String(max));
  await page.click(`${form} button`);
}

/* Wait until the page shows @want ready desktops in @pool; returns ms taken and the
 * sequence of ready counts the page showed on the way. */
async function follow(page, pool, want, timeoutMs) {
  const t0 = Date.now();
  const seen = [];
  for (;;) {
    const ready = await cell(page, pool, 'count-ready').catch(() => NaN);
    if (seen[seen.length - 1] !== ready) seen.push(ready);
    if (ready === want) return { ms: Date.now() - t0, seen };
    if (Date.now() - t0 > timeoutMs) throw new Error(`${pool}: ready count ${seen.join('→')} never reached ${want}`);
    await page.waitForTimeout(100);
  }
}

async function admin({ browser, page }) {
  page.setDefaultTimeout(15000);
  await page.setViewportSize(DESKTOP);
  const g = guard(page, base);
  const shot = shooter(page, shots);
  await signIn(page, base, 'bob', 'bob-pw');
  await page.waitForSelector('#admin-link', { state: 'visible', timeout: 15000 });
  await page.click('#admin-link');
  await page.waitForSelector('#pools-table tr[data-pool="eng"]', { timeout: 15000 });
  // the table says what the broker says (settled pool: warm 1 ready)
  await follow(page, 'eng', 1, 15000);
  const api = await page.evaluate(async () => (await (await fetch('/api/v1/admin/pools')).json()));
  for (const p of api.pools) {
    for (const s of ['ready', 'assigned', 'error']) {
      assert.strictEqual(await cell(page, p.name, `count-${s}`), p.counts[s] || 0, `${p.name} ${s}`);
    }
    assert.strictEqual(await cell(page, p.name, 'total'), p.total, `${p.name} total`);
  }
  await shot('pools');

  // resize up: warm 3, and the counts follow
  await resize(page, 'eng', 0, 3, 4);
  await page.waitForSelector('#pools-table tr[data-pool="eng"] progress, #pools-table tr[data-pool="eng"] [data-converged]', { timeout: 5000 });
  await shot('pools-resizing');
  const up = await follow(page, 'eng', 3, 30000);
  await page.waitForSelector('#pools-table tr[data-pool="eng"] [data-converged="true"]', { timeout: 15000 });
  console.log(`admin: warm 1→3: ready counts shown ${up.seen.join('→')} in ${up.ms} ms`);
  const after = await page.evaluate(async () => (await (await fetch('/api/v1/admin/pools/eng')).json()));
  assert.strictEqual(after.warm, 3);
  assert.strictEqual(after.counts.ready, 3);
  assert.match(await page.textContent('#info'), /converged/);
  await shot('pools-converged');

  // and down again
  await resize(page, 'eng', 0, 0, 4);
  const down = await follow(page, 'eng', 0, 30000);
  console.log(`admin: warm 3→0: ready counts shown ${down.seen.join('→')} in ${down.ms} ms`);

  // a refused size shows the broker's sentence
  await resize(page, 'eng', 5, 0, 2);
  await page.waitForFunction(() => document.getElementById('error').textContent.length > 0, null, { timeout: 5000 });
  console.log(`admin: min 5 > max 2 says: ${await page.textContent('#error')}`);
  await shot('pools-invalid');

  // edit the pool through the form: the spec comes back filled in
  await page.click('#pools-table tr[data-pool="win"] button:has-text("Edit")');
  await page.waitForFunction(() => document.getElementById('pf-name').value === 'win');
  assert.strictEqual(await page.inputValue('#pf-image'), '/golden/base.qcow2');
  await page.fill('#pf-max', '3');
  await page.click('#pf-submit');
  await page.waitForFunction(() => /saved/.test(document.getElementById('info').textContent), null, { timeout: 5000 });
  const win = await page.evaluate(async () => (await (await fetch('/api/v1/admin/pools/win')).json()));
  assert.strictEqual(win.max, 3, 'edit saved max = 3');

  // create a pool
  await page.fill('#pf-name', 'qa');
  await page.fill('#pf-image', '/golden/base.qcow2');
  await page.fill('#pf-memory', '128');
  await page.selectOption('#pf-domain_type', 'test');
  await page.fill('#pf-max', '2');
  await page.fill('#pf-warm', '1');
  await page.click('#pf-submit');
  await page.waitForSelector('#pools-table tr[data-pool="qa"]', { timeout: 10000 });
  await follow(page, 'qa', 1, 20000);
  await shot('pool-created');

  // the other tabs, by keyboard: focus the Pools tab, arrows move
  await page.focus('#tab-pools');
  await page.keyboard.press('ArrowRight');
  await page.waitForSelector('#desktops-table tbody tr', { timeout: 10000 });
  assert.strictEqual(await page.evaluate(() => document.activeElement.id), 'tab-desktops');
  const desks = await page.$$eval('#desktops-table tbody tr', (rs) => rs.length);
  const apiDesks = await page.evaluate(async () => (await (await fetch('/api/v1/admin/desktops')).json()).desktops.length);
  assert.ok(desks > 0 && Math.abs(desks - apiDesks) <= 1, `desktops shown ${desks}, API ${apiDesks}`);
  await shot('desktops');
  await page.click('#tab-sessions');
  await page.waitForSelector('#sessions-table tbody tr', { timeout: 10000 });
  assert.ok((await page.textContent('#sessions-table tbody')).includes('bob'));
  await shot('sessions');
  await page.click('#tab-hosts');
  await page.waitForSelector('#hosts-table tr[data-host="local"]', { timeout: 10000 });
  await page.click('#hosts-table tr[data-host="local"] button');
  await page.waitForFunction(() => /draining/.test(document.querySelector('#hosts-table tr[data-host="local"]').textContent), null, { timeout: 5000 });
  await shot('hosts-draining');
  await page.click('#hosts-table tr[data-host="local"] button');
  await page.waitForFunction(() => /Drain$/.test(document.querySelector('#hosts-table tr[data-host="local"] button').textContent), null, { timeout: 5000 });
  await page.click('#tab-users');
  await page.fill('#uf-login', 'alice');
  await page.press('#uf-login', 'Enter');
  await page.waitForSelector('#user-result dl', { timeout: 10000 });
  const u = await page.textContent('#user-result');
  assert.ok(u.includes('desktop-users') && u.includes('uid=alice'), u);
  await shot('user-resolved');
  await page.click('#tab-audit');
  await page.waitForSelector('#audit-table tbody tr', { timeout: 10000 });
  const audit = await page.textContent('#audit-table tbody');
  assert.ok(audit.includes('pool.resize') && audit.includes('host.drain') && audit.includes('pool.create'), audit.slice(0, 400));
  await shot('audit');
  // phone width: the tables scroll inside their box, the page itself does not
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#tab-pools');
  await page.waitForSelector('#pools-table tr[data-pool="eng"]');
  await assertNoSidewaysScroll(page);
  await shot('pools-phone');
  g.check();

  // alice is no admin: the console refuses her with a sentence
  const alice = await freshPage(browser, DESKTOP);
  await signIn(alice, base, 'alice', 'alice-pw');
  await alice.waitForSelector('#cards', { timeout: 15000 });
  await alice.goto(`${base}/admin.html`);
  await alice.waitForSelector('#forbidden', { state: 'visible', timeout: 10000 });
  assert.ok(await alice.isHidden('#console'));
}

run(async (ctx) => {
  if (mode === 'admin') await admin(ctx);
  else throw new Error(`unknown mode ${mode}`);
}, { timeoutMs: 85000 });
