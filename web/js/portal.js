/*
 * portal.js - the sign-in form and the user's desktops as cards. Opening a desktop goes to
 * viewer.html, which asks the broker for the ticket itself (so a reconnect there is the
 * same call). The card list refreshes every few seconds while the page is visible.
 */
import { api, ApiError, el, me, setCsrf, signOut } from './api.js';

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 5000;
let refreshTimer = 0;

/* Sentences for the reasons other pages send people here with (?m=...). */
const NOTICES = {
  expired: 'Your session expired. Sign in again to continue.',
  signin: 'Sign in to continue.',
  signed_out: 'You are signed out.',
  ended: 'An administrator ended your session. Sign in again to continue.',
  sso: 'That desktop signs you in with your own password. Sign in again to continue.',
};

/* What a failed sign-in tells the person, by the broker's code. The broker's own message
 * is used where it carries the specifics (how many minutes a lock lasts). */
function signInMessage(e) {
  switch (e.code) {
    case 'bad_credentials':
      return 'Wrong user name or password. Check both (is Caps Lock on?) and try again.';
    case 'invalid_request':
      return 'Enter your user name and your password.';
    case 'account_disabled':
      return `${e.message} Your help desk can re-enable it.`;
    case 'signin_locked':
      // the broker's sentence says for how long ("Try again in 4 minutes.")
      return `${e.message} The lock stops password guessing; your help desk can lift it sooner.`;
    case 'directory_unavailable':
      return 'The company directory cannot be reached, so sign-in is not possible right now. Try again in a few minutes; if it keeps failing, tell your help desk.';
    case 'directory_not_configured':
      return 'Sign-in is not set up on this portal yet (no directory configured). Tell your administrator.';
    case 'rate_limited':
      return `Too many requests from your address. Wait ${e.retryAfter || 1} second(s) and try again.`;
    case 'network':
      return e.message;
    default:
      return e.message || 'Sign-in failed. Try again later.';
  }
}

function showSignIn() {
  clearInterval(refreshTimer);
  $('signin').hidden = false;
  $('desktops').hidden = true;
  $('who').hidden = true;
  $('signout').hidden = true;
  $('admin-link').hidden = true;
  document.title = 'Portico – sign in';
  $('user').focus();
}

function showSignedIn(who) {
  $('signin').hidden = true;
  $('desktops').hidden = false;
  $('who').hidden = false;
  $('who').textContent = who.display || who.user;
  $('signout').hidden = false;
  $('admin-link').hidden = !who.admin;
  document.title = 'Portico – your desktops';
  loadDesktops();
  clearInterval(refreshTimer);
  refreshTimer = setInterval(() => {
    if (document.visibilityState === 'visible') loadDesktops();
  }, REFRESH_MS);
}

function protocolLabel(p) {
  return { rdp: 'RDP', spice: 'SPICE', vnc: 'VNC' }[p] || p;
}

function card(pool) {
  const mine = pool.my_desktop;
  const state = mine ? mine.state : pool.available ? 'available' : 'unavailable';
  const stateText = mine
    ? `Your desktop ${mine.id} is ${mine.state}`
    : !pool.available
      ? 'No desktop free right now'
      : pool.ready > 0
        ? `${pool.ready} ready of ${pool.total}`
        : 'A desktop starts when you open it (this can take a minute)';
  const protocols = pool.protocols || [];
  const open = (protocol) => {
    const q = new URLSearchParams({ pool: pool.name });
    if (protocol) q.set('protocol', protocol);
    location.assign('/viewer.html?' + q.toString());
  };
  const actions = el('div', { class: 'actions' },
    el('button', {
      type: 'button', class: 'primary open', 'data-pool': pool.name,
      'aria-label': `Open ${pool.name}`, onclick: () => open(''),
    }, mine ? 'Reconnect' : 'Open'));
  if (protocols.length > 1) {
    for (const p of protocols) {
      actions.append(el('button', {
        type: 'button', class: 'open-proto', 'data-pool': pool.name, 'data-protocol': p,
        'aria-label': `Open ${pool.name} with ${protocolLabel(p)}`, onclick: () => open(p),
      }, protocolLabel(p)));
    }
  }
  if (mine) {
    actions.append(el('button', {
      type: 'button', class: 'danger', 'aria-label': `Log off ${pool.name}`,
      onclick: async (ev) => {
        ev.target.disabled = true;
        try {
          await api('POST', `/pools/${encodeURIComponent(pool.name)}/logoff`);
        } catch (e) {
          $('desktops-error').textContent = e.message;
        }
        loadDesktops();
      },
    }, 'Log off'));
  }
  return el('li', { class: 'card', 'data-pool': pool.name },
    el('h2', {}, pool.name),
    el('div', {}, protocols.map((p) => el('span', { class: 'badge protocol' }, protocolLabel(p)))),
    el('div', {}, el('span', { class: `state ${state}` }, stateText)),
    el('div', { class: 'muted' }, `${pool.assignment === 'dedicated' ? 'Dedicated' : 'Shared'} desktop pool · ${pool.in_use} in use`),
    actions);
}

async function loadDesktops() {
  try {
    const d = await api('GET', '/desktops');
    const cards = $('cards');
    const focused = document.activeElement && document.activeElement.closest('.card');
    const focusKey = focused ? focused.dataset.pool : null;
    cards.replaceChildren(...d.pools.map(card));
    $('desktops-empty').hidden = d.pools.length > 0;
    $('desktops-error').textContent = '';
    if (focusKey) {
      const again = cards.querySelector(`.card[data-pool="${CSS.escape(focusKey)}"] button`);
      if (again) again.focus();
    }
  } catch (e) {
    if (e instanceof ApiError && e.status === 401) return; // api() is taking us to sign-in
    $('desktops-error').textContent = `Your desktops could not be listed: ${e.message}`;
  }
}

async function onSubmit(ev) {
  ev.preventDefault();
  const user = $('user').value.trim();
  const password = $('password').value;
  const errBox = $('signin-error');
  errBox.textContent = '';
  if (!user || !password) {
    errBox.textContent = 'Enter your user name and your password.';
    (user ? $('password') : $('user')).focus();
    return;
  }
  $('signin-submit').disabled = true;
  $('signin-submit').textContent = 'Signing in…';
  try {
    const who = await api('POST', '/login', { user, password }, { noRedirect: true });
    setCsrf(who.csrf_token);
    $('password').value = '';
    $('notice').textContent = '';
    const next = new URLSearchParams(location.search).get('next');
    if (next && next.startsWith('/') && !next.startsWith('//')) {
      location.assign(next);
      return;
    }
    history.replaceState(null, '', '/');
    showSignedIn(who);
  } catch (e) {
    errBox.textContent = signInMessage(e);
    errBox.dataset.code = e.code || '';
    $('password').value = '';
    $('password').focus();
  } finally {
    $('signin-submit').disabled = false;
    $('signin-submit').textContent = 'Sign in';
  }
}

async function start() {
  const m = new URLSearchParams(location.search).get('m');
  $('notice').textContent = NOTICES[m] || '';
  $('signin-form').addEventListener('submit', onSubmit);
  $('signout').addEventListener('click', signOut);
  let who = null;
  try {
    who = await me();
  } catch (e) {
    $('signin-error').textContent = signInMessage(e);
  }
  if (who) showSignedIn(who);
  else showSignIn();
}

start();
