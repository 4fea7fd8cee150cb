// Scans reach the cashier screen live: poll /cashier/scans, type the code, submit.
(function () {
  "use strict";
  let seen = Number(document.body.dataset.scanSeq || 0);
  async function poll() {
    try {
      const url = "/cashier/scans?after=" + seen;
      const reply = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (reply.ok) {
        const data = await reply.json();
        const fresh = data.codes;
        seen = data.seq;
        const depth = document.getElementById("queue-depth");
        if (depth) depth.textContent = data.queue_depth.toLocaleString("fa-IR");
        const form = document.getElementById("identify") || document.getElementById("scan-form");
        if (fresh.length && form) {
          form.elements.code.value = fresh[fresh.length - 1];
          form.submit();
          return;
        }
      }
    } catch (e) { /* the server is on this box; try again shortly */ }
    setTimeout(poll, 700);
  }
  poll();
})();
