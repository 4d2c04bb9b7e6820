/* Relais console — Offline messages (/console/inbox), for advisors and admins: the
 * messages visitors left when nobody could answer; assign, answer by email, mark done.
 * Uses RelaisPages (pages.js). */
"use strict";

(() => {
  const P = window.RelaisPages;
  const { t, el, $ } = P;
  const state = { agent: null, items: [], agents: new Map(), notes: new Map() };

  async function load() {
    const query = new URLSearchParams({ status: $("inbox-status").value });
    if ($("inbox-mine").checked) query.set("mine", "1");
    $("page-error").textContent = "";
    try {
      const body = await P.api("GET", "/api/inbox?" + query.toString());
      state.items = body.items;
    } catch (error) {
      P.fail(error);
      return;
    }
    render();
  }

  const nameOf = (id) => (id === state.agent.id ? state.agent.display_name : (state.agents.get(id) || P.shortId(id)));

  function replace(item) {
    state.items = state.items.map((existing) => (existing.id === item.id ? item : existing));
    render();
  }

  async function act(item, action, body, errorNode) {
    errorNode.textContent = "";
    try {
      const answer = await P.api("POST", `/api/inbox/${item.id}/${action}`, body);
      return answer.item;
    } catch (error) {
      errorNode.textContent = error.code === "mail_unavailable" ? t("mailDown", { m: error.message }) : t("error", { m: error.message });
      return null;
    }
  }

  function card(item) {
    const error = el("p", { class: "error", role: "alert" });
    const status = el("span", { class: "status-chip " + item.status, text: t("item_" + item.status) });
    const meta = [P.when(item.created_at), t("language_" + item.language),
      item.assigned_agent_id ? t("assignedTo", { name: nameOf(item.assigned_agent_id) }) : t("unassigned")];
    if (item.answered_at) meta.push(t("answeredAt", { when: P.when(item.answered_at), name: nameOf(item.answered_by) }));
    if (item.done_at) meta.push(t("doneAt", { when: P.when(item.done_at) }));
    const actions = el("div", { class: "actions" });
    if (item.status !== "done" && item.assigned_agent_id !== state.agent.id) {
      actions.append(el("button", { type: "button", class: "ghost assign", text: t("assignMe"),
        onclick: async () => { const updated = await act(item, "assign", {}, error); if (updated) replace(updated); } }));
    }
    if (item.status !== "done") {
      actions.append(el("button", { type: "button", class: "ghost done", text: t("markDone"),
        onclick: async () => { const updated = await act(item, "done", {}, error); if (updated) replace(updated); } }));
    }
    let answer = null;
    if (item.status === "open" && item.email) {
      const boxId = "answer-" + item.id;
      const box = el("textarea", { id: boxId, maxlength: "4000", required: true });
      const send = el("button", { type: "submit", class: "primary", text: t("sendAnswer") });
      answer = el("form", { class: "answer", onsubmit: async (event) => {
        event.preventDefault();
        if (!box.value.trim()) { box.focus(); return; }
        send.disabled = true; send.textContent = t("sending");
        const updated = await act(item, "answer", { text: box.value }, error);
        send.disabled = false; send.textContent = t("sendAnswer");
        if (updated) { state.notes.set(item.id, t("sent", { email: item.email })); replace(updated); }
      } }, el("label", { for: boxId, text: t("answer") }), box, el("div", {}, send));
    }
    const note = state.notes.get(item.id);
    return el("li", { class: "row", "data-item-id": String(item.id) },
      el("div", {}, el("span", { class: "title", text: item.email ? t("from", { email: item.email }) : t("noEmail") }), " ", status),
      el("div", { class: "meta", text: meta.join(" · ") }),
      el("p", { class: "quote", text: item.text }),
      note ? el("p", { class: "ok", role: "status", text: note }) : null,
      answer, actions, error);
  }

  function render() {
    $("inbox-list").replaceChildren(...state.items.map(card));
    $("inbox-empty").hidden = state.items.length > 0;
  }

  P.onLanguage(() => { if (state.agent) render(); });

  P.boot(async (agent) => {
    state.agent = agent;
    if (agent.role === "ambassador") {
      $("inbox-form").hidden = true;
      $("page-error").textContent = t("advisorsOnly");
      return;
    }
    try {
      const online = await P.api("GET", "/api/agents/online");
      for (const entry of online.agents) state.agents.set(entry.agent.id, entry.agent.display_name);
    } catch { /* names are a nicety: ids are shown instead */ }
    $("inbox-form").addEventListener("submit", (event) => { event.preventDefault(); load(); });
    $("inbox-status").addEventListener("change", load);
    $("inbox-mine").addEventListener("change", load);
    await load();
  });
})();
