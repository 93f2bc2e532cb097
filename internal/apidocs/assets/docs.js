// The API reference's search box: filters the operations as you type.
// Without this script the page lists everything and shows no box.
(function () {
  "use strict";
  var input = document.getElementById("search");
  if (!input) {
    return;
  }
  var ops = Array.prototype.slice.call(document.querySelectorAll("article.op"));
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.tag"));
  var navOps = Array.prototype.slice.call(document.querySelectorAll(".side [data-op]"));
  var navTags = Array.prototype.slice.call(document.querySelectorAll(".side [data-tag]"));
  var none = document.getElementById("no-match");
  var overview = document.querySelector(".intro");

  function filter() {
    var terms = input.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = {};
    var count = 0;
    ops.forEach(function (op) {
      var text = op.getAttribute("data-search") || "";
      var match = terms.every(function (t) { return text.indexOf(t) !== -1; });
      op.hidden = !match;
      if (match) {
        shown[op.id] = true;
        count++;
      }
    });
    navOps.forEach(function (li) { li.hidden = !shown[li.getAttribute("data-op")]; });
    sections.forEach(function (s) { s.hidden = !s.querySelector("article.op:not([hidden])"); });
    navTags.forEach(function (t) { t.hidden = !t.querySelector("li:not([hidden])"); });
    none.hidden = count > 0;
    overview.hidden = terms.length > 0;
  }

  input.hidden = false;
  input.addEventListener("input", filter);
  document.addEventListener("keydown", function (e) {
    if (e.key === "/" && document.activeElement !== input) {
      e.preventDefault();
      input.focus();
    } else if (e.key === "Escape" && document.activeElement === input) {
      input.value = "";
      filter();
    }
  });
  if (input.value) {
    filter(); // a value the browser restored
  }
})();
