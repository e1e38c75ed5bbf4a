// Funnel Ledger dashboard: the as-of slider, the "as known then" switch and the rows selector
// reload the page with the new view; the server renders everything else.
"use strict";
(function () {
  const form = document.getElementById("view-form");
  if (!form) {
    return;
  }
  const slider = document.getElementById("as-of-slider");
  const label = document.getElementById("as-of-label");
  const asOf = document.getElementById("as-of");
  const first = Date.parse(slider.dataset.first + "T00:00:00Z");
  const day = function (index) {
    return new Date(first + index * 86400000).toISOString().slice(0, 10);
  };
  const reload = function () {
    document.body.classList.add("loading");
    form.submit();
  };
  slider.addEventListener("input", function () {
    label.textContent = day(Number(slider.value));
  });
  slider.addEventListener("change", function () {
    asOf.value = day(Number(slider.value));
    reload();
  });
  document.getElementById("known-then").addEventListener("change", reload);
  document.getElementById("rows").addEventListener("change", reload);
})();
