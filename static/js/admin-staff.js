// Staff admin: a region that scrolls sideways (a raw body, a wide inline table) can be reached and
// scrolled from the keyboard.
(function () {
  function markScrollable() {
    document.querySelectorAll("pre, .inline-group, .tabular, #changelist .results").forEach(function (el) {
      if (el.scrollWidth > el.clientWidth && !el.hasAttribute("tabindex")) {
        el.setAttribute("tabindex", "0");
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", markScrollable);
  } else {
    markScrollable();
  }
  window.addEventListener("resize", markScrollable);
})();
