// Sportello operator console: live queue, collision notice, keyboard
// shortcuts. The pages work without it (forms post, a Refresh link).
(function () {
  "use strict";

  // One stream per page: the queue's (with its department filter) on the
  // queue page, the console's on the others; the call notice listens to
  // the same one.
  var stream = null;
  function openStream(url) {
    if (!stream && url && window.EventSource) { stream = new EventSource(url); }
    return stream;
  }

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
    var es = openStream(box.getAttribute("data-events"));
    es.onopen = function () { if (status) { status.textContent = status.getAttribute("data-live-text"); } };
    es.onerror = function () { if (status) { status.textContent = status.getAttribute("data-off-text"); } };
    es.onmessage = schedule;
    ["created", "updated", "assigned", "transferred", "status_changed", "message_added", "linked", "unlinked", "delivery_failed",
     "sla_warning", "sla_breached", "merged", "error"].forEach(function (t) { es.addEventListener(t, schedule); });
    function schedule() { if (!timer) { timer = setTimeout(reload, 400); } }
  }

  // Call notice (screen pop): "event: call" on the stream draws, for each
  // call, who is calling, their contact and open cases (links), and two
  // forms posting to /console/calls/{id}/attach: attach the call with its
  // notes to a case, or open a new case with them. The text line above it
  // (aria-live) announces the call to screen readers.
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text) { e.textContent = text; }
    return e;
  }
  function callPop() {
    var box = document.getElementById("call-pop");
    var live = document.getElementById("call-live");
    if (!box) { return; }
    var es = openStream(box.getAttribute("data-events"));
    if (!es) { return; }
    var t = {};
    try { t = JSON.parse(box.getAttribute("data-texts") || "{}"); } catch (e) { t = {}; }
    function tr(k) { return t[k] || k; }
    var here = document.getElementById("case");
    es.addEventListener("call", function (ev) {
      var n;
      try { n = JSON.parse(ev.data); } catch (e) { return; }
      if (!n || !n.callId) { return; }
      var id = "call-" + n.callId.replace(/[^A-Za-z0-9_-]/g, "_");
      var old = document.getElementById(id);
      var from = n.from === "anonymous" ? tr("anonymous") : (n.from || tr("anonymous"));
      var title = tr(n.type === "answered" ? "answered" : "ringing");
      var sec = el("section", { "class": "call-notice", id: id, "aria-labelledby": id + "-title", "data-call-id": n.callId, "data-type": n.type || "" });
      var h = el("h2", { id: id + "-title" }, title + " – " + tr("from") + " " + from);
      sec.appendChild(h);
      var who = el("p", { "class": "call-citizen" });
      who.appendChild(el("strong", {}, tr("citizen") + ": "));
      who.appendChild(document.createTextNode(n.contactName || tr("unknown")));
      sec.appendChild(who);
      var cases = n.openCases || [];
      sec.appendChild(el("h3", { "class": "h6" }, tr("openCases")));
      var ul = el("ul", { "class": "call-cases" });
      cases.forEach(function (c) {
        var li = el("li");
        li.appendChild(el("a", { href: "/console/cases/" + encodeURIComponent(c.id) }, c.reference));
        li.appendChild(document.createTextNode(" " + (c.subject || "")));
        ul.appendChild(li);
      });
      if (!cases.length) { ul.appendChild(el("li", {}, tr("noCases"))); }
      sec.appendChild(ul);

      function form(kind) {
        var f = el("form", { method: "post", action: "/console/calls/" + encodeURIComponent(n.callId) + "/attach", "class": "call-" + kind + " mt-3" });
        f.appendChild(el("input", { type: "hidden", name: "csrf_token", value: box.getAttribute("data-csrf") || "" }));
        f.appendChild(el("input", { type: "hidden", name: "back", value: box.getAttribute("data-back") || "/console/" }));
        var fs = el("fieldset");
        fs.appendChild(el("legend", { "class": "h6" }, tr(kind === "attach" ? "attach" : "newCase")));
        if (kind === "attach") {
          var sid = id + "-case";
          fs.appendChild(el("label", { "for": sid }, tr("case")));
          var sel = el("select", { id: sid, name: "case_id", "class": "form-select", required: "" });
          var seen = {};
          if (here) {
            var ref = document.getElementById("case-reference");
            sel.appendChild(el("option", { value: here.getAttribute("data-case-id") }, (ref ? ref.textContent + " – " : "") + tr("thisCase")));
            seen[here.getAttribute("data-case-id")] = true;
          }
          cases.forEach(function (c) { if (!seen[c.id]) { sel.appendChild(el("option", { value: c.id }, c.reference + " " + (c.subject || ""))); } });
          fs.appendChild(sel);
        } else {
          var subj = id + "-subject";
          fs.appendChild(el("label", { "for": subj }, tr("subject")));
          fs.appendChild(el("input", { id: subj, name: "subject", "class": "form-control", maxlength: "300" }));
        }
        var nid = id + "-" + kind + "-notes";
        fs.appendChild(el("label", { "for": nid }, tr("notes")));
        fs.appendChild(el("textarea", { id: nid, name: "notes", "class": "form-control", rows: "3", required: "", maxlength: "4000" }));
        fs.appendChild(el("button", { type: "submit", "class": "btn btn-primary btn-sm mt-2" }, tr(kind === "attach" ? "attachDo" : "newDo")));
        f.appendChild(fs);
        return f;
      }
      if (here || cases.length) { sec.appendChild(form("attach")); }
      sec.appendChild(form("new"));
      var close = el("button", { type: "button", "class": "btn btn-outline-secondary btn-sm mt-2 call-dismiss" }, tr("dismiss"));
      close.addEventListener("click", function () { sec.remove(); });
      sec.appendChild(close);
      // An update of a call already shown keeps what was typed in it.
      if (old) {
        old.querySelector("h2").textContent = h.textContent;
        old.setAttribute("data-type", n.type || "");
      } else {
        box.insertBefore(sec, box.firstChild);
      }
      if (live) { live.textContent = title + " – " + tr("from") + " " + from + (n.contactName ? " (" + n.contactName + ")" : ""); }
    });
  }

  // SLA badges tick: each second the state (ok → warning → breached) and
  // the time left are worked out from the deadline and the warning time
  // the server wrote (data-sla-due, data-sla-warn, Unix ms), on the
  // server's clock (body data-now). Paused and undated badges stay as
  // drawn; without JavaScript the server's text stays.
  function countdown(ms) {
    var m = Math.round(Math.abs(ms) / 60000);
    var d = Math.floor(m / 1440), h = Math.floor(m / 60) % 24, mm = m % 60;
    if (d > 0) { return d + "d " + h + "h"; }
    if (h > 0) { return h + "h " + (mm < 10 ? "0" : "") + mm + "m"; }
    return mm + "m";
  }
  var badgeClass = { ok: "bg-success", warning: "bg-warning", breached: "bg-danger" };
  var rank = { ok: 0, warning: 1, breached: 2 };
  function slaTicker() {
    var body = document.body;
    var t = {};
    try { t = JSON.parse(body.getAttribute("data-sla-texts") || "{}"); } catch (e) { return; }
    var skew = (parseInt(body.getAttribute("data-now"), 10) || Date.now()) - Date.now();
    function tick() {
      var now = Date.now() + skew;
      document.querySelectorAll(".sla-badge[data-sla-due]").forEach(function (b) {
        var st = b.getAttribute("data-sla-state");
        var due = parseInt(b.getAttribute("data-sla-due"), 10);
        var warn = parseInt(b.getAttribute("data-sla-warn"), 10);
        if (!due || !badgeClass[st]) { return; }
        var next = now >= due ? "breached" : (warn && now >= warn ? "warning" : "ok");
        if (rank[next] < rank[st]) { next = st; } // the server said so; a badge never goes back
        if (next !== st) {
          b.classList.remove(badgeClass[st]);
          b.classList.add(badgeClass[next]);
          b.setAttribute("data-sla-state", next);
        }
        var left = due - now;
        b.textContent = (t[next] || next) + " · " + (left < 0 ? t.over : t.left) + " " + countdown(left);
      });
    }
    tick();
    setInterval(tick, 1000);
  }

  // Files chosen for the message: listed (name, size) before sending, with
  // a warning past the channel's limit (the server refuses it too).
  function chosenFiles() {
    var input = document.getElementById("message-file");
    var list = document.getElementById("message-files");
    if (!input || !list) { return; }
    input.addEventListener("change", function () {
      list.textContent = "";
      var max = parseInt(list.getAttribute("data-max"), 10) || 0;
      Array.prototype.forEach.call(input.files, function (f) {
        list.appendChild(el("li", { "class": "chosen-file" }, f.name + " (" + (f.size / 1024).toFixed(1) + " KB)"));
      });
      if (max && input.files.length > max) {
        list.appendChild(el("li", { "class": "text-danger", id: "too-many-files" }, list.getAttribute("data-too-many") + " " + max + "."));
      }
    });
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
    liveQueue(); callPop(); viewing(); shortcuts(); slaTicker(); chosenFiles();
    var errs = document.getElementById("errors"); if (errs) { errs.focus(); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
