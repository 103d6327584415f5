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
