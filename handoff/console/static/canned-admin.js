/* Relais console — managing canned responses (advisors and admins): a side-bar box that
 * lists them (GET /api/canned), adds one (POST) and deletes one (DELETE). Ambassadors
 * do not see it; they use the responses in the message box (canned.js). */
"use strict";

(() => {
  const ui = window.RelaisConsole;
  if (!ui) return;
  const t = window.relaisToolsText;
  const el = ui.el;

  const field = (key, control) => { const label = el("label", {}, el("span", { "data-tools-text": key }), control); return label; };
  const language = el("select", { id: "manage-language" }, el("option", { value: "fr", text: "Français" }), el("option", { value: "en", text: "English" }));
  const brand = el("input", { id: "manage-brand", value: "default", maxlength: "32", autocomplete: "off" });
  const shortcut = el("input", { id: "manage-shortcut", maxlength: "33", required: true, autocomplete: "off" });
  const title = el("input", { id: "manage-title", maxlength: "100", autocomplete: "off" });
  const text = el("textarea", { id: "manage-text", rows: "3", maxlength: "4000", required: true });
  const add = el("button", { type: "submit", class: "ghost", "data-tools-text": "manageAdd" });
  const status = el("p", { id: "manage-status", class: "chat-meta", role: "status" });
  const form = el("form", { id: "manage-form", class: "tool manage-form" },
    field("manageLanguage", language), field("manageBrand", brand), field("manageShortcut", shortcut),
    field("manageTitleField", title), field("manageText", text), add);
  const list = el("ul", { id: "manage-list", class: "manage-list" });
  const empty = el("p", { class: "empty", "data-tools-text": "manageEmpty" });
  const heading = el("h2", { id: "manage-title-heading", "data-tools-text": "manageTitle" });
  const section = el("section", { id: "manage-section", "aria-labelledby": "manage-title-heading", hidden: true },
    heading, list, empty, form, status);
  document.getElementById("team-section").insertAdjacentElement("beforebegin", section);
  let responses = [];

  function texts() {
    section.querySelectorAll("[data-tools-text]").forEach((node) => { node.textContent = t(node.dataset.toolsText); });
    renderList();
  }

  function renderList() {
    list.replaceChildren(...responses.map((r) => el("li", { class: "manage-item", "data-canned-id": r.id },
      el("b", { text: `/${r.shortcut}` }), el("span", { class: "chat-meta", text: ` ${r.language.toUpperCase()} · ${r.brand}` }),
      el("p", { class: "manage-text", text: r.text }),
      el("button", { type: "button", class: "ghost", text: "✕", "aria-label": t("manageDelete", { s: r.shortcut, l: r.language.toUpperCase() }),
        onclick: () => remove(r) }))));
    empty.hidden = responses.length > 0;
  }

  async function load() {
    try { responses = (await ui.api("GET", "/api/canned")).responses; } catch { return; }
    renderList();
  }

  async function remove(response) {
    try {
      await ui.api("DELETE", `/api/canned/${response.id}`);
      status.textContent = t("manageDeleted", { s: response.shortcut });
      await load();
      form.querySelector("#manage-shortcut").focus(); // the deleted row's button is gone
    } catch (err) { status.textContent = t("manageError", { m: err.message }); }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = { language: language.value, brand: brand.value.trim() || "default", shortcut: shortcut.value.trim(),
      title: title.value.trim(), text: text.value.trim() };
    try {
      const created = (await ui.api("POST", "/api/canned", body)).response;
      status.textContent = t("manageAdded", { s: created.shortcut });
      shortcut.value = ""; title.value = ""; text.value = "";
      await load();
    } catch (err) { status.textContent = t("manageError", { m: err.message }); }
  });

  ui.on("boot", () => {
    section.hidden = !ui.isSupervisor();
    if (!section.hidden) { language.value = ui.lang; load(); }
  });
  ui.on("logout", () => { section.hidden = true; responses = []; renderList(); });
  ui.on("language", texts);
  texts();
})();
