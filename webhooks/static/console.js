// The console's small enhancements, from a file: the Content-Security-Policy forbids inline scripts.
// Everything works without it; with it, a form marked data-once cannot be sent twice by a double click.
document.querySelectorAll("form[data-once]").forEach(function (form) {
  form.addEventListener("submit", function (event) {
    if (form.dataset.sent) { event.preventDefault(); return; }
    form.dataset.sent = "1";
    form.querySelectorAll("button[type=submit]").forEach(function (button) { button.disabled = true; });
  });
});
