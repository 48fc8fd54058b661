/* gridpatrol field app — the checklist rules the phone applies live, as patrol/surveys/checklists.py applies them on
 * the server: which items show (show_if), which are required (required, required_if), which answers are valid
 * (yes/no, an option, a number within its limits, a note of at most NOTE_MAX characters) and which fail (pass,
 * fail_values, fail_if). The worker sees a problem at its item before anything is queued.
 *
 * Pure functions over a normalised definition (as /api/v1/field/today gives it) and plain answers: no DOM, no state,
 * so tests/browser/test_checklist_parity.py runs the shared table tests/data/checklist_parity.json through them and
 * through the Python rules and compares the verdicts. */

/** The longest note answer the server accepts (checklists.NOTE_MAX), in characters. */
export const NOTE_MAX = 2000;

/** Does a condition ({item, equals} or {item, in}) hold for the valid answers of earlier shown items? */
export function condHolds(c, answers) {
  if (!c) return true;
  const v = answers[c.item];
  if (v === undefined) return false;
  if (Object.prototype.hasOwnProperty.call(c, 'equals')) return v === c.equals;
  if (Array.isArray(c.in)) return c.in.includes(v);
  return false;
}

/** No answer: absent, null or '' (an empty photo list too). */
export function isBlank(v) {
  return v === undefined || v === null || v === '' || (Array.isArray(v) && !v.length);
}

/** An answer the server accepts for its item (only those count for the conditions of later items). */
export function validAnswer(it, v) {
  if (isBlank(v)) return false;
  if (it.type === 'yesno') return typeof v === 'boolean';
  if (it.type === 'choice') return typeof v === 'string' && (it.options || []).some((o) => o.value === v);
  if (it.type === 'number') {
    return typeof v === 'number' && Number.isFinite(v) && (!it.integer || Number.isInteger(v)) &&
      (it.min == null || v >= it.min) && (it.max == null || v <= it.max);
  }
  if (it.type === 'note') return typeof v === 'string' && v.length <= NOTE_MAX;
  return true;
}

/** Which items show, which are required and which fail with the answers given ({items: {id: {shown, required,
 * fails}}, answers: the valid answers of shown items}); answers to hidden items are dropped. */
export function evaluate(defn, answers) {
  const out = {}, kept = {};
  for (const it of defn.items) {
    const shown = !it.show_if || condHolds(it.show_if, kept);
    const base = typeof it.required === 'boolean' ? it.required : ['yesno', 'choice', 'number'].includes(it.type);
    const required = shown && (base || (!!it.required_if && condHolds(it.required_if, kept)));
    if (shown && validAnswer(it, answers[it.id])) kept[it.id] = answers[it.id];
    out[it.id] = { shown, required, fails: shown && itemFails(it, answers[it.id]) };
  }
  return { items: out, answers: kept };
}

/** Whether a valid answer fails its item (only items with a fail rule can fail). */
export function itemFails(it, v) {
  if (!it.fail || !validAnswer(it, v)) return false;
  if (it.type === 'yesno') return v !== (it.pass === undefined ? true : it.pass);
  if (it.type === 'choice') return (it.fail_values || []).includes(v);
  if (it.type === 'number' && it.fail_if && typeof v === 'number') {
    const f = it.fail_if;
    return (f.gt != null && v > f.gt) || (f.ge != null && v >= f.ge) || (f.lt != null && v < f.lt) || (f.le != null && v <= f.le);
  }
  return false;
}

/** The problem of a number answer as typed (raw text) and read (v), as [text key, ...args], or null. */
function numberProblem(it, raw, v) {
  if (raw && typeof v !== 'number') return ['not_number'];
  if (typeof v !== 'number') return null;
  if (!Number.isFinite(v)) return ['not_number'];
  if (it.integer && !Number.isInteger(v)) return ['whole_number'];
  if (it.min != null && v < it.min) return ['at_least', it.min];
  if (it.max != null && v > it.max) return ['at_most', it.max];
  return null;
}

/** The problem of one shown item, as [text key, ...args] for the field app's texts, or null. */
function itemProblem(it, e, draft) {
  const v = draft.answers[it.id];
  if (it.type === 'number') {
    const p = numberProblem(it, String(draft.raw[it.id] || '').trim(), v);
    if (p) return p;
  } else if (it.type === 'note' && typeof v === 'string' && v.length > NOTE_MAX) {
    return ['too_long'];
  } else if (it.type !== 'photo' && !isBlank(v) && !validAnswer(it, v)) {
    return ['invalid_answer'];
  }
  if (!e.required) return null;
  if (it.type === 'photo') return (draft.photos[it.id] || []).length ? null : ['photo_required'];
  return isBlank(v) ? ['required'] : null;
}

/** {item id: problem} for a draft {answers, raw: {id: number as typed}, photos: {id: [photo]}}: missing required
 * answers and photos, numbers that are no numbers or out of range, invalid values, notes too long. Hidden items
 * have no problems (their answers are dropped when sent). t(key, ...args) words each problem. */
export function problemsOf(defn, draft, t) {
  const ev = evaluate(defn, draft.answers);
  const out = {};
  for (const it of defn.items) {
    const e = ev.items[it.id];
    if (!e.shown) continue;
    const p = itemProblem(it, e, draft);
    if (p) out[it.id] = t(...p);
  }
  return out;
}
