(function () {
  "use strict";
  var canvas = document.getElementById("canvas");
  var svg = document.getElementById("diagram");
  if (!canvas || !svg) { return; }
  var full = svg.viewBox.baseVal;
  var view = { x: full.x, y: full.y, w: full.width, h: full.height };
  canvas.classList.add("js");
  svg.removeAttribute("width");
  svg.removeAttribute("height");

  function apply() { svg.setAttribute("viewBox", [view.x, view.y, view.w, view.h].join(" ")); }
  function zoom(factor, cx, cy) {
    var w = Math.min(Math.max(view.w * factor, full.width / 20), full.width * 4);
    var f = w / view.w;
    view.x = cx - (cx - view.x) * f;
    view.y = cy - (cy - view.y) * f;
    view.w *= f;
    view.h *= f;
    apply();
  }
  function toDiagram(ev) {
    var r = svg.getBoundingClientRect();
    var scale = Math.max(view.w / r.width, view.h / r.height);
    var offX = (r.width * scale - view.w) / 2, offY = (r.height * scale - view.h) / 2;
    return { x: view.x - offX + (ev.clientX - r.left) * scale, y: view.y - offY + (ev.clientY - r.top) * scale, scale: scale };
  }
  canvas.addEventListener("wheel", function (ev) {
    ev.preventDefault();
    var p = toDiagram(ev);
    zoom(ev.deltaY > 0 ? 1.15 : 1 / 1.15, p.x, p.y);
  }, { passive: false });
  document.getElementById("zoom-in").addEventListener("click", function () { zoom(1 / 1.3, view.x + view.w / 2, view.y + view.h / 2); });
  document.getElementById("zoom-out").addEventListener("click", function () { zoom(1.3, view.x + view.w / 2, view.y + view.h / 2); });
  document.getElementById("zoom-reset").addEventListener("click", function () { view = { x: full.x, y: full.y, w: full.width, h: full.height }; apply(); });

  var drag = null, moved = false;
  canvas.addEventListener("pointerdown", function (ev) {
    drag = { x: ev.clientX, y: ev.clientY, vx: view.x, vy: view.y, scale: toDiagram(ev).scale };
    moved = false;
  });
  window.addEventListener("pointermove", function (ev) {
    if (!drag) { return; }
    var dx = ev.clientX - drag.x, dy = ev.clientY - drag.y;
    if (Math.abs(dx) + Math.abs(dy) > 3) { moved = true; canvas.classList.add("dragging"); }
    view.x = drag.vx - dx * drag.scale;
    view.y = drag.vy - dy * drag.scale;
    apply();
  });
  window.addEventListener("pointerup", function () { drag = null; canvas.classList.remove("dragging"); });

  function clear() {
    svg.classList.remove("focus");
    svg.querySelectorAll(".hl, .selected").forEach(function (el) { el.classList.remove("hl", "selected"); });
  }
  function focus(node) {
    var id = node.getAttribute("data-id");
    var already = node.classList.contains("selected");
    clear();
    if (already) { return; }
    svg.classList.add("focus");
    node.classList.add("hl", "selected");
    svg.querySelectorAll(".link").forEach(function (link) {
      var from = link.getAttribute("data-from"), to = link.getAttribute("data-to");
      if (from !== id && to !== id) { return; }
      link.classList.add("hl");
      var other = from === id ? to : from;
      svg.querySelectorAll('.node[data-id="' + other + '"]').forEach(function (n) { n.classList.add("hl"); });
    });
  }
  svg.addEventListener("click", function (ev) {
    if (moved) { return; }
    var node = ev.target.closest(".node");
    if (node) { focus(node); } else { clear(); }
  });
  svg.addEventListener("keydown", function (ev) {
    var node = ev.target.closest && ev.target.closest(".node");
    if (node && (ev.key === "Enter" || ev.key === " ")) { ev.preventDefault(); focus(node); }
    if (ev.key === "Escape") { clear(); }
  });
})();
