// Sportello operator console: live queue, collision notice, keyboard
// shortcuts. The pages work without it (forms post, a Refresh link).
(function () {
  "use strict";

  // Live queue: a queue event reloads the table (debounced).
  function liveQueue() {
    var box = document.getElementById("queue");
    var status = document.getElementById("live-status");
    if (!box || !window.EventSource) { return; }
    var timer = null;
    function reload() {
      timer = null;
      fetch(box.getAttribute("data-partial"), { credentials: "same-origin" })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
        .then(function (html) { box.innerHTML = html; select(0); })
        .catch(function () {});
    }
    var es = new EventSource(box.getAttribute("data-events"));
    es.onopen = function () { if (status) { status.textContent = status.getAttribute("data-live-text"); } };
    es.onerror = function () { if (status) { status.textContent = status.getAttribute("data-off-text"); } };
    es.onmessage = schedule;
    ["created", "updated", "assigned", "transferred", "status_changed", "message_added", "linked", "unlinked", "delivery_failed",
     "sla_warning", "sla_breached", "merged", "error"].forEach(function (t) { es.addEventListener(t, schedule); });
    function schedule() { if (!timer) { timer = setTimeout(reload, 400); } }
  }

  // Collision notice: say every 20 s that this case is open, show who else
  // has it open.
  function viewing() {
    var c = document.getElementById("case");
    var note = document.getElementById("collision");
    if (!c || !note) { return; }
    function ping() {
      var body = new URLSearchParams();
      body.set("csrf_token", c.getAttribute("data-csrf"));
      fetch(c.getAttribute("data-viewing"), { method: "POST", body: body, credentials: "same-origin",
        headers: { "X-CSRF-Token": c.getAttribute("data-csrf") } })
        .then(function (r) { return r.ok ? r.text() : ""; })
        .then(function (t) { note.textContent = t; note.hidden = t === ""; })
        .catch(function () {});
    }
    setInterval(ping, 20000);
  }

  // Keyboard shortcuts (listed in the "?" help on every page).
  var selected = -1;
  function rows() { return document.querySelectorAll("#queue-table tbody tr[data-href]"); }
  function select(i) {
    var rs = rows();
    if (!rs.length) { selected = -1; return; }
    selected = Math.max(0, Math.min(i, rs.length - 1));
    rs.forEach(function (r, j) { r.classList.toggle("kb-selected", j === selected); });
    rs[selected].scrollIntoView({ block: "nearest" });
  }
  function typing(e) {
    var t = e.target;
    return t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.tagName === "SELECT" || t.isContentEditable);
  }
  function shortcuts() {
    var help = document.getElementById("kb-help");
    var close = document.getElementById("kb-help-close");
    if (close) { close.addEventListener("click", function () { help.hidden = true; }); }
    document.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && (e.ctrlKey || e.metaKey) && e.target.id === "message-body") {
        e.preventDefault(); document.getElementById("message-form").requestSubmit(); return;
      }
      if (e.key === "Escape" && help && !help.hidden) { help.hidden = true; return; }
      if (typing(e) || e.ctrlKey || e.metaKey || e.altKey) { return; }
      var body = document.getElementById("message-body");
      switch (e.key) {
      case "?": if (help) { help.hidden = !help.hidden; } break;
      case "n": var f = document.getElementById("next-case-form"); if (f) { f.requestSubmit(); } else { location.href = "/console/"; } break;
      case "/": var q = document.getElementById("f-q"); if (q) { e.preventDefault(); q.focus(); } break;
      case "j": select(selected + 1); break;
      case "k": select(selected - 1); break;
      case "o": case "Enter": var rs = rows(); if (selected >= 0 && rs[selected]) { location.href = rs[selected].getAttribute("data-href"); } break;
      case "r": if (body) { e.preventDefault(); document.getElementById("kind-reply").checked = true; body.focus(); } break;
      case "i": if (body) { e.preventDefault(); document.getElementById("kind-note").checked = true; body.focus(); } break;
      case "q": location.href = "/console/"; break;
      default: return;
      }
    });
  }

  function start() {
    liveQueue(); viewing(); shortcuts();
    var errs = document.getElementById("errors"); if (errs) { errs.focus(); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
