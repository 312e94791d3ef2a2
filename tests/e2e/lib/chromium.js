'use strict';
/*
 * chromium.js - launch Debian's /usr/bin/chromium headless through playwright-core (no
 * browser download), with the flags measured in LAB.md section 6, and run a test body
 * with a hard deadline so a hung page can never hang ctest.
 *
 *   const { run } = require('./lib/chromium');
 *   run(async ({ page }) => { await page.goto(url); ... }, { timeoutMs: 20000 });
 *
 * Env: PORTICO_CHROMIUM (default /usr/bin/chromium), PORTICO_E2E_SHOTS=DIR saves a
 * screenshot of the page when the body fails.
 */
const path = require('path');
const { chromium } = require('playwright-core');

const FLAGS = [
  '--no-sandbox', // root in a VM without user namespaces for the sandbox
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-default-apps',
  '--disable-extensions',
  '--disable-dev-shm-usage',
  '--window-size=1024,768',
];

async function launch(opts = {}) {
  return chromium.launch({
    executablePath: process.env.PORTICO_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: FLAGS.concat(opts.args || []),
    timeout: opts.launchTimeoutMs || 30000,
  });
}

/* A page in a fresh context; errors thrown by the page's scripts are collected in
 * page.portico.errors so tests can assert there were none. */
async function newPage(browser, opts = {}) {
  const context = await browser.newContext({
    ignoreHTTPSErrors: true, // our test CAs are per instance
    viewport: { width: 1024, height: 768 },
    ...(opts.context || {}),
  });
  const page = await context.newPage();
  page.portico = { errors: [], console: [] };
  page.on('pageerror', (e) => page.portico.errors.push(String(e)));
  page.on('console', (m) => page.portico.console.push(`${m.type()}: ${m.text()}`));
  return page;
}

/*
 * run() - launch, open a page, await body({ browser, page }), close; exit 0 on success,
 * 1 on failure (message on stderr), 2 on deadline. Never returns.
 */
function run(body, opts = {}) {
  const timeoutMs = opts.timeoutMs || 30000;
  let browser = null;
  let page = null;
  const t0 = Date.now();
  const timer = setTimeout(() => {
    console.error(`e2e: deadline of ${timeoutMs} ms passed`);
    if (browser) browser.close().catch(() => {});
    process.exit(2);
  }, timeoutMs);

  (async () => {
    try {
      browser = await launch(opts);
      page = await newPage(browser, opts);
      await body({ browser, page });
      console.log(`e2e: ok in ${Date.now() - t0} ms`);
      await browser.close();
      clearTimeout(timer);
      process.exit(0);
    } catch (e) {
      console.error(`e2e: FAILED: ${e && e.stack ? e.stack : e}`);
      if (page) {
        for (const line of page.portico.console.slice(-20)) console.error(`  console ${line}`);
        const dir = process.env.PORTICO_E2E_SHOTS;
        if (dir) {
          const f = path.join(dir, `e2e-${process.pid}.png`);
          await page.screenshot({ path: f }).catch(() => {});
          console.error(`  screenshot ${f}`);
        }
      }
      if (browser) await browser.close().catch(() => {});
      clearTimeout(timer);
      process.exit(1);
    }
  })();
}

module.exports = { FLAGS, launch, newPage, run };
