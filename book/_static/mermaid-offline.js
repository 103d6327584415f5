// Draw the mermaid diagrams with the copy of mermaid served from this site (no CDN, works offline).
// mermaid.min.js is a UMD bundle: when an AMD loader (require.js) is on the page it registers itself
// there instead of on window, so both cases are handled.
(function () {
  function run(mermaid) {
    var dark = document.documentElement.dataset.theme === "dark";
    mermaid.initialize({ startOnLoad: false, theme: dark ? "dark" : "default" });
    mermaid.run({ querySelector: "pre.mermaid, div.mermaid" });
  }
  function start() {
    if (window.mermaid) { run(window.mermaid); }
    else if (typeof window.require === "function") { window.require(["mermaid"], run); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); }
  else { start(); }
})();
