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
  var overlay = null;
  function close() { if (overlay) { overlay.remove(); overlay = null; } }
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  document.querySelectorAll("main .cell_output img, main figure img").forEach(function (img) {
    img.classList.add("zoomable");
    img.setAttribute("tabindex", "0");
    img.setAttribute("title", "Click to enlarge");
    function open() {
      close();
      overlay = document.createElement("div");
      overlay.className = "figure-zoom";
      overlay.setAttribute("role", "dialog");
      overlay.setAttribute("aria-label", "Enlarged figure; click or press Escape to close");
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
