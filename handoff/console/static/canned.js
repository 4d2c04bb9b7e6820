/* Relais console — canned responses in the message box: type "/" then a keyword, choose
 * with ↑ ↓, insert with Enter or Tab, close with Escape. Responses come from
 * GET /api/canned for the conversation's language and brand (docs/console.md). */
"use strict";

(() => {
  const ui = window.RelaisConsole;
  if (!ui) return;
  const t = window.relaisToolsText;
  const input = ui.input;
  const MAX_SHOWN = 8;
  const TOKEN = /(^|\s)\/([\p{L}\p{N}_-]*)$/u; // "/keyword" just before the caret

  const list = ui.el("ul", { id: "canned-list", class: "canned-list", role: "listbox", hidden: true });
  const status = ui.el("p", { id: "canned-status", class: "sr", role: "status", "aria-live": "polite" });
  input.insertAdjacentElement("afterend", list);
  list.insertAdjacentElement("afterend", status);
  input.setAttribute("aria-controls", "canned-list");
  input.setAttribute("aria-autocomplete", "list");

  let shown = [];      // the responses in the list
  let active = -1;     // the highlighted one
  let token = null;    // {start, end, query} of "/keyword" in the input
  let asked = 0;       // answers that come back out of order are dropped

  const isOpen = () => !list.hidden;

  function close() {
    list.hidden = true;
    list.replaceChildren();
    shown = []; active = -1; token = null;
    input.removeAttribute("aria-activedescendant");
  }

  function highlight(index) {
    active = index;
    list.querySelectorAll("[role=option]").forEach((node, i) => node.setAttribute("aria-selected", String(i === index)));
    const node = list.querySelector(`#canned-option-${index}`);
    if (node) { input.setAttribute("aria-activedescendant", node.id); node.scrollIntoView({ block: "nearest" }); }
  }

  function render(query) {
    list.replaceChildren(...shown.map((response, i) => ui.el("li", {
      id: `canned-option-${i}`, role: "option", class: "canned-option", "aria-selected": "false",
      "data-shortcut": response.shortcut,
      onmousedown: (e) => { e.preventDefault(); insert(i); }, // keeps the focus in the box
    }, ui.el("b", { class: "canned-shortcut", text: "/" + response.shortcut }),
       ui.el("span", { class: "canned-title", text: response.title || "" }),
       ui.el("span", { class: "canned-text", text: response.text }))));
    if (!shown.length) {
      list.append(ui.el("li", { class: "canned-none", role: "presentation", text: t("cannedNone", { q: query }) }));
    }
    list.hidden = false;
    list.setAttribute("aria-label", t("cannedList"));
    highlight(shown.length ? 0 : -1);
    status.textContent = shown.length ? t("cannedCount", { n: shown.length }) : t("cannedNone", { q: query });
  }

  async function lookUp() {
    const before = input.value.slice(0, input.selectionStart);
    const match = input.selectionStart === input.selectionEnd ? TOKEN.exec(before) : null;
    const conversation = ui.conversation;
    if (!match || !conversation) { close(); return; }
    const query = match[2];
    token = { start: before.length - query.length - 1, end: before.length, query };
    const params = new URLSearchParams({ q: query, language: conversation.language || "", brand: conversation.brand || "default" });
    const mine = ++asked;
    let body;
    try { body = await ui.api("GET", "/api/canned?" + params); } catch { return; }
    if (mine !== asked || !token || token.query !== query) return;
    shown = body.responses.slice(0, MAX_SHOWN);
    render(query);
  }

  function insert(index) {
    const response = shown[index];
    if (!response || !token) return;
    const { start, end } = token;
    const value = input.value;
    input.value = value.slice(0, start) + response.text + value.slice(end);
    const caret = start + response.text.length;
    input.setSelectionRange(caret, caret);
    close();
    input.focus();
    input.dispatchEvent(new Event("input", { bubbles: true })); // the typing indicator, as if typed
  }

  input.addEventListener("input", () => { lookUp(); });
  input.addEventListener("blur", () => setTimeout(() => { if (document.activeElement !== input) close(); }, 150));
  ui.on("select", close);

  // Capture phase on the document: runs before the console's own Enter-to-send on the box.
  document.addEventListener("keydown", (e) => {
    if (e.target !== input || !isOpen() || e.isComposing) return;
    const take = () => { e.preventDefault(); e.stopImmediatePropagation(); };
    if (e.key === "ArrowDown" && shown.length) { take(); highlight((active + 1) % shown.length); }
    else if (e.key === "ArrowUp" && shown.length) { take(); highlight((active - 1 + shown.length) % shown.length); }
    else if ((e.key === "Enter" && !e.shiftKey) || (e.key === "Tab" && !e.shiftKey)) {
      if (active >= 0) { take(); insert(active); } else if (e.key === "Tab") { close(); }
    } else if (e.key === "Escape") { take(); close(); }
  }, true);
})();
