'use strict';
/*
 * common.js - helpers of the web UI's e2e scripts: numbered screenshots into the artifacts
 * directory, a guard that fails on page errors, CSP violations or any request leaving the
 * broker's origin, and signing in through the real form.
 */
const path = require('path');
const assert = require('assert');

function shooter(page, dir) {
  let n = 0;
  return async (name) => {
    n++;
    const f = path.join(dir, `${String(n).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: f });
    console.log(`shot ${f}`);
    return f;
  };
}

/* Watch a page: every request must go to @origin; console CSP reports and page errors
 * are collected; check() asserts none happened. */
function guard(page, origin) {
  const foreign = [];
  const csp = [];
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(origin) && !u.startsWith('data:') && !u.startsWith('blob:') && !u.startsWith('wss://127.0.0.1')) {
      foreign.push(u);
    }
  });
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) csp.push(m.text());
  });
  return {
    check() {
      assert.deepStrictEqual(foreign, [], `requests left the broker: ${foreign.join(' ')}`);
      assert.deepStrictEqual(csp, [], `CSP violations: ${csp.join(' | ')}`);
      assert.deepStrictEqual(page.portico.errors, [], `page errors: ${page.portico.errors.join(' | ')}`);
    },
  };
}

async function signIn(page, base, user, password) {
  await page.goto(`${base}/`, { waitUntil: 'load' });
  await page.waitForSelector('#signin-form', { state: 'visible', timeout: 10000 });
  await page.fill('#user', user);
  await page.fill('#password', password);
  await page.click('#signin-submit');
}

/* A fresh page in its own browser context (own cookie jar) at @viewport. */
async function freshPage(browser, viewport) {
  const { newPage } = require('../lib/chromium');
  return newPage(browser, { context: { viewport } });
}

/* Nothing is wider than the window (no sideways scrolling at phone width). */
async function assertNoSidewaysScroll(page) {
  const { sw, w } = await page.evaluate(() => ({ sw: document.documentElement.scrollWidth, w: window.innerWidth }));
  assert.ok(sw <= w + 1, `page is ${sw} px wide in a ${w} px window`);
}

module.exports = { shooter, guard, signIn, freshPage, assertNoSidewaysScroll };
