// Copy buttons of the payment page, from a file: the Content-Security-Policy forbids inline scripts.
// The Clipboard API where the browser allows it, a selection + execCommand fallback otherwise.
document.querySelectorAll("button[data-copy]").forEach(function (button) {
  button.addEventListener("click", function () {
    var field = document.getElementById(button.dataset.copy);
    var text = field.dataset.value || field.value;
    var status = document.getElementById(button.dataset.copy + "-status");
    function done() { status.textContent = button.dataset.done; }
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
