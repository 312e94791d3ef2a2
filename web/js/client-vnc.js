/*
 * client-vnc.js - noVNC 1.7.0 (stock, from node_modules via vendor/) behind the viewer's
 * client interface. The gateway answers the VNC password challenge itself, so the browser
 * never holds the display password. noVNC draws into its own canvas in @screen, scales it
 * to the window and takes the keyboard while its canvas has focus.
 */
import RFB from '/vendor/novnc/core/rfb.js';

export function connect(screen, gatewayUrl, ticket, hooks) {
  const url = `${gatewayUrl}?ticket=${encodeURIComponent(ticket)}`;
  const holder = document.createElement('div');
  holder.className = 'vnc-holder';
  holder.style.width = '100%';
  holder.style.height = '100%';
  screen.prepend(holder);
  const rfb = new RFB(holder, url, { shared: true });
  let closed = false;
  rfb.scaleViewport = true;
  rfb.resizeSession = false;
  rfb.focusOnClick = true;
  rfb.addEventListener('connect', () => {
    hooks.onQuality('good', 'VNC');
    hooks.onConnected();
  });
  rfb.addEventListener('disconnect', (e) => {
    if (closed) return;
    closed = true;
    hooks.onDisconnected(e.detail && e.detail.clean ? 'the desktop closed the connection' : 'the connection dropped');
  });
  rfb.addEventListener('securityfailure', (e) => {
    hooks.onQuality('poor', 'refused');
    console.warn('vnc: security failure', e.detail && e.detail.reason);
  });
  rfb.addEventListener('credentialsrequired', () => {
    // the gateway should have answered this: say so instead of prompting for a password
    rfb.disconnect();
  });
  rfb.addEventListener('clipboard', (e) => hooks.onClipboard(e.detail.text));
  return {
    kind: 'vnc',
    rfb,
    canvas: () => holder.querySelector('canvas'),
    focus: () => rfb.focus(),
    ctrlAltDel: () => rfb.sendCtrlAltDel(),
    paste: (text) => rfb.clipboardPasteFrom(text),
    resize: () => {}, // scaleViewport follows the container
    drop: () => rfb._sock && rfb._sock._websocket && rfb._sock._websocket.close(),
    disconnect: () => {
      closed = true;
      try {
        rfb.disconnect();
      } catch (e) {
        /* already gone */
      }
      holder.remove();
    },
  };
}
