/* evidencekb: sortable evidence tables and the design filter. No external code. */
(function () {
  function cellValue(row, i) {
    var cell = row.children[i];
    var text = cell ? cell.textContent.trim() : "";
    var num = parseFloat(text.replace(/[^0-9.\-]/g, ""));
    return /^[0-9.\-—\s]+$/.test(text) && !isNaN(num) ? num : text.toLowerCase();
  }
  function makeSortable(table) {
    if (table.dataset.ekbSortable) return;
    // A data attribute, not a class: Material styles only tables without a class.
    table.dataset.ekbSortable = "1";
    var headers = table.querySelectorAll("thead th");
    headers.forEach(function (th, i) {
      th.setAttribute("tabindex", "0");
      th.setAttribute("aria-sort", "none");
      function sort() {
        var asc = th.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (h) { h.setAttribute("aria-sort", "none"); });
        th.setAttribute("aria-sort", asc ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, i), y = cellValue(b, i);
          if (x < y) return asc ? -1 : 1;
          if (x > y) return asc ? 1 : -1;
          return 0;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
  }
  function setupFilters() {
    var buttons = document.querySelectorAll(".ekb-filter");
    buttons.forEach(function (b) {
      b.addEventListener("click", function () {
        var d = b.dataset.design;
        buttons.forEach(function (x) { x.setAttribute("aria-pressed", x === b ? "true" : "false"); });
        document.querySelectorAll(".ekb-design-group").forEach(function (g) {
          g.hidden = !(d === "all" || g.dataset.design === d);
        });
      });
    });
  }
  function setupCopy() {
    document.querySelectorAll("[data-ekb-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        var target = document.getElementById(b.dataset.ekbCopy);
        if (target && navigator.clipboard) navigator.clipboard.writeText(target.textContent.trim());
      });
    });
  }
  // Without site_url, citations of a page carry a placeholder address: put the real one in.
  function fillAddresses() {
    var root = new URL(document.querySelector("script[src$='assets/evidencekb.js']").getAttribute("src"), location);
    var base = root.href.replace(/assets\/evidencekb\.js.*$/, "").replace(/\/$/, "");
    var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    var node;
    while ((node = walker.nextNode())) {
      if (node.nodeValue.indexOf("https://site.invalid") >= 0) {
        node.nodeValue = node.nodeValue.split("https://site.invalid").join(base);
      }
    }
    document.querySelectorAll("[data-ekb-page-url]").forEach(function (el) {
      el.textContent = location.origin + location.pathname;
    });
  }
  // Material's search dialog has no accessible name; give it one.
  function labelSearch() {
    var dialog = document.querySelector(".md-search[role=dialog]");
    if (dialog && !dialog.hasAttribute("aria-label")) dialog.setAttribute("aria-label", "Search the site");
  }
  function setupPrint() {
    document.querySelectorAll("[data-ekb-print]").forEach(function (b) {
      if (b.dataset.ekbReady) return;
      b.dataset.ekbReady = "1";
      b.addEventListener("click", function () { window.print(); });
    });
  }
  // A copied citation gives the day it is copied as its access date, not the review date.
  function fillAccessed() {
    var opts = { year: "numeric", month: "long", day: "numeric" };
    var now = new Date();
    var iso = now.getFullYear() + "-" + String(now.getMonth() + 1).padStart(2, "0") + "-" +
      String(now.getDate()).padStart(2, "0");
    document.querySelectorAll("pre[data-ekb-accessed] code").forEach(function (code) {
      var pre = code.closest("pre");
      var d = pre.dataset.ekbAccessed;
      if (!/^\d{4}-\d{2}-\d{2}$/.test(d) || pre.dataset.ekbFilled) return;
      pre.dataset.ekbFilled = "1";
      var p = d.split("-");
      var then = new Date(+p[0], +p[1] - 1, +p[2]).toLocaleDateString("en-US", opts);
      code.textContent = code.textContent.split("Accessed " + then).join("Accessed " + now.toLocaleDateString("en-US", opts))
        .split("urldate = {" + d + "}").join("urldate = {" + iso + "}");
    });
  }
  // Abbreviations explain themselves on focus too, not only on hover.
  function focusableAbbreviations() {
    document.querySelectorAll(".md-typeset abbr[title]").forEach(function (a) {
      if (!a.hasAttribute("tabindex")) a.setAttribute("tabindex", "0");
    });
  }
  function init() {
    labelSearch();
    setupPrint();
    fillAccessed();
    focusableAbbreviations();
    fillAddresses();
    document.querySelectorAll(".ekb-table table").forEach(makeSortable);
    setupFilters();
    setupCopy();
  }
  if (window.document$ && window.document$.subscribe) { window.document$.subscribe(init); }
  else if (document.readyState !== "loading") { init(); }
  else { document.addEventListener("DOMContentLoaded", init); }
})();
