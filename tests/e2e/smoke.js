'use strict';
/*
 * smoke.js - Chromium renders a page served on 127.0.0.1 and runs its script: the text
 * the test reads is computed in the page, so a browser that only fetched the HTML fails.
 * Usage: node smoke.js   (exit 0 = ok)
 */
const http = require('http');
const assert = require('assert');
const { run } = require('./lib/chromium');

const html = `<!doctype html><html><head><title>portico smoke</title></head><body>
<h1 id="title">static</h1><p id="out">not rendered</p>
<script>
  document.getElementById('out').textContent = 'rendered ' + (6 * 7) + ' ' + navigator.userAgent.includes('Chrome');
  document.title = 'portico ' + location.port;
</script></body></html>`;

const server = http.createServer((req, res) => {
  if (req.url !== '/') {
    res.writeHead(404);
    res.end();
    return;
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end(html);
});

server.listen(0, '127.0.0.1', () => {
  const port = server.address().port;
  run(async ({ page }) => {
    await page.goto(`http://127.0.0.1:${port}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => document.getElementById('out').textContent.startsWith('rendered'), null, { timeout: 10000 });
    assert.strictEqual(await page.textContent('#out'), 'rendered 42 true');
    assert.strictEqual(await page.title(), `portico ${port}`);
    const shot = await page.screenshot();
    assert.ok(shot.length > 1000, 'screenshot is not empty');
    assert.deepStrictEqual(page.portico.errors, []);
    server.close();
  }, { timeoutMs: 30000 });
});
