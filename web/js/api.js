/*
 * api.js - the broker's /api/v1 from the browser: JSON in and out, the session cookie sent
 * by the browser (HttpOnly: scripts never see it), the CSRF token from sign-in or /me sent
 * as X-CSRF-Token on every state-changing call, and one place that turns "your session is
 * gone" into a trip to the sign-in page with a message instead of a broken page.
 */

let csrf = '';

/* An error the broker answered: status, its stable code, its message for people. */
export class ApiError extends Error {
  constructor(status, code, message, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

export function setCsrf(token) {
  csrf = token || '';
}

/* Codes that mean the session cookie no longer names a live session, or (sign_in_again)
 * one that cannot launch a single sign-on desktop until the user signs in once more. */
const SESSION_GONE = new Set(['not_signed_in', 'session_expired', 'sign_in_again']);

/*
 * api() - one call; resolves to the parsed body (or {} for an empty one) with .status set,
 * rejects with ApiError. A 401 of a lost session on any page but sign-in sends the browser
 * to the sign-in page (unless opts.noRedirect), saying why.
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && csrf) headers['X-CSRF-Token'] = csrf;
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'network', 'The portal cannot reach the broker. Check your network connection and try again.');
  }
  let data = {};
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (e) {
      data = {};
    }
  }
  if (res.ok) {
    if (data && typeof data === 'object') data.status = res.status;
    return data;
  }
  const err = (data && data.error) || {};
  const code = err.code || `http_${res.status}`;
  const message = err.message || `The broker answered ${res.status} ${res.statusText}.`;
  const retryAfter = Number(res.headers.get('Retry-After')) || 0;
  if (res.status === 401 && SESSION_GONE.has(code) && !opts.noRedirect) {
    goSignIn(code === 'session_expired' ? 'expired' : code === 'sign_in_again' ? 'sso' : 'signin');
  }
  throw new ApiError(res.status, code, message, retryAfter);
}

/* goSignIn() - to the sign-in page with a reason the page turns into a sentence; the page
 * the user was on comes back after sign-in. */
export function goSignIn(reason) {
  const back = location.pathname + location.search;
  const q = new URLSearchParams({ m: reason });
  if (back !== '/' && !back.startsWith('/index.html')) q.set('next', back);
  location.replace('/?' + q.toString());
}

/* me() - who is signed in (and the CSRF token), or null when nobody is. */
export async function me() {
  try {
    const who = await api('GET', '/me', undefined, { noRedirect: true });
    setCsrf(who.csrf_token);
    return who;
  } catch (e) {
    if (e instanceof ApiError && SESSION_GONE.has(e.code)) return null;
    throw e;
  }
}

/* requireMe() - for pages behind sign-in: who is signed in, or off to sign in. */
export async function requireMe() {
  const who = await me();
  if (!who) {
    goSignIn('signin');
    return new Promise(() => {}); // the page is going away
  }
  return who;
}

export async function signOut() {
  try {
    await api('POST', '/logout', undefined, { noRedirect: true });
  } catch (e) {
    /* signed out already, or the broker is gone: either way, back to sign-in */
  }
  setCsrf('');
  location.replace('/?m=signed_out');
}

/* el() - build an element: el('td', {class: 'num'}, '3'). Text only, never HTML. */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : String(c));
  }
  return e;
}

export function fmtTime(ms) {
  if (!ms) return '';
  return new Date(ms).toLocaleString();
}
