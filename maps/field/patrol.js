/* gridpatrol field app — a patrol: started and ended through the outbox, its GPS fixes filtered (too vague, standing
 * still, GPS jumps) and queued in small batches, the distance walked counted on the phone. */

import { S, metres } from './state.js';
import { store } from './store.js';
import { renderTrack } from './map.js';
import { km } from './texts.js';

export async function startPatrol() {
  const client_id = store.uuid();
  const started_at = new Date().toISOString();
  const grids = S.today ? S.today.grids.features : [];
  const patrol = { client_id, started_at, points: [], walked_m: 0, n: 0, last: null };
  // queued before any fix of it can be: the outbox sends in order, and fixes need the patrol's server id
  await store.enqueue({ kind: 'patrol_start', client_id, summary: started_at,
    body: { client_id, started_at, grid_id: grids.length === 1 ? grids[0].properties.id : null } });
  S.patrol = patrol;
  await store.kv.put('patrol', patrol);
  if (S.pos) recordFix(Object.assign({}, S.pos, { t: Date.now() }));
  renderTrack();
}

export async function endPatrol() {
  const p = S.patrol;
  if (!p) return;
  S.patrol = null;
  await store.kv.del('patrol');
  await store.enqueue({ kind: 'patrol_end', patrol: p.client_id, body: { ended_at: new Date().toISOString() },
    summary: km(p.walked_m) });
  if (S.today) {
    S.today.walked_m = (S.today.walked_m || 0) + p.walked_m;
    await store.kv.put('today', S.today);
  }
  renderTrack();
}

let fixChain = Promise.resolve();
export function recordFix(fix) {
  const p = S.patrol;
  const last = p.last;
  if (fix.acc > 100) return;                                     // too vague to keep
  if (last) {
    const d = metres(last, fix), dt = (fix.t - last.t) / 1000;
    if (dt <= 0) return;
    if (dt < 3 && d < 5) return;                                 // standing still: one fix per few seconds
    if (d / dt < 8 && fix.acc <= 50) p.walked_m += d;             // a walking step, not a GPS jump
  }
  p.last = fix;
  p.n = (p.n || 0) + 1;
  p.points.push([fix.lat, fix.lon]);
  const body = { time: new Date(fix.t).toISOString(), lat: fix.lat, lon: fix.lon, accuracy: fix.acc };
  const cid = p.client_id;
  fixChain = fixChain.then(() => store.appendFix(cid, body)).then(() => store.kv.put('patrol', S.patrol || p))
    .catch((e) => console.error(e));
  renderTrack();
}

