/* Relais console — internal notes of the open conversation: agents only, never the
 * visitor's. Read with GET /api/conversations/{id}/notes, written with POST, pushed live
 * as `note` frames on /ws/agent; a transfer's note is one of them (docs/console.md). */
"use strict";

(() => {
  const ui = window.RelaisConsole;
  if (!ui) return;
  const t = window.relaisToolsText;
  const el = ui.el;
  const notes = new Map(); // conversation id -> Map(note id -> note)

  const title = el("h3", { id: "notes-title" });
  const hint = el("p", { class: "notes-hint" });
  const list = el("ol", { id: "notes-list", class: "notes-list", "aria-labelledby": "notes-title", "aria-live": "polite" });
  const empty = el("p", { id: "notes-empty", class: "empty" });
  const label = el("label", { for: "note-input", class: "sr" });
  const box = el("textarea", { id: "note-input", rows: "2", maxlength: "4000" });
  const button = el("button", { type: "submit", class: "ghost" });
  const error = el("p", { id: "note-error", class: "error", role: "alert" });
  const form = el("form", { id: "note-form", class: "note-form" }, label, box, button);
  const section = el("section", { id: "notes-section", class: "notes", "aria-labelledby": "notes-title" },
    title, hint, list, empty, form, error);
  document.getElementById("chat-tools").insertAdjacentElement("beforebegin", section);

  function texts() {
    title.textContent = t("notesTitle");
    hint.textContent = t("notesHint");
    empty.textContent = t("notesEmpty");
    label.textContent = t("noteInput");
    box.placeholder = t("notePlaceholder");
    button.textContent = t("addNote");
    render();
  }

  const time = (iso) => new Intl.DateTimeFormat(ui.lang, { hour: "2-digit", minute: "2-digit" }).format(new Date(iso));

  function render() {
    const id = ui.selected;
    const mine = [...(notes.get(id) || new Map()).values()].sort((a, b) => a.id - b.id);
    list.replaceChildren(...mine.map((note) => el("li", { class: `note ${note.kind}`, "data-note-id": String(note.id) },
      el("div", { class: "meta" },
        el("b", { text: note.kind === "transfer" ? `${t("noteTransfer")} · ${note.author_name}` : t("noteBy", { name: note.author_name }) }),
        el("time", { datetime: note.created_at, text: time(note.created_at) })),
      el("div", { class: "text", text: note.text }))));
    empty.hidden = mine.length > 0;
    form.hidden = !(ui.writable || ui.isSupervisor());
  }

  function keep(note) {
    if (!notes.has(note.conversation_id)) notes.set(note.conversation_id, new Map());
    notes.get(note.conversation_id).set(note.id, note);
    if (note.conversation_id === ui.selected) render();
  }

  async function load(id) {
    if (!id) return;
    render();
    try {
      const body = await ui.api("GET", `/api/conversations/${id}/notes`);
      for (const note of body.notes) keep(note);
    } catch { /* not readable (any more): nothing to show */ }
    if (id === ui.selected) render();
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = ui.selected;
    const text = box.value.trim();
    if (!id || !text) return;
    error.textContent = "";
    try {
      const body = await ui.api("POST", `/api/conversations/${id}/notes`, { text });
      box.value = "";
      keep(body.note);
    } catch (err) {
      error.textContent = t("noteFailed", { m: err.message });
    }
  });
  box.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); form.requestSubmit(); }
  });

  ui.on("select", load);
  ui.on("frame", (frame) => {
    if (frame.type === "note") keep(frame.note);
    if (frame.type === "assigned" || frame.type === "unassigned") setTimeout(render, 0); // who may write changed
  });
  ui.on("language", texts);
  ui.on("logout", () => notes.clear());
  texts();
  window.RelaisNotes = Object.freeze({ focus: () => { if (!form.hidden) box.focus(); } });
})();
