// The first field a refused form marked invalid gets the focus (the page shows all the form's errors at once).
(function () {
  var bad = document.querySelector("[aria-invalid=true]");
  if (bad) bad.focus();
})();

// Polls a small JSON status endpoint and reloads the page when the state it was rendered with changes.
(function () {
  var el = document.querySelector("[data-poll-url]");
  if (!el) return;
  var url = el.getAttribute("data-poll-url");
  var state = el.getAttribute("data-poll-state");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok || r.status === 401 ? r.json() : null; })
      .then(function (body) {
        if (body && body.state !== state) {
          if (body.redirect) { window.location.assign(body.redirect); } else { window.location.reload(); }
          return;
        }
        setTimeout(tick, 1000);
      })
      .catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 1000);
})();
