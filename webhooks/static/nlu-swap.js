// The serving page while a model swap runs (/console/nlu/servindo): every 2 seconds it asks for the swap's
// stage and shows it; once the swap is over (switched, or abandoned with a reason) it reloads the page, which
// then says which model answers. Without JavaScript the page refreshes itself (a <noscript> meta refresh).
(function () {
  var box = document.querySelector("[data-progress]");
  if (!box) { return; }
  var stage = box.querySelector("[data-swap-stage]");
  var busy = false;
  function poll() {
    if (busy) { return; }
    busy = true;
    fetch(box.dataset.progress, { headers: { "Accept": "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        // The session expired (polls do not keep it alive): show the login page, not a frozen stage.
        if (response.redirected) { window.location.href = response.url; return null; }
        return response.ok ? response.json() : null;
      })
      .then(function (data) {
        if (!data) { return; }
        if (!data.swapping) { window.location.reload(); return; }
        if (stage && stage.textContent !== data.label) { stage.textContent = data.label; }
      })
      .catch(function () { /* the next poll tries again */ })
      .then(function () { busy = false; });
  }
  setInterval(poll, 2000);
})();
