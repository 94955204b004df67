// Runs before the page paints. Mirrors src/lib/theme.ts: an explicit "light" or "dark" choice is
// written to <html data-theme>; "system" (or nothing saved) leaves it unset so the CSS follows
// prefers-color-scheme.
(function () {
  try {
    var t = localStorage.getItem('keepsake.theme');
    if (t === 'light' || t === 'dark') document.documentElement.setAttribute('data-theme', t);
  } catch (e) {
    /* storage blocked: follow the system */
  }
})();
