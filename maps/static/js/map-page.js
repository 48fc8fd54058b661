// The controls above every analysis map (maps/analytics/page.py): the form works without this script (the server
// reads period, start and last); this only keeps them in step — a preset fills the dates, a date edited by hand
// selects "custom".
(function () {
  "use strict";
  function ready() {
    const form = document.getElementById("gp-controls");
    if (!form || !form.period) return;
    const start = form.start, last = form.last;
    const today = last.max ? new Date(last.max + "T00:00:00Z") : new Date();
    const iso = (d) => d.toISOString().slice(0, 10);
    const back = (n) => new Date(today.getTime() - n * 86400000);
    form.period.addEventListener("change", () => {
      const p = form.period.value;
      if (p === "custom") return;
      const from = p === "month" ? new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), 1))
        : back(Number(p) - 1);
      start.value = iso(from); last.value = iso(today);
    });
    for (const input of [start, last]) input.addEventListener("change", () => { form.period.value = "custom"; });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready); else ready();
})();
