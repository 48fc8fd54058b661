/* gridpatrol field app — the phone's storage and its outbox.
 *
 * Everything the worker does (reports, photos, case actions, revisits, patrol start/end, GPS fixes, visits with the
 * household and its needs, inspections and their photos) becomes an item of the IndexedDB "queue" store with a client
 * id made on the phone, and is sent from there: in order, retried with backoff while the network or server fails,
 * never twice (the server answers a known client id with the first result), never lost (an item leaves the queue only
 * once the server has answered it). An item the server refuses (a 4xx: the case was closed meanwhile, a field is
 * wrong) moves to "problems", which the app shows.
 *
 * An ES module: `store` holds kv get/put, the queue, the id map (client id → server id) and the sync engine. It sends
 * with the tokens of the auth given to store.setAuth (auth.js), which it does not import, so the two stay apart.
 *
 * Times of the work, not of the sync: every item is stamped with the phone's time when it was queued (`occurred_at`,
 * ISO with the phone's offset; reports, case steps and 回头看 send it in their body), every request carries the
 * phone's clock when it is sent (header X-Device-Time) so that the server can tell a wrong clock from offline work,
 * and a photo carries when and where it was taken (read from its EXIF before the downscale, or recorded at capture:
 * exif.js).
 */
import { captureOf } from './exif.js';

let auth = null;   // {accessToken() → token or null, refresh() → true unless the refresh token was refused}
const DB_NAME = 'gridpatrol';
const MAX_BATCH = 50;            // reports per POST /cases/batch
const MAX_FIXES = 200;           // GPS fixes per queue item (the server takes up to 1000 per request)
const BACKOFF_S = [1, 2, 4, 8, 16, 30, 60];
const TIMED = new Set(['case', 'action', 'revisit', 'self_handled']);   // the items whose body says when they happened

