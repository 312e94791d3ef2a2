/*
 * admin.js - the admin console: pools (live counts by state, resize with progress until
 * the pool converges, create and edit), desktops (recycle), sessions (disconnect), hosts
 * (drain/undrain), user resolve and the audit log. Every table is rebuilt from the
 * broker's JSON; the visible tab refreshes every few seconds, the pools tab faster while
 * a resize converges. Text goes into the DOM as text, never as HTML.
 */
import { api, ApiError, el, fmtTime, requireMe, signOut } from './api.js';

const $ = (id) => document.getElementById(id);
const enc = encodeURIComponent;
const REFRESH_MS = 3000;
const FAST_MS = 500;
const COUNT_STATES = ['ready', 'parked', 'assigned', 'connected', 'provisioning', 'starting', 'error'];
const BUSY_STATES = ['provisioning', 'starting', 'recycling', 'deleting'];

let pane = 'pools';
let timer = 0;
const converging = new Map(); // pool name -> {since, target}
let editing = ''; // pool name being edited, '' when creating

function say(text) {
  $('info').textContent = text;
  $('error').textContent = '';
}

function fail(e) {
  if (e instanceof ApiError && e.status === 401) return; // api() goes to sign-in
  $('error').textContent = e.message || String(e);
}

async function act(button, fn) {
  button.disabled = true;
  try {
    await fn();
  } catch (e) {
    fail(e);
  } finally {
    button.disabled = false;
  }
  refresh();
}

/* ---- pools ---------------------------------------------------------------------------- */

/* The size a pool settles at: what is in use plus warm and parked spares, within min..max. */
function targetTotal(p) {
  return Math.min(Math.max((p.in_use || 0) + p.warm + p.parked, p.min), p.max);
}

function converged(p) {
  const busy = BUSY_STATES.reduce((n, s) => n + (p.counts[s] || 0), 0);
  return p.actions === 0 && busy === 0 && p.total === targetTotal(p);
}

function progressCell(p) {
  const c = converging.get(p.name);
  if (!c) return el('td', { class: 'progress' }, converged(p) ? 'steady' : el('span', { class: 'muted' }, 'settling…'));
  const target = targetTotal(p);
  if (converged(p)) {
    converging.delete(p.name);
    say(`Pool ${p.name} converged: ${p.total} desktops (${p.counts.ready || 0} ready) in ${((Date.now() - c.since) / 1000).toFixed(1)} s.`);
    return el('td', { class: 'progress', 'data-converged': 'true' }, 'converged');
  }
  const settled = (p.counts.ready || 0) + (p.counts.parked || 0) + (p.in_use || 0);
  return el('td', { class: 'progress', 'data-converged': 'false' },
    el('progress', { max: Math.max(target, 1), value: Math.min(settled, target), 'aria-label': `Pool ${p.name} converging` }),
    ` ${p.total}→${target}` + (p.actions ? `, ${p.actions} action${p.actions > 1 ? 's' : ''}` : ''));
}

function resizeForm(p) {
  const field = (k) => el('label', {}, k, el('input', { name: k, value: p[k], inputmode: 'numeric', 'aria-label': `${k} of ${p.name}`, size: 4 }));
  const form = el('form', { class: 'inline resize', 'data-pool': p.name },
    field('min'), field('warm'), field('max'),
    el('button', { type: 'submit', 'aria-label': `Resize ${p.name}` }, 'Resize'));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const body = {};
    for (const k of ['min', 'warm', 'max']) {
      const v = form.elements[k].value.trim();
      if (!/^\d+$/.test(v)) {
        $('error').textContent = `${k} of ${p.name} must be a whole number (0 or more).`;
        form.elements[k].focus();
        return;
      }
      body[k] = Number(v);
    }
    act(form.querySelector('button'), async () => {
      await api('POST', `/admin/pools/${enc(p.name)}/resize`, body);
      converging.set(p.name, { since: Date.now() });
      say(`Pool ${p.name}: resizing to min ${body.min}, warm ${body.warm}, max ${body.max}…`);
    });
  });
  return form;
}

function poolRow(p) {
  return el('tr', { 'data-pool': p.name },
    el('th', { scope: 'row' }, p.name, p.paused ? el('div', { class: 'state error' }, `paused: ${p.pause_reason}`) : null),
    COUNT_STATES.map((s) => el('td', { class: `num count-${s}`, 'data-label': s }, p.counts[s] || 0)),
    el('td', { class: 'num total', 'data-label': 'total' }, p.total),
    el('td', {}, resizeForm(p)),
    progressCell(p),
    el('td', {}, el('button', { type: 'button', 'aria-label': `Edit ${p.name}`, onclick: () => editPool(p.name) }, 'Edit')));
}

