/* The resident's follow-up page (/r/f/<token>): sends the rating (1–5, 问题解决了吗？, a comment) and shows the page
 * again; a network failure says so and keeps the choice. */

const cfg = window.GRIDPATROL;
const t = cfg.t;
const $ = (id) => document.getElementById(id);

function chosen(name) {
  const el = document.querySelector(`input[name="${name}"]:checked`);
  return el ? el.value : null;
}

async function send(ev) {
  ev.preventDefault();
  $('error').textContent = '';
  const rating = chosen('rating');
  if (!rating) { $('error').textContent = t.need_rating; return; }
  const solved = chosen('solved');
  const body = { rating: +rating, comment: $('comment').value.trim() || null,
    solved: solved === null ? null : solved === 'true' };
  const button = $('send');
  button.disabled = true;
  button.textContent = t.sending;
  let res;
  try {
    res = await fetch(`/api/v1/public/follow/${encodeURIComponent(cfg.token)}/rating?lang=${cfg.lang}`, {
      method: 'POST', body: JSON.stringify(body), credentials: 'omit',
      headers: { 'Content-Type': 'application/json', 'Accept-Language': cfg.lang } });
  } catch (_) {
    $('error').textContent = t.offline;
    return;
  } finally {
    button.disabled = false;
    button.textContent = t.send;
  }
  let data = {};
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) { $('error').textContent = data.message || `${t.failed} (${res.status})`; return; }
  location.reload();
}

const form = $('rate');
if (form) form.addEventListener('submit', send);
document.body.dataset.ready = '1';