/** A time as ISO 8601 with the phone's own UTC offset (2026-12-05T09:00:00.000+08:00). */
export function localIso(d = new Date()) {
  const off = -d.getTimezoneOffset(), sign = off >= 0 ? '+' : '-', a = Math.abs(off);
  const local = new Date(d.getTime() + off * 60000).toISOString().slice(0, -1);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, '0')}:${String(a % 60).padStart(2, '0')}`;
}

// ------------------------------------------------------------------------------------------ IndexedDB

let dbPromise = null;
function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB_NAME, 1);
      r.onupgradeneeded = () => {
        const d = r.result;
        d.createObjectStore('kv');
        d.createObjectStore('queue', { keyPath: 'seq', autoIncrement: true });
        d.createObjectStore('problems', { keyPath: 'seq' });
        d.createObjectStore('ids');
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
  }
  return dbPromise;
}

function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** Run fn(transaction) and resolve with its result once the transaction has committed. */
async function tx(stores, mode, fn) {
  const d = await open();
  return new Promise((resolve, reject) => {
    const t = d.transaction(stores, mode);
    let out;
    Promise.resolve()
      .then(() => fn(t))
      .then((v) => { out = v; }, (e) => { try { t.abort(); } catch (_) { /* already done */ } reject(e); });
    t.oncomplete = () => resolve(out);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error || new Error('transaction aborted'));
  });
}

const kv = {
  get: (key) => tx(['kv'], 'readonly', (t) => req(t.objectStore('kv').get(key))),
  put: (key, value) => tx(['kv'], 'readwrite', (t) => req(t.objectStore('kv').put(value, key))),
  del: (key) => tx(['kv'], 'readwrite', (t) => req(t.objectStore('kv').delete(key))),
};

// ------------------------------------------------------------------------------------------ ids

/** A random UUID (v4); crypto.randomUUID needs a secure context, getRandomValues does not. */
function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

const ids = {
  get: (clientId) => tx(['ids'], 'readonly', (t) => req(t.objectStore('ids').get(clientId))),
  put: (clientId, serverId) => tx(['ids'], 'readwrite', (t) => req(t.objectStore('ids').put(serverId, clientId))),
};

// ------------------------------------------------------------------------------------------ the queue

const listeners = new Set();
function changed() {
  counts().then((c) => listeners.forEach((fn) => { try { fn(c); } catch (e) { console.error(e); } }));
}

async function counts() {
  return tx(['queue', 'problems'], 'readonly', async (t) => ({
    waiting: await req(t.objectStore('queue').count()),
    problems: await req(t.objectStore('problems').count()),
  }));
}

/** Add an item ({kind, ...}); returns its seq. Sending starts at once when online. */
async function enqueue(item) {
  const now = localIso();
  item = Object.assign({ created_at: new Date().toISOString(), occurred_at: now, attempts: 0 }, item);
  if (TIMED.has(item.kind) && item.body && !item.body.occurred_at) item.body = Object.assign({ occurred_at: now }, item.body);
  if (item.blob && !item.capture) item.capture = captureOf(item.blob);
  const seq = await tx(['queue'], 'readwrite', (t) => req(t.objectStore('queue').add(item)));
  changed();
  engine.kick();
  return seq;
}

/** Append a GPS fix to the last queued fixes item of this patrol, or start a new one (one transaction). */
async function appendFix(patrolClientId, fix) {
  await tx(['queue'], 'readwrite', async (t) => {
    const store = t.objectStore('queue');
    const cursor = await req(store.openCursor(null, 'prev'));
    const last = cursor && cursor.value;
    if (last && last.kind === 'fixes' && last.patrol === patrolClientId && last.fixes.length < MAX_FIXES) {
      last.fixes.push(fix);
      await req(store.put(last));
    } else {
      await req(store.add({ kind: 'fixes', patrol: patrolClientId, fixes: [fix],
        created_at: new Date().toISOString(), attempts: 0 }));
    }
  });
  changed();
  engine.kick(5000);   // fixes go out in small batches, not one request per fix
}

const all = (store) => tx([store], 'readonly', (t) => req(t.objectStore(store).getAll()));

async function head(n) {
  return tx(['queue'], 'readonly', async (t) => {
    const out = [];
    let c = await req(t.objectStore('queue').openCursor());
    while (c && out.length < n) {
      out.push(c.value);
      c.continue();
      c = await req(c.request);
    }
    return out;
  });
}

/** Remove sent items. A fixes item that grew while it was being sent keeps the fixes not yet sent. */
async function done(items) {
  await tx(['queue'], 'readwrite', async (t) => {
    const store = t.objectStore('queue');
    for (const sent of items) {
      const now = await req(store.get(sent.seq));
      if (now && now.kind === 'fixes' && now.fixes.length > sent.fixes.length) {
        now.fixes = now.fixes.slice(sent.fixes.length);
        await req(store.put(now));
      } else {
        await req(store.delete(sent.seq));
      }
    }
  });
}

/** Move an item the server refused to "problems", with the server's reason. */
async function refuse(item, status, error) {
  await tx(['queue', 'problems'], 'readwrite', async (t) => {
    const p = Object.assign({}, item, { status, error, refused_at: new Date().toISOString() });
    delete p.blob;
    await req(t.objectStore('problems').put(p));
    await req(t.objectStore('queue').delete(item.seq));
  });
}

async function dismiss(seq) {
  await tx(['problems'], 'readwrite', (t) => req(t.objectStore('problems').delete(seq)));
  changed();
}

async function note(item, error) {
  await tx(['queue'], 'readwrite', async (t) => {
    const store = t.objectStore('queue');
    const now = await req(store.get(item.seq));
    if (now) {
      now.attempts = (now.attempts || 0) + 1;
      now.last_error = error;
      await req(store.put(now));
    }
  });
}

// ------------------------------------------------------------------------------------------ sending

class Retry extends Error {}

/** The app's language as app.js sets it on <html>: 'en' or 'zh'. */
function pageLang() {
  return (document.documentElement.lang || '').startsWith('en') ? 'en' : 'zh';
}
class NeedLogin extends Error {}

/** fetch with the access token; refreshes it once on 401. Network failures and 5xx/429 raise Retry. */
async function call(method, path, body, isForm) {
  for (let attempt = 0; attempt < 2; attempt++) {
    const token = await auth.accessToken();
    if (!token) throw new NeedLogin('not logged in');
    // the server words its refusals in the app's language (app.js keeps <html lang> to it)
    const headers = { Authorization: `Bearer ${token}`, 'X-Device-Time': localIso(), 'Accept-Language': pageLang() };
    if (body !== undefined && !isForm) headers['Content-Type'] = 'application/json';
    let r;
    try {
      r = await fetch(path, { method, headers, body: isForm ? body : JSON.stringify(body) });
    } catch (e) {
      throw new Retry(`network: ${e.message}`);
    }
    if (r.status === 401 && attempt === 0) {
      if (!(await auth.refresh())) throw new NeedLogin('the session has ended');
      continue;
    }
    if (r.status === 401) throw new NeedLogin('the session has ended');
    if (r.status >= 500 || r.status === 429 || r.status === 408) throw new Retry(`server ${r.status}`);
    let data = null;
    try { data = await r.json(); } catch (_) { data = null; }
    return { status: r.status, data };
  }
  throw new NeedLogin('the session has ended');
}

function errorText(data, status) {
  if (data && data.message) return data.message;
  if (data && data.error && data.error.message) return data.error.message;
  return `HTTP ${status}`;
}

/** The server id of a case/patrol/event given by the phone's client id (known once its item was sent). */
async function resolve(clientId, what) {
  const id = await ids.get(clientId);
  if (id !== undefined) return id;
  const failed = (await all('problems')).find((p) => p.client_id === clientId);
  if (failed) throw Object.assign(new Error(`the ${what} it belongs to was refused: ${errorText(failed.error, failed.status)}`),
    { permanent: true });
  throw new Retry(`${what} ${clientId} not sent yet`);
}

const senders = {
  async case(items) {
    const { status, data } = await call('POST', '/api/v1/cases/batch', { cases: items.map((i) => i.body) });
    if (status !== 200) {
      for (const item of items) await refuse(item, status, data);
      return;
    }
    const ok = [];
    for (let k = 0; k < items.length; k++) {
      const res = data.results[k];
      if (res.status === 200 || res.status === 201) {
        if (res.id != null) await ids.put(items[k].client_id, res.id);
        else {  // known client id: the server did not repeat the id; ask for it
          const again = await call('POST', '/api/v1/cases', items[k].body);
          if (again.status < 300) await ids.put(items[k].client_id, again.data.id);
        }
        ok.push(items[k]);
      } else {
        await refuse(items[k], res.status, res.error);
      }
    }
    await done(ok);
  },
  async photo(item) {
    const caseId = item.case_id != null ? item.case_id : await resolve(item.case_client_id, 'report');
    const form = new FormData();
    form.append('file', item.blob, item.name || 'photo.jpg');
    if (item.event_client_id) form.append('event_client_id', item.event_client_id);
    const c = item.capture;   // when and where it was taken (EXIF, or the phone at capture)
    if (c && c.taken_at) {
      form.append('taken_at', c.taken_at);
      form.append('taken_source', c.source);
      if (c.lon != null && c.lat != null) { form.append('lon', String(c.lon)); form.append('lat', String(c.lat)); }
    }
    return call('POST', `/api/v1/cases/${caseId}/photos`, form, true);
  },
  /** A report handled on the spot (自行处置) and its after-photo, in one request; its case id kept for its photos. */
  async self_handled(item) {
    const form = new FormData();
    form.append('report', JSON.stringify(item.body));
    form.append('file', item.blob, 'after.jpg');
    const res = await call('POST', '/api/v1/field/self-handled', form, true);
    if (res.status < 300 && res.data && res.data.id != null) await ids.put(item.client_id, res.data.id);
    return res;
  },
  async action(item) {
    const caseId = item.case_id != null ? item.case_id : await resolve(item.case_client_id, 'report');
    return call('POST', `/api/v1/cases/${caseId}/actions/${item.action}`, item.body);
  },
  async revisit(item) {
    return call('POST', `/api/v1/revisits/${item.revisit_id}`, item.body);
  },
  async patrol_start(item) {
    const res = await call('POST', '/api/v1/patrols', item.body);
    if (res.status < 300) await ids.put(item.client_id, res.data.id);
    return res;
  },
  async fixes(item) {
    const id = await resolve(item.patrol, 'patrol');
    return call('POST', `/api/v1/patrols/${id}/fixes`, { fixes: item.fixes });
  },
  async patrol_end(item) {
    const id = await resolve(item.patrol, 'patrol');
    return call('POST', `/api/v1/patrols/${id}/end`, item.body);
  },
  async visit(item) {
    const body = Object.assign({}, item.body);
    if (item.patrol) {
      try { body.patrol_id = await resolve(item.patrol, 'patrol'); } catch (e) { if (e.permanent) body.patrol_id = null; else throw e; }
    }
    return call('POST', '/api/v1/visits', body);
  },
  /** A checklist run; its server id is kept so that its photos know it was accepted (or refused). */
  async inspection(item) {
    const res = await call('POST', '/api/v1/inspections', item.body);
    if (res.status < 300 && res.data && res.data.id != null) await ids.put(item.client_id, res.data.id);
    return res;
  },
  /** A photo answering an inspection item: sent after its inspection (the queue is in order), addressed by the
   * inspection's client id; refused at once when the inspection itself was refused. */
  async inspection_photo(item) {
    await resolve(item.inspection_client_id, 'inspection');
    const form = new FormData();
    form.append('file', item.blob, item.name || 'photo.jpg');
    form.append('item', item.item);
    form.append('client_id', item.client_id);
    return call('POST', `/api/v1/inspections/${encodeURIComponent(item.inspection_client_id)}/photos`, form, true);
  },
};

const engine = {
  running: false,
  again: false,
  failures: 0,
  timer: null,
  batchSize: MAX_BATCH,   // reports per request (1: one request per report)
  state: 'idle',          // idle | sending | waiting (backoff) | offline | login
  lastError: null,
  sent: 0,

  kick(delayMs) {
    if (delayMs) {
      if (!this.timer) this.timer = setTimeout(() => { this.timer = null; this.run(); }, delayMs);
      return;
    }
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    this.run();
  },

  async run() {
    if (this.running) { this.again = true; return; }
    this.running = true;
    this.woken = false;
    try {
      do {
        this.again = false;
        await this.drain();
      } while (this.again && this.state !== 'waiting' && this.state !== 'login');
    } finally {
      this.running = false;
      changed();
    }
  },

  async drain() {
    for (;;) {
      if (!navigator.onLine) { this.setState('offline'); return; }
      const items = await head(Math.max(1, this.batchSize));
      if (!items.length) { this.setState('idle'); this.failures = 0; return; }
      this.setState('sending');
      const first = items[0];
      try {
        if (first.kind === 'case') {
          let n = 0;
          while (n < items.length && items[n].kind === 'case') n++;
          await senders.case(items.slice(0, n));
          this.sent += n;
        } else {
          let res;
          try {
            res = await senders[first.kind](first);
          } catch (e) {
            if (!e.permanent) throw e;
            await refuse(first, 409, { message: e.message });
            changed();
            continue;
          }
          if (res.status < 300) await done([first]);
          else await refuse(first, res.status, res.data);
          this.sent += 1;
        }
        this.failures = 0;
        changed();
      } catch (e) {
        if (e instanceof NeedLogin) { this.setState('login', e.message); return; }
        const msg = e instanceof Retry ? e.message : String(e && e.message || e);
        await note(first, msg);
        this.failures += 1;
        // back online while this request was failing: try again at once instead of waiting out the backoff
        const wait = this.woken ? 0 : BACKOFF_S[Math.min(this.failures - 1, BACKOFF_S.length - 1)] * (0.8 + 0.4 * Math.random());
        this.woken = false;
        this.setState('waiting', msg);
        if (this.timer) clearTimeout(this.timer);
        this.timer = setTimeout(() => { this.timer = null; this.run(); }, wait * 1000);
        return;
      }
    }
  },

  setState(state, error) {
    this.state = state;
    this.lastError = error || null;
    listeners.forEach((fn) => { try { fn(null); } catch (_) { /* ignore */ } });
  },
};

window.addEventListener('online', () => {
  engine.failures = 0;
  if (engine.running) engine.woken = true;
  engine.kick();
});
window.addEventListener('offline', () => engine.setState('offline'));

export const store = {
  setAuth: (a) => { auth = a; },
  open, kv, ids, uuid, enqueue, appendFix, counts, dismiss, engine,
  queued: () => all('queue'),
  problems: () => all('problems'),
  onChange: (fn) => { listeners.add(fn); return () => listeners.delete(fn); },
  /** Forget everything kept on this phone (logout after the queue is empty). */
  async clear() {
    await tx(['kv', 'ids', 'problems'], 'readwrite', async (t) => {
      await req(t.objectStore('kv').clear());
      await req(t.objectStore('ids').clear());
      await req(t.objectStore('problems').clear());
    });
    changed();
  },
};
