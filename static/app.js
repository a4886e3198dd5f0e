// Lookout's small script. Every page works without it; it adds confirmations, copy buttons,
// live incident updates (server-sent events), ticking relative times and keyboard shortcuts.
"use strict";

(function () {
  const $ = (sel, root = document) => root.querySelector(sel);
  const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

  // --- Confirmations and copy buttons ---------------------------------------------------
  document.addEventListener("click", (event) => {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    const confirmer = target.closest("[data-confirm]");
    if (confirmer && !window.confirm(confirmer.getAttribute("data-confirm"))) {
      event.preventDefault();
      return;
    }
    const copier = target.closest("[data-copy]");
    if (copier) {
      const source = $(copier.getAttribute("data-copy"));
      if (!source || !navigator.clipboard) return;
      navigator.clipboard.writeText(source.textContent.trim()).then(() => {
        const label = copier.textContent;
        copier.textContent = "Copied";
        setTimeout(() => { copier.textContent = label; }, 1500);
      });
    }
    const row = target.closest("tr[data-href]");
    if (row && !target.closest("a, button, input, select, textarea")) {
      window.location.href = row.getAttribute("data-href");
    }
  });

  // --- Relative times ("12 min ago") keep ticking --------------------------------------
  function span(seconds) {
    const s = Math.abs(Math.round(seconds));
    if (s < 60) return s + " s";
    const m = Math.floor(s / 60);
    if (m < 60) return m + " min";
    const h = Math.floor(m / 60), rm = m % 60;
    if (h < 24) return rm ? h + " h " + rm + " min" : h + " h";
    const d = Math.floor(h / 24), rh = h % 24;
    return rh ? d + " d " + rh + " h" : d + " d";
  }
  const ticking = () => $$("time[datetime]").filter((t) => /(ago|^in )/.test(t.textContent));
  let offset = 0; // server clock minus ours, learned from the page's own times
  function tick() {
    for (const t of ticking()) {
      const when = Date.parse(t.getAttribute("datetime"));
      if (Number.isNaN(when)) continue;
      const delta = (Date.now() + offset - when) / 1000;
      t.textContent = delta >= 0 ? span(delta) + " ago" : "in " + span(-delta);
    }
  }
  setInterval(tick, 30000);

  // --- Live updates ----------------------------------------------------------------------
  // The answer to an action ("Acknowledged.") is shown once; the change it causes (the engine
  // paging someone) reloads the page a moment later, which must not make the message vanish
  // before it is read. It is carried over the reload in this tab's session storage.
  const KEPT = "lookout-flash";
  function reloadKeepingMessage() {
    const flash = $("[data-flash]");
    if (flash) {
      sessionStorage.setItem(KEPT, JSON.stringify({
        cls: flash.className, role: flash.getAttribute("role"), text: flash.textContent,
        path: location.pathname,
      }));
    }
    window.location.reload();
  }
  const kept = sessionStorage.getItem(KEPT);
  if (kept) {
    sessionStorage.removeItem(KEPT);
    try {
      const k = JSON.parse(kept);
      const main = $("main");
      if (k.path === location.pathname && main && !$("[data-flash]")) {
        const div = document.createElement("div");
        div.className = k.cls;
        div.setAttribute("role", k.role || "status");
        div.setAttribute("data-flash", "");
        div.textContent = k.text;
        const banner = $("#mail-problem");
        main.insertBefore(div, banner ? banner.nextSibling : main.firstChild);
      }
    } catch (_) { /* a damaged entry is dropped */ }
  }
  let submitting = false;
  document.addEventListener("submit", () => { submitting = true; });
  window.addEventListener("pageshow", () => { submitting = false; });
  const rows = $("[data-live-rows] tbody");
  const incident = $("[data-incident]");
  const firstPage = !new URLSearchParams(location.search).get("cursor");
  if ((rows && firstPage) || incident) {
    let pending = null;
    const source = new EventSource("/incidents/stream");
    source.addEventListener("incident", (event) => {
      if (incident) {
        const mine = event.data === "*" || event.data === incident.getAttribute("data-incident");
        const busy = document.activeElement && document.activeElement.matches("textarea, input, select");
        // A reload while a form is on its way would cancel the answer and lose its message.
        if (mine && !busy && !submitting) reloadKeepingMessage();
        return;
      }
      clearTimeout(pending);
      pending = setTimeout(refreshRows, 300);
    });
  }
  function refreshRows() {
    const params = new URLSearchParams(location.search);
    params.set("fragment", "rows");
    fetch(location.pathname + "?" + params.toString(), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => {
        const selected = $("tr.selected", rows);
        const href = selected && selected.getAttribute("data-href");
        rows.innerHTML = html;
        if (href) {
          const again = $$("tr[data-href]", rows).find((r) => r.getAttribute("data-href") === href);
          if (again) again.classList.add("selected");
        }
        const empty = $(".empty");
        if (empty) empty.hidden = rows.children.length > 0;
      })
      .catch(() => {});
  }

  // --- Keyboard shortcuts ----------------------------------------------------------------
  const help = document.createElement("dialog");
  help.className = "help";
  help.innerHTML =
    "<h2>Keyboard shortcuts</h2><dl>" +
    "<dt><kbd>j</kbd> / <kbd>k</kbd></dt><dd>next / previous incident</dd>" +
    "<dt><kbd>Enter</kbd></dt><dd>open the selected incident</dd>" +
    "<dt><kbd>a</kbd></dt><dd>acknowledge this incident</dd>" +
    "<dt><kbd>r</kbd></dt><dd>resolve this incident</dd>" +
    "<dt><kbd>g</kbd> <kbd>i</kbd></dt><dd>go to incidents</dd>" +
    "<dt><kbd>?</kbd></dt><dd>this help</dd></dl>" +
    '<form method="dialog"><button class="button">Close</button></form>';
  document.body.appendChild(help);

  let lastKey = "";
  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const typing = event.target instanceof Element && event.target.closest("input, textarea, select, [contenteditable]");
    if (typing || help.open) return;
    const key = event.key;
    if (key === "?") { help.showModal(); event.preventDefault(); return; }
    if (lastKey === "g" && key === "i") { window.location.href = "/incidents"; return; }
    lastKey = key;
    if (rows && (key === "j" || key === "k")) {
      const all = $$("tr[data-href]", rows);
      if (!all.length) return;
      const current = all.findIndex((r) => r.classList.contains("selected"));
      let next = current < 0 ? 0 : current + (key === "j" ? 1 : -1);
      next = Math.max(0, Math.min(all.length - 1, next));
      all.forEach((r) => r.classList.remove("selected"));
      all[next].classList.add("selected");
      all[next].scrollIntoView({ block: "nearest" });
      event.preventDefault();
    } else if (rows && key === "Enter") {
      const selected = $("tr.selected", rows);
      if (selected) window.location.href = selected.getAttribute("data-href");
    } else if (key === "a") {
      const form = $("#ack-form");
      if (form) form.requestSubmit();
    } else if (key === "r") {
      const form = $("#resolve-form");
      if (form && window.confirm("Resolve this incident?")) form.requestSubmit();
    }
  });

  // Tells browser tests (and CSS) that the shortcuts above are listening.
  document.documentElement.dataset.script = "ready";
})();
