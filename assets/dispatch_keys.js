/* /dispatch keyboard shortcuts (layouts/dispatch.py shows them on the buttons).
 *
 * A key CLICKS the page's own button, so the server's role checks, the rev the page sends
 * and the answer are exactly those of a mouse click; a disabled button (not allowed for
 * the role, or not possible in the incident's state) is not clicked. Keys are ignored
 * while the focus is in a text field, a dropdown or an editable element, with a modifier
 * (Ctrl, Alt, Meta) held, and on every other page (no such buttons there).
 *   A acknowledge · D dispatch nearest · S on scene · C clear · N focus the note field
 * Local file, no external script; loaded by Dash from assets/ on every page. */
(function () {
  "use strict";
  var BUTTONS = {
    a: "dispatch-btn-ack",
    d: "dispatch-btn-assign-nearest",
    s: "dispatch-btn-on-scene",
    c: "dispatch-btn-clear"
  };
  var NOTE = "dispatch-note";

  function typing(el) {
    if (!el || el === document.body) return false;
    var tag = (el.tagName || "").toLowerCase();
    if (tag === "input" || tag === "textarea" || tag === "select") return true;
    if (el.isContentEditable) return true;
    return !!(el.closest && el.closest(
      ".dash-dropdown, [role=combobox], [role=listbox], [contenteditable=true]"));
  }

  function onKey(e) {
    if (e.defaultPrevented || e.repeat || e.ctrlKey || e.altKey || e.metaKey) return;
    if (typing(e.target) || typing(document.activeElement)) return;
    var key = (e.key || "").toLowerCase();
    if (key === "n") {
      var note = document.getElementById(NOTE);
      if (note && !note.disabled) { e.preventDefault(); note.focus(); }
      return;
    }
    var id = BUTTONS[key];
    if (!id) return;
    var btn = document.getElementById(id);
    if (!btn || btn.disabled) return;
    e.preventDefault();
    btn.click();
  }

  if (!window.__lukuangDispatchKeys) {
    window.__lukuangDispatchKeys = true;
    document.addEventListener("keydown", onKey);
  }
})();
