// Console alerts (issue 16 §7), from a file: the Content-Security-Policy forbids inline scripts.
// Every 3 seconds the page asks /console/novidades what is new for this person since the last answer
// (new conversations in the queue, debtor messages in the conversations they own: roles are applied by
// the server). Something new shows a banner (role=alert), plays a short beep generated with WebAudio (no
// file, no CDN), counts in the title, "(2) Fila — Régua", and, when the tab is in the background and the
// person allowed it with the button, raises the browser's notification. On the queue page the rows are
// refreshed from /console/fila when they changed. Polling rather than Server-Sent Events: docs/agents.md.
(function () {
  var box = document.getElementById("notifier");
  if (!box || !window.fetch) { return; }
  var banner = box.querySelector(".alert-banner");
  var text = banner.querySelector(".alert-text");
  var link = banner.querySelector(".alert-link");
  var baseTitle = document.title;
  var since = box.dataset.since;
  var announced = {};
  var unseen = 0;
  var busy = false;
  var live = document.getElementById("queue-live");

  // What the page already shows is not news.
  document.querySelectorAll("[data-conversation]").forEach(function (row) {
    announced["c" + row.dataset.conversation] = true;
  });
  var page = document.querySelector(".conversation[data-updates]");

  function showCount() {
    document.title = unseen > 0 ? "(" + unseen + ") " + baseTitle : baseTitle;
  }

  function beep() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) { return; }
      var audio = beep.context || (beep.context = new Context());
      var tone = audio.createOscillator();
      var volume = audio.createGain();
      tone.frequency.value = 880;
      volume.gain.setValueAtTime(0.15, audio.currentTime);
      volume.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
      tone.connect(volume).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.25);
    } catch (ignored) { /* a browser that blocks sound still shows the banner */ }
  }

  function say(conversations, messages) {
    var parts = [];
    if (conversations) {
      parts.push(conversations === 1 ? "1 nova conversa na fila" : conversations + " novas conversas na fila");
    }
    if (messages) {
      parts.push(messages === 1 ? "1 nova mensagem de devedor(a)" : messages + " novas mensagens de devedores");
    }
    return parts.join(" e ") + ".";
  }

  function alertPerson(conversations, messages, target) {
    unseen += conversations.length + messages.length;
    showCount();
    var words = say(conversations.length, messages.length);
    text.textContent = unseen > conversations.length + messages.length
      ? words + " Total sem ver: " + unseen + "." : words;
    link.href = target;
    link.textContent = target === box.dataset.queue ? "Ver a fila" : "Abrir a conversa";
    banner.hidden = false;
    beep();
    if (document.hidden && window.Notification && Notification.permission === "granted") {
      var note = new Notification("Régua — atendimento", { body: words, tag: "regua-console" });
      note.onclick = function () { window.focus(); window.location.href = target; };
    }
  }

  function seen() {
    unseen = 0;
    showCount();
    banner.hidden = true;
  }
  banner.querySelector(".alert-dismiss").addEventListener("click", seen);

  function refreshQueue() {
    if (!live || live.contains(document.activeElement)) { return; } // never under the agent's cursor
    fetch(live.dataset.refresh, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var holder = document.createElement("template");
        holder.innerHTML = html;
        var fresh = holder.content.querySelector(".queue-body");
        var old = live.querySelector(".queue-body");
        if (fresh && (!old || old.dataset.signature !== fresh.dataset.signature)) {
          live.replaceChildren(fresh); // console.js guards its forms against double clicks, too
        }
      })
      .catch(function () { /* the next round tries again */ });
  }

  function poll() {
    if (busy) { return; }
    busy = true;
    fetch(box.dataset.news + "?since=" + encodeURIComponent(since), {
      headers: { "Accept": "application/json" }, credentials: "same-origin"
    })
      .then(function (response) {
        // The session expired (polls do not keep it alive): show the login page and its explanation
        // rather than a console that looks on duty but no longer hears anything.
        if (response.redirected) { window.location.href = response.url; return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) { return; }
        since = data.since;
        var conversations = data.conversations.filter(function (id) { return !announced["c" + id]; });
        var messages = data.messages.filter(function (m) { return !announced["m" + m.id]; });
        conversations.forEach(function (id) { announced["c" + id] = true; });
        messages.forEach(function (m) { announced["m" + m.id] = true; });
        // A message in the conversation open on the screen, with the tab in front, is already seen.
        if (page && !document.hidden) {
          messages = messages.filter(function (m) { return String(m.conversation) !== page.dataset.conversation; });
        }
        if (conversations.length || messages.length) {
          var target = messages.length && !conversations.length
            ? box.dataset.conversation.replace(/0$/, String(messages[0].conversation))
            : box.dataset.queue;
          alertPerson(conversations, messages, target);
        }
        refreshQueue();
      })
      .catch(function () { /* the next round tries again */ })
      .then(function () { busy = false; });
  }
  setInterval(poll, 3000);

  // The browser's notification needs the person's permission: asked by a button, never on load.
  var ask = document.getElementById("notify-permission");
  if (ask && window.Notification && Notification.permission === "default") {
    ask.hidden = false;
    ask.addEventListener("click", function () {
      Notification.requestPermission().then(function () { ask.hidden = true; });
    });
  }
})();
