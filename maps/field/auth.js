/* gridpatrol field app — the worker's tokens: the access token kept fresh with the refresh token (days long), and
 * api(path), a GET with the token that refreshes it once on 401. The outbox (store.js) sends with the same auth. */

import { S } from './state.js';
import { store } from './store.js';

function jwtExp(token) {
  try {
    const part = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    return JSON.parse(atob(part)).exp * 1000;
  } catch (_) { return 0; }
}

/** Milliseconds the access token has left. Counted on the phone's clock from when the token came (got_at, with the
 * server's expires_in), not from the token's exp: a phone whose clock is off would otherwise refresh on every call
 * (clock ahead) or never (behind). Tokens kept from before got_at existed fall back to exp. */
function msLeft(tokens) {
  if (tokens.got_at && tokens.expires_in) return tokens.got_at + tokens.expires_in * 1000 - Date.now();
  return jwtExp(tokens.access_token) - Date.now();
}

/** Refresh this long before the end (a token shorter than this, as in the tests, is refreshed before each request;
 * an answer lost to the network meanwhile is answered again by the server: patrol/core/sessions.py). */
const MARGIN_MS = 60000;

export const auth = {
  async accessToken() {
    if (!S.tokens) S.tokens = await store.kv.get('tokens');
    if (!S.tokens) return null;
    if (msLeft(S.tokens) < MARGIN_MS && navigator.onLine) await auth.refresh();
    return S.tokens && S.tokens.access_token;
  },
  /** A new access token from the refresh token (kept for days): true when it worked, false when it was refused.
   * One refresh at a time: a refresh token is used up by its first use, and the server takes a second use of it for
   * a stolen copy and ends the session — so callers racing here share the one request in flight. */
  refresh() {
    if (!inflight) inflight = refreshOnce().finally(() => { inflight = null; });
    return inflight;
  },
};

let inflight = null;

/** One refresh at a time across the app's tabs too (Web Locks): a tab that waited finds the tokens another tab got. */
function refreshOnce() {
  if (!navigator.locks) return refreshNow();
  const mine = S.tokens && S.tokens.refresh_token;
  return navigator.locks.request('gridpatrol-refresh', async () => {
    const kept = await store.kv.get('tokens');
    if (kept && kept.refresh_token && kept.refresh_token !== mine) { S.tokens = kept; return true; }
    return refreshNow();
  });
}

async function refreshNow() {
  if (!S.tokens) return false;
  let r;
  try {
    r = await fetch('/api/v1/auth/refresh', { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ refresh_token: S.tokens.refresh_token }) });
  } catch (_) { return true; }  // no network: keep the tokens, the queue retries later (had the server answered
  // before the network went, the same token presented again soon is answered again: patrol/core/sessions.py)
  if (r.status === 200) {
    const data = await r.json();
    S.tokens = Object.assign({}, S.tokens, data, { got_at: Date.now() });
    await store.kv.put('tokens', S.tokens);
    return true;
  }
  if (r.status === 401 || r.status === 403) return false;
  return true;
}

export async function api(path) {
  const token = await auth.accessToken();
  // errors worded in the app's language (app.js keeps <html lang> to it)
  const lang = (document.documentElement.lang || '').startsWith('en') ? 'en' : 'zh';
  const r = await fetch(path, { headers: { Authorization: `Bearer ${token}`, 'Accept-Language': lang } });
  if (r.status === 401 && await auth.refresh()) {
    return fetch(path, { headers: { Authorization: `Bearer ${S.tokens.access_token}`, 'Accept-Language': lang } });
  }
  return r;
}

store.setAuth(auth);
