// The console's small enhancements, from a file: the Content-Security-Policy forbids inline scripts.
// Everything works without it; with it, a form marked data-once cannot be sent twice by a double click.
// Listening on the document covers forms swapped in later too (the live queue, console-notify.js).
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches || !form.matches("form[data-once]")) { return; }
  if (form.dataset.sent) { event.preventDefault(); return; }
  form.dataset.sent = "1";
  // Disabled after this turn of the event loop: the browser builds the form's data after this handler, and
  // a button disabled now would drop the pressed button's name and value from it.
  setTimeout(function () {
    form.querySelectorAll("button[type=submit]").forEach(function (button) { button.disabled = true; });
  }, 0);
});

// A canned reply fills the message box (the agent may still edit it).
document.querySelectorAll("select[data-canned-target]").forEach(function (select) {
  select.addEventListener("change", function () {
    var box = document.getElementById(select.dataset.cannedTarget);
    if (box && select.value) { box.value = select.value; box.focus(); }
  });
});

// The conversation page stays live: every second it asks for what is new since the last message and note
// it shows (an HTML fragment to append, and the delivery statuses that changed). Polling rather than
// Server-Sent Events: see docs/agents.md.
(function () {
  var page = document.querySelector(".conversation[data-updates]");
  if (!page) { return; }
  var list = page.querySelector("ol.thread");
  var busy = false;
  function poll() {
    if (busy) { return; }
    busy = true;
    var url = page.dataset.updates + "?after=" + page.dataset.after + "&notes_after=" + page.dataset.notesAfter;
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (data.html && data.html.trim()) {
          var holder = document.createElement("template");
          holder.innerHTML = data.html;
          holder.content.querySelectorAll("li").forEach(function (li) {
            var key = li.dataset.message ? "[data-message='" + li.dataset.message + "']" : "[data-note='" + li.dataset.note + "']";
            if (!list.querySelector(key)) { list.appendChild(li); }
          });
          // The title count and the alert come from console-notify.js.
          if (!document.hidden) { list.lastElementChild.scrollIntoView({ block: "nearest" }); }
        }
        Object.keys(data.statuses || {}).forEach(function (id) {
          var old = list.querySelector("[data-status-for='" + id + "']");
          if (old) { old.outerHTML = data.statuses[id]; }
        });
        page.dataset.after = data.after;
        // What the agent has now seen: an answer someone else sent meanwhile no longer blocks theirs.
        page.querySelectorAll("input[data-seen]").forEach(function (seen) { seen.value = data.after; });
        page.dataset.notesAfter = data.notes_after;
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { busy = false; });
  }
  setInterval(poll, 1000);
})();

// The debtor card starts closed on a phone (the thread comes first), unless an action just came back to
// it (#ficha); on a laptop it stays open beside the thread.
document.querySelectorAll("details[data-card]").forEach(function (card) {
  var narrow = window.matchMedia("(max-width: 999px)");
  if (narrow.matches && window.location.hash !== "#ficha") { card.open = false; }
  // Turned into a laptop-wide window (a tablet rotated): the card opens, since it cannot be toggled there.
  narrow.addEventListener("change", function () { if (!narrow.matches) { card.open = true; } });
});

// "Carregar mensagens anteriores": the previous page of messages is put at the top of the thread, where the
// reader stays. Without JavaScript the link opens that page on its own (?before=<id>).
document.querySelectorAll("a[data-older]").forEach(function (link) {
  link.addEventListener("click", function (event) {
    var list = document.querySelector("ol.thread");
    if (!list || link.dataset.busy) { return; }
    event.preventDefault();
    link.dataset.busy = "1";
    var url = link.dataset.older + "?before=" + link.dataset.before;
    fetch(url, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (!data) { window.location.href = link.href; return; }
        var height = document.documentElement.scrollHeight;
        var holder = document.createElement("template");
        holder.innerHTML = data.html;
        var first = list.firstElementChild;
        holder.content.querySelectorAll("li").forEach(function (li) {
          var key = li.dataset.message ? "[data-message='" + li.dataset.message + "']" : "[data-note='" + li.dataset.note + "']";
          if (!list.querySelector(key)) { list.insertBefore(li, first); }
        });
        window.scrollBy(0, document.documentElement.scrollHeight - height);
        if (data.before) {
          link.dataset.before = data.before;
          link.href = link.href.replace(/before=\d+/, "before=" + data.before);
        } else {
          link.parentNode.remove();
        }
      })
      .catch(function () { window.location.href = link.href; })
      .then(function () { delete link.dataset.busy; });
  });
});