async function loadPools() {
  const d = await api('GET', '/admin/pools');
  const tbody = $('pools-table').tBodies[0];
  // keep a half-typed resize: skip rebuilding a row whose form has focus
  const active = document.activeElement && document.activeElement.closest('form.resize');
  const rows = d.pools.map((p) => {
    if (active && active.dataset.pool === p.name) {
      const row = active.closest('tr');
      COUNT_STATES.forEach((s) => { row.querySelector(`.count-${s}`).textContent = p.counts[s] || 0; });
      row.querySelector('.total').textContent = p.total;
      row.querySelector('.progress').replaceWith(progressCell(p));
      return row;
    }
    return poolRow(p);
  });
  tbody.replaceChildren(...rows);
  if (!d.pools.length) tbody.append(el('tr', {}, el('td', { colspan: 12, class: 'muted' }, 'No pools yet: create one below.')));
}

const SPEC_KEYS = ['image', 'image_version', 'memory', 'vcpus', 'protocols', 'min', 'warm', 'max', 'groups', 'assignment', 'on_logoff', 'domain_type'];

async function editPool(name) {
  try {
    const d = await api('GET', `/admin/pools/${enc(name)}`);
    editing = name;
    const f = $('pool-form');
    f.elements.name.value = name;
    f.elements.name.readOnly = true;
    for (const k of SPEC_KEYS) f.elements[k].value = (d.spec && d.spec[k]) || '';
    $('pool-form-title').textContent = `Edit pool ${name}`;
    $('pf-submit').textContent = 'Save changes';
    $('pf-cancel').hidden = false;
    f.elements.image.focus();
  } catch (e) {
    fail(e);
  }
}

function resetPoolForm() {
  editing = '';
  const f = $('pool-form');
  f.reset();
  f.elements.name.readOnly = false;
  $('pool-form-title').textContent = 'Create a pool';
  $('pf-submit').textContent = 'Create pool';
  $('pf-cancel').hidden = true;
}

async function submitPool(ev) {
  ev.preventDefault();
  const f = $('pool-form');
  const name = f.elements.name.value.trim();
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    $('error').textContent = 'A pool name is lower-case letters, digits and dashes, starting with a letter or digit.';
    f.elements.name.focus();
    return;
  }
  const spec = {};
  for (const k of SPEC_KEYS) {
    const v = f.elements[k].value.trim();
    if (v !== '') spec[k] = /^\d+$/.test(v) && !['image_version'].includes(k) ? Number(v) : v;
  }
  await act($('pf-submit'), async () => {
    if (editing) {
      await api('PATCH', `/admin/pools/${enc(editing)}`, { spec });
      say(`Pool ${editing} saved.`);
    } else {
      if (!spec.image) throw new ApiError(400, 'invalid_request', 'A new pool needs its golden image.');
      await api('POST', '/admin/pools', { name, spec });
      say(`Pool ${name} created.`);
    }
    resetPoolForm();
  });
}

/* ---- desktops, sessions, hosts, users, audit ------------------------------------------- */

async function loadDesktops() {
  const d = await api('GET', '/admin/desktops');
  $('desktops-table').tBodies[0].replaceChildren(...d.desktops.map((x) => el('tr', { 'data-desktop': x.id },
    el('th', { scope: 'row' }, x.id), el('td', {}, x.pool), el('td', {}, x.host), el('td', {}, x.domain),
    el('td', {}, el('span', { class: `state ${x.state}` }, x.state)), el('td', {}, x.user || ''),
    el('td', {}, fmtTime(x.state_since)),
    el('td', {}, x.user ? el('button', {
      type: 'button', class: 'danger', 'aria-label': `Recycle ${x.id}`,
      onclick: (ev) => {
        if (!confirm(`Log ${x.user} off ${x.id}? Unsaved work in the desktop may be lost.`)) return;
        act(ev.target, async () => {
          await api('POST', `/admin/desktops/${enc(x.id)}/recycle`);
          say(`${x.id}: ${x.user} logged off; the desktop is recycling.`);
        });
      },
    }, 'Recycle') : ''))));
}

