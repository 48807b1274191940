// Copy buttons of the payment page, from a file: the Content-Security-Policy forbids inline scripts.
// The Clipboard API where the browser allows it, a selection + execCommand fallback otherwise.
// Each copy is reported to /p/<token>/copiado (the collection metrics, docs/metrics.md): JSON from this
// origin only (the server refuses anything else), fire-and-forget: the copy never waits for it.
function reportCopy(kind) {
  if (!kind || !window.fetch) { return; }
  fetch(window.location.pathname.replace(/\/$/, "") + "/copiado", {
    method: "POST",
    credentials: "omit",
    keepalive: true,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ kind: kind })
  }).catch(function () {});
}
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var field = document.getElementById(button.dataset.copy);
    var text = field.dataset.value || field.value;
    var status = document.getElementById(button.dataset.copy + "-status");
    function done() { status.textContent = button.dataset.done; reportCopy(button.dataset.event); }
    function fallback() {
      field.focus(); field.select();
      try { document.execCommand("copy"); done(); } catch (e) { status.textContent = "Selecione o texto e copie."; }
    }
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, fallback);
    } else {
      fallback();
    }
  });
});
