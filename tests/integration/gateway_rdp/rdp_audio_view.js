'use strict';
/*
 * rdp_audio_view.js - the desktop's sound reaches the stock guacamole-common-js 1.5.0
 * client in headless Chromium, through portico-gateway from the tone test server. Run by
 * test_rdp_browser.c through tf_node_run.
 *
 *   node rdp_audio_view.js WS_URL TICKET MIMETYPE
 *
 * The client's own "audio" handler picks the player (Guacamole.AudioPlayer.getInstance,
 * as without onaudio); we only watch it: the stream must announce MIMETYPE, the player
 * must be a Guacamole.RawAudioPlayer (the browser accepted the format), and its blobs
 * must carry a second of PCM. Nothing needs to be heard. Exit 0 on success.
 */
const path = require('path');
const { run } = require(path.resolve(process.env.NODE_PATH, '..', 'lib', 'chromium.js'));

const [wsUrl, ticket, wantMime] = process.argv.slice(2);
const guacJs = path.resolve(__dirname, '..', '..', '..', 'web', 'node_modules',
  'guacamole-common-js', 'dist', 'cjs', 'guacamole-common.js');

run(async ({ page }) => {
  await page.setContent('<!doctype html><html><body></body></html>');
  await page.addScriptTag({ content: 'var module = { exports: {} };' });
  await page.addScriptTag({ path: guacJs });
  const r = await page.evaluate(async ({ wsUrl, ticket }) => {
    const tunnel = new Guacamole.WebSocketTunnel(wsUrl);
    const client = new Guacamole.Client(tunnel);
    const seen = { mimetypes: [], raw: false, bytes: 0, error: null };
    client.onerror = (s) => { seen.error = `${s.code} ${s.message}`; };
    client.onaudio = (stream, mimetype) => {
      const player = Guacamole.AudioPlayer.getInstance(stream, mimetype);
      seen.mimetypes.push(mimetype);
      seen.raw = player instanceof Guacamole.RawAudioPlayer;
      if (player) {
        const onblob = stream.onblob;
        stream.onblob = (data) => { seen.bytes += Math.floor(data.length * 3 / 4); onblob(data); };
      }
      return player;
    };
    document.body.appendChild(client.getDisplay().getElement());
    client.connect('ticket=' + encodeURIComponent(ticket));
    for (let i = 0; i < 200; i++) {
      await new Promise((res) => setTimeout(res, 100));
      if (seen.error || seen.bytes >= 176400) break;
    }
    client.disconnect();
    return seen;
  }, { wsUrl, ticket });
  console.log(`rdp_audio_view: ${JSON.stringify(r)}`);
  if (r.error) throw new Error(`client error: ${r.error}`);
  if (r.mimetypes[0] !== wantMime) throw new Error(`audio stream announced ${r.mimetypes}`);
  if (!r.raw) throw new Error('no Guacamole.RawAudioPlayer for the stream');
  if (r.bytes < 176400) throw new Error(`only ${r.bytes} PCM bytes reached the player`);
});
