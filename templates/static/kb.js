// kb: progressive enhancements only; every page works without this file.
(function () {
  "use strict";
  // Moving to a section from the table of contents also moves keyboard focus there.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest(".toc a[href^='#']");
    if (!link) return;
    var target = document.getElementById(decodeURIComponent(link.hash.slice(1)));
    if (target) {
      target.setAttribute("tabindex", "-1");
      window.setTimeout(function () { target.focus({ preventScroll: true }); }, 0);
    }
  });
})();
