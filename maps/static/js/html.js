/* HTML escaping, the one copy for every page script (ES module). */

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text safe inside element content and inside single- or double-quoted attributes: & < > " ' escaped;
 * null and undefined become ''. */
export function esc(s) {
  return String(s == null ? '' : s).replace(/[&<>"']/g, (c) => ENTITIES[c]);
}
