// Scans reach the cashier screen live: poll /cashier/scans, type the code, submit.
(function () {
  "use strict";
  let seen = Number(document.body.dataset.scanSeq || 0);
  let posSeen = Number(document.body.dataset.posSeq || 0);
  // The printer and drawer chips in the header follow the terminal's device status.
  function showDevices(devices) {
    const chips = [["printer-state", devices.printer, devices.printer_fa],
                   ["drawer-state", devices.drawer, devices.drawer_fa]];
    for (const [id, level, text] of chips) {
      const chip = document.getElementById(id);
      if (!chip || !level) continue;
      chip.className = "chip " + level;
      chip.textContent = text;
      chip.hidden = id === "drawer-state" && level === "unknown";
    }
  }
  async function poll() {
    try {
      const url = "/cashier/scans?after=" + seen + "&pos=" + posSeen;
      const reply = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (reply.ok) {
        const data = await reply.json();
        const fresh = data.codes;
        seen = data.seq;
        posSeen = data.pos_seq;
        if (data.pos_sale) {  // the store's POS booked a sale: show it as if made here
          const shown = "/cashier/pos-sale/" + encodeURIComponent(data.pos_sale);
          if (document.getElementById("identify") || document.querySelector(".done")) {
            window.location.assign(shown);
            return;
          }
          // Mid-way through another step (typing, enrolling): offer it, never jump away.
          const banner = document.getElementById("pos-banner");
          if (banner) {
            banner.querySelector("a").href = shown;
            banner.hidden = false;
          }
        }
        const depth = document.getElementById("queue-depth");
        if (depth) depth.textContent = data.queue_depth.toLocaleString("fa-IR");
        showDevices(data.devices || {});
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
