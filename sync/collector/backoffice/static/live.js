// Dashboard figures follow the collector as batches arrive (server-sent events from /live, with the page's filter:
// a narrowed dashboard gets only its slice).
(function () {
  var dot = document.getElementById("live");
  if (!window.EventSource || !dot) return;
  var source = new EventSource(dot.getAttribute("data-src") || "/live");
  source.addEventListener("open", function () { dot.classList.add("on"); });
  source.addEventListener("error", function () { dot.classList.remove("on"); });
  source.addEventListener("figures", function (e) {
    var data = JSON.parse(e.data);
    var box = document.querySelector("section.figures");
    if (box) box.setAttribute("data-version", data.version);  // the data these figures are of (tests await it)
    Object.keys(data.figures).forEach(function (key) {
      var el = document.getElementById("fig-" + key);
      if (!el || el.textContent === data.figures[key]) return;
      el.textContent = data.figures[key];
      if (data.raw && key in data.raw) el.setAttribute("data-minor", data.raw[key] === null ? "" : data.raw[key]);
      el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
    });
    var ok = document.getElementById("fig-books_balance");
    if (ok && data.books_balance !== null) { ok.classList.toggle("ok", data.books_balance); ok.classList.toggle("bad", !data.books_balance); }
  });
})();
