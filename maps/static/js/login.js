/* The /login page (maps/templates/login.html). Opening it ends the session this browser held: the access token kept
 * for the pages' scripts is sent to POST /api/v1/auth/logout (its login session is revoked on the server) and
 * forgotten — the pages' log-out links lead here, and the server already cleared the HttpOnly cookie with this page.
 * Logging in posts the form to POST /login, which answers the tokens and sets the login cookie (HttpOnly, for page
 * loads); the access token goes to localStorage for the pages' API calls, then the page goes on to data-next. */
(function () {
  "use strict";
  var KEY = "gridpatrol.token";
  var form = document.getElementById("f");
  var err = document.getElementById("err");
  var stored = localStorage.getItem(KEY);
  localStorage.removeItem(KEY);
  // awaited before logging in, so that the log-out's answer (which clears the cookie) cannot land after the new one
  var ended = stored
    ? fetch("/api/v1/auth/logout", {method: "POST", headers: {Authorization: "Bearer " + stored}})
        .catch(function () { return null; })
    : Promise.resolve(null);

  /** Why the login failed, in the page's language: a wrong name or password, too many failures (for how long). */
  function failure(r, j) {
    if (r && r.status === 401) return form.dataset.wrong;
    if (r && r.status === 429) {
      var minutes = Math.max(1, Math.ceil(Number(r.headers.get("Retry-After") || 60) / 60));
      return form.dataset.throttled.replace("{n}", String(minutes));
    }
    return (j && j.message) || form.dataset.failed;
  }

  form.addEventListener("submit", async function (ev) {
    ev.preventDefault();
    err.textContent = "";
    var body = new URLSearchParams(new FormData(form));
    await ended;
    var r, j = {};
    try {
      r = await fetch("/login", {method: "POST", body: body, credentials: "same-origin",
                                 headers: {"Accept-Language": (document.documentElement.lang || "zh").slice(0, 2)}});
      j = await r.json();
    } catch (_) { r = null; }
    if (!r || !r.ok) { err.textContent = failure(r, j); return; }
    localStorage.setItem(KEY, j.access_token);
    location.href = form.dataset.next;
  });
})();