function dur(s) {
  if (s < 90) return `${s} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

async function loadSessions() {
  const d = await api('GET', '/admin/sessions');
  $('sessions-table').tBodies[0].replaceChildren(...d.sessions.map((s) => el('tr', { 'data-session': s.session_id },
    el('th', { scope: 'row' }, s.user, s.admin ? el('span', { class: 'badge' }, 'admin') : null),
    el('td', {}, el('code', {}, s.session_id)), el('td', {}, s.peer || ''),
    el('td', { class: 'num' }, dur(s.age_s)), el('td', { class: 'num' }, dur(s.idle_s)),
    el('td', {}, (s.tunnels || []).map((t) => t.desktop).join(', ')),
    el('td', {}, el('button', {
      type: 'button', class: 'danger', 'aria-label': `Disconnect ${s.user}`,
      onclick: (ev) => act(ev.target, async () => {
        await api('POST', `/admin/sessions/${enc(s.session_id)}/disconnect`);
        say(`${s.user} is signed out.`);
      }),
    }, 'Disconnect')))));
}

async function loadHosts() {
  const d = await api('GET', '/admin/hosts');
  $('hosts-table').tBodies[0].replaceChildren(...d.hosts.map((h) => el('tr', { 'data-host': h.name },
    el('th', { scope: 'row' }, h.name),
    el('td', {}, el('span', { class: `state ${h.up ? 'ready' : 'error'}` }, h.up ? 'up' : 'down')),
    el('td', {}, h.draining ? 'draining' : 'no'),
    el('td', { class: 'num' }, h.desktops), el('td', { class: 'num' }, h.actions),
    el('td', { class: 'num' }, h.mem_free_kib ? `${(h.mem_free_kib / 1048576).toFixed(1)} GiB` : 'unknown'),
    el('td', {}, el('button', {
      type: 'button', 'aria-label': `${h.draining ? 'Undrain' : 'Drain'} ${h.name}`,
      onclick: (ev) => act(ev.target, async () => {
        await api('POST', `/admin/hosts/${enc(h.name)}/${h.draining ? 'undrain' : 'drain'}`);
        say(h.draining ? `${h.name} takes new desktops again.` : `${h.name} takes no new desktops.`);
      }),
    }, h.draining ? 'Undrain' : 'Drain')))));
}

async function resolveUser(ev) {
  ev.preventDefault();
  const login = $('uf-login').value.trim();
  const out = $('user-result');
  if (!login) return;
  try {
    const u = await api('GET', `/admin/users/${enc(login)}`);
    out.replaceChildren(el('dl', {},
      el('dt', {}, 'DN'), el('dd', {}, u.dn),
      el('dt', {}, 'Name'), el('dd', {}, u.display || '(none)'),
      el('dt', {}, 'Admin'), el('dd', {}, u.admin ? 'yes' : 'no'),
      el('dt', {}, 'Disabled'), el('dd', {}, u.disabled ? 'yes' : 'no'),
      el('dt', {}, 'Groups'), el('dd', {}, (u.groups || []).map((g) => `${g.name} (${g.via}${g.depth ? `, depth ${g.depth}` : ''})`).join(', ') || '(none)'),
      el('dt', {}, 'Pools'), el('dd', {}, (u.pools || []).join(', ') || '(none)')));
    $('error').textContent = '';
  } catch (e) {
    out.replaceChildren();
    if (e.code === 'not_found') $('error').textContent = `No user “${login}” in the directory.`;
    else fail(e);
  }
}

async function loadAudit() {
  const q = new URLSearchParams();
  const action = $('af-action').value.trim();
  const limit = $('af-limit').value.trim() || '100';
  q.set('limit', limit);
  if (action) q.set('action', action);
  const d = await api('GET', `/admin/audit?${q}`);
  $('audit-table').tBodies[0].replaceChildren(...d.entries.map((a) => el('tr', {},
    el('td', {}, fmtTime(a.time)), el('td', {}, a.actor), el('td', {}, a.action), el('td', {}, a.target || ''),
    el('td', {}, el('span', { class: `state ${a.result === 'ok' ? 'ready' : 'error'}` }, a.result)), el('td', {}, a.detail || ''))));
}

/* ---- tabs and refresh ------------------------------------------------------------------ */

const LOADERS = { pools: loadPools, desktops: loadDesktops, sessions: loadSessions, hosts: loadHosts, users: null, audit: loadAudit };

async function refresh() {
  clearTimeout(timer);
  const load = LOADERS[pane];
  if (load && document.visibilityState === 'visible') {
    try {
      await load();
    } catch (e) {
      fail(e);
    }
  }
  if (load) timer = setTimeout(refresh, pane === 'pools' && converging.size ? FAST_MS : REFRESH_MS);
}

function show(name, focus) {
  pane = LOADERS[name] !== undefined ? name : 'pools';
  for (const b of document.querySelectorAll('nav.tabs button')) {
    const on = b.dataset.pane === pane;
    b.setAttribute('aria-selected', String(on));
    b.tabIndex = on ? 0 : -1;
    $(`pane-${b.dataset.pane}`).hidden = !on;
    if (on && focus) b.focus();
  }
  if (location.hash !== `#${pane}`) history.replaceState(null, '', `#${pane}`);
  $('error').textContent = '';
  refresh();
}

async function start() {
  $('signout').addEventListener('click', signOut);
  const who = await requireMe();
  $('who').textContent = who.display || who.user;
  if (!who.admin) {
    $('forbidden').hidden = false;
    return;
  }
  $('console').hidden = false;
  const tabs = [...document.querySelectorAll('nav.tabs button')];
  tabs.forEach((b, i) => {
    b.addEventListener('click', () => show(b.dataset.pane));
    b.addEventListener('keydown', (ev) => {
      // arrow keys move between tabs (WAI-ARIA tabs pattern)
      if (ev.key !== 'ArrowRight' && ev.key !== 'ArrowLeft') return;
      const next = tabs[(i + (ev.key === 'ArrowRight' ? 1 : tabs.length - 1)) % tabs.length];
      show(next.dataset.pane, true);
    });
  });
  $('pool-form').addEventListener('submit', submitPool);
  $('pf-cancel').addEventListener('click', resetPoolForm);
  $('user-form').addEventListener('submit', resolveUser);
  $('audit-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    refresh();
  });
  document.addEventListener('visibilitychange', refresh);
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  show(location.hash.slice(1) || 'pools');
}

start();
