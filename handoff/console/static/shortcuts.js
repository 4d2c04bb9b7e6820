/* Relais console — keyboard shortcuts and their help (`?`): Alt+A accepts the oldest
 * incoming request, Alt+N goes to the next conversation, Alt+C and Alt+T bring the
 * focus to closing and transferring (Enter confirms), Alt+M to an internal note.
 * Letters are read from the key's position (KeyboardEvent.code), so they work on every
 * layout and on macOS, where Option changes the character. The help is a modal dialog:
 * focus stays inside, Escape closes it and gives the focus back. */
"use strict";

(() => {
  const ui = window.RelaisConsole;
  if (!ui) return;
  const t = window.relaisToolsText;
  const el = ui.el;
  const $ = (id) => document.getElementById(id);

  const SHORTCUTS = [
    { keys: ["Alt", "A"], code: "KeyA", text: "keyAccept", run: acceptOldest },
    { keys: ["Alt", "N"], code: "KeyN", text: "keyNext", run: nextChat },
    { keys: ["Alt", "C"], code: "KeyC", text: "keyClose", run: () => reach("close-form", "#close-form button[type=submit]") },
    { keys: ["Alt", "T"], code: "KeyT", text: "keyTransfer", run: () => reach("transfer-form", "#transfer-target") },
    { keys: ["Alt", "M"], code: "KeyM", text: "keyNote", run: () => window.RelaisNotes && window.RelaisNotes.focus() },
    { keys: ["/"], text: "keyCanned" },
    { keys: ["?"], text: "keyHelp" },
    { keys: ["Esc"], text: "keyEscape" },
  ];

  function acceptOldest() {
    const [first] = ui.offerIds(); // in arrival order
    if (first) ui.accept(first);
  }

  function nextChat() {
    const ids = ui.chatIds();
    if (!ids.length) return;
    const next = ids[(ids.indexOf(ui.selected) + 1) % ids.length];
    ui.select(next);
    if (ui.writable) ui.input.focus();
    else document.querySelector(`#chat-tabs [data-conversation-id="${next}"]`)?.focus();
  }

  function reach(formId, selector) {
    const form = $(formId);
    if (!ui.writable || !form || form.closest("[hidden]")) return;
    const target = document.querySelector(selector);
    target.scrollIntoView({ block: "nearest" });
    target.focus();
  }

  // ------------------------------------------------------------ the help dialog
  const heading = el("h2", { id: "shortcuts-title" });
  const table = el("table", { class: "shortcuts-table" });
  const closeButton = el("button", { type: "button", class: "ghost", id: "shortcuts-close" });
  const dialog = el("div", { id: "shortcuts-help", class: "shortcuts-dialog", role: "dialog", "aria-modal": "true",
    "aria-labelledby": "shortcuts-title", tabindex: "-1" }, heading, table, closeButton);
  const backdrop = el("div", { class: "shortcuts-backdrop", hidden: true }, dialog);
  document.body.append(backdrop);
  const openButton = el("button", { type: "button", id: "shortcuts-open", class: "ghost", "aria-haspopup": "dialog", "aria-keyshortcuts": "Shift+?" });
  $("logout").insertAdjacentElement("beforebegin", openButton);
  let returnTo = null;

  function texts() {
    heading.textContent = t("shortcutsTitle");
    closeButton.textContent = t("shortcutsClose");
    openButton.textContent = "? " + t("shortcutsButton");
    table.replaceChildren(el("tbody", {}, ...SHORTCUTS.map((s) => el("tr", {},
      el("th", { scope: "row" }, ...s.keys.flatMap((key, i) => (i ? [" + ", el("kbd", { text: key })] : [el("kbd", { text: key })]))),
      el("td", { text: t(s.text) })))));
  }

  const isOpen = () => !backdrop.hidden;
  function open() {
    if (isOpen()) return;
    returnTo = document.activeElement;
    backdrop.hidden = false;
    document.getElementById("app-view").setAttribute("inert", "");
    closeButton.focus();
  }
  function close() {
    if (!isOpen()) return;
    backdrop.hidden = true;
    document.getElementById("app-view").removeAttribute("inert");
    if (returnTo && document.contains(returnTo)) returnTo.focus();
    returnTo = null;
  }
  openButton.addEventListener("click", open);
  closeButton.addEventListener("click", close);
  backdrop.addEventListener("mousedown", (e) => { if (e.target === backdrop) close(); });

  const focusables = () => [...dialog.querySelectorAll("button, [href], input, select, textarea, [tabindex]:not([tabindex='-1'])")]
    .filter((node) => !node.disabled && !node.hidden);

  const NOT_TYPED = ["checkbox", "radio", "button", "submit", "reset", "range", "color", "file"];
  const typingIn = (node) => Boolean(node) && (node.isContentEditable || ["TEXTAREA", "SELECT"].includes(node.tagName)
    || (node.tagName === "INPUT" && !NOT_TYPED.includes(node.type)));

  document.addEventListener("keydown", (e) => {
    if (isOpen()) {
      if (e.key === "Escape") { e.preventDefault(); close(); return; }
      if (e.key === "Tab") { // the focus stays in the dialog
        const nodes = focusables();
        const first = nodes[0];
        const last = nodes[nodes.length - 1];
        if (!dialog.contains(document.activeElement)) { e.preventDefault(); first.focus(); }
        else if (e.shiftKey && document.activeElement === first) { e.preventDefault(); last.focus(); }
        else if (!e.shiftKey && document.activeElement === last) { e.preventDefault(); first.focus(); }
      }
      return;
    }
    if (!ui.agent || document.getElementById("app-view").hidden || e.defaultPrevented) return;
    if (e.key === "?" && !e.ctrlKey && !e.metaKey && !e.altKey && !typingIn(e.target)) { e.preventDefault(); open(); return; }
    if (!e.altKey || e.ctrlKey || e.metaKey || e.shiftKey) return;
    const shortcut = SHORTCUTS.find((s) => s.code && s.code === e.code);
    if (!shortcut) return;
    e.preventDefault();
    shortcut.run();
  });
  // A focus that escapes (a click outside, the browser's own tabbing) comes back.
  document.addEventListener("focusin", (e) => { if (isOpen() && !dialog.contains(e.target)) closeButton.focus(); });

  ui.on("language", texts);
  ui.on("logout", close);
  texts();
})();
