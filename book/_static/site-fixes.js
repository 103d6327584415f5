// Site fixes, served from the site itself.
// The theme binds its sidebar buttons with querySelector, i.e. to the FIRST ".primary-toggle" and
// ".secondary-toggle" of the page, which is a hidden navbar button; the visible buttons in the article
// header then do nothing (at phone width the chapter list cannot be opened). Forward their clicks.
document.addEventListener("DOMContentLoaded", function () {
  [".primary-toggle", ".secondary-toggle"].forEach(function (selector) {
    var buttons = Array.prototype.slice.call(document.querySelectorAll(selector));
    var bound = buttons[0];
    buttons.slice(1).forEach(function (button) {
      button.addEventListener("click", function (event) {
        event.preventDefault();
        event.stopPropagation();
        bound.click();
      });
    });
  });
});

// Figures on a projector: a click on a figure that a notebook drew opens it at full size over the page
// (a wide row of small panels is otherwise read at the column's width); a click or Escape closes it.
document.addEventListener("DOMContentLoaded", function () {
  var zh = /^zh/i.test(document.documentElement.lang || "");  // the Chinese edition's pages: lang="zh-CN"
  var enlarge = zh ? "点击放大" : "Click to enlarge";
  var enlarged = zh ? "放大的图；点击或按 Esc 键关闭" : "Enlarged figure; click or press Escape to close";
  var overlay = null;
  function close() { if (overlay) { overlay.remove(); overlay = null; } }
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  document.querySelectorAll("main .cell_output img, main figure img").forEach(function (img) {
    img.classList.add("zoomable");
    img.setAttribute("tabindex", "0");
    img.setAttribute("title", enlarge);
    function open() {
      close();
      overlay = document.createElement("div");
      overlay.className = "figure-zoom";
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-label", enlarged);
      var big = document.createElement("img");
      big.src = img.src;
      big.alt = img.alt;
      overlay.appendChild(big);
      overlay.addEventListener("click", close);
      document.body.appendChild(overlay);
    }
    img.addEventListener("click", open);
    img.addEventListener("keydown", function (e) { if (e.key === "Enter") open(); });
  });
});

// Inline code longer than 24 characters (a test's name, a path) may wrap anywhere (class long-code, site.css);
// shorter code stays in one piece.
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("article code.literal").forEach(function (code) {
    if (code.textContent.length > 24) code.classList.add("long-code");
  });
});

// Code in a table (file names, metric and function names, versions): a column is at least as wide as its
// longest unbreakable word, and a few such words pushed tables of the book past the article's right edge. Allow
// a line break after "_", "-", "/" and "." and between the words of a CamelCase name inside such code (a <wbr>,
// which copies as nothing), so a name wraps at its joints only when the column is too narrow for it. A
// notebook's printed data frame gets the same in its headers (column and row names such as human_rating_alpha),
// after "_" and "/" and between CamelCase words only, so that its numbers never break. The table marks itself
// (data-code-breaks).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("article table").forEach(function (table) {
    var printed = table.closest(".cell_output, .output") !== null;
    var joints = printed ? /(?<=[_\/])(?=.)|(?<=[a-z])(?=[A-Z])/ : /(?<=[_\-\/.])(?=.)|(?<=[a-z])(?=[A-Z])/;
    table.querySelectorAll(printed ? "th" : "code").forEach(function (holder) {
      var walker = document.createTreeWalker(holder, NodeFilter.SHOW_TEXT);
      var texts = [];
      while (walker.nextNode()) texts.push(walker.currentNode);
      texts.forEach(function (text) {
        var parts = text.data.split(joints);
        if (parts.length < 2) return;
        var piece = document.createDocumentFragment();
        parts.forEach(function (part, i) {
          if (i) piece.appendChild(document.createElement("wbr"));
          piece.appendChild(document.createTextNode(part));
        });
        text.parentNode.replaceChild(piece, text);
      });
    });
    table.setAttribute("data-code-breaks", "");
  });
});

// Display equations wider than the column: MathJax 3 does not break lines, so an equation that does not fit is
// cut at the column's edge and must be scrolled sideways. Shrink such an equation to fit, down to 70% of its
// size (beyond that it would be unreadable: it keeps its sideways scroll, as on a phone), and again when the
// window is resized. The page records that it has done so (data-math-fitted), for the site test.
(function () {
  var SMALLEST = 0.7;
  function fit() {
    document.querySelectorAll('mjx-container[display="true"]').forEach(function (box) {
      box.style.fontSize = "";
      var base = parseFloat(getComputedStyle(box).fontSize);
      for (var i = 0; i < 3 && box.scrollWidth > box.clientWidth + 1; i++) {
        var now = parseFloat(getComputedStyle(box).fontSize);
        var size = Math.max(now * (box.clientWidth - 2) / box.scrollWidth, base * SMALLEST);
        if (size >= now) break;
        box.style.fontSize = size + "px";
      }
    });
    document.documentElement.dataset.mathFitted = "1";
  }
  window.fitDisplayMath = fit;  // .ci/make_pdf.py calls it again at the printed page's width
  var tries = 0;
  function start() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) { MathJax.startup.promise.then(fit); }
    else if (++tries < 50) { setTimeout(start, 200); }
    else { document.documentElement.dataset.mathFitted = "1"; }  // a page without MathJax
  }
  var timer = null;
  window.addEventListener("resize", function () { clearTimeout(timer); timer = setTimeout(fit, 150); });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
