/* Relais console — History (/console/history): closed conversations searched by text,
 * visitor, agent, topic and dates, page by page; one opens read-only beside the list.
 * Uses RelaisPages (pages.js). */
"use strict";

(() => {
  const P = window.RelaisPages;
  const { t, el, $ } = P;
  const PAGE_SIZE = 20;
  const state = { page: 1, query: new URLSearchParams(), results: [], hasMore: false, openId: null, open: null };

  function fillTopics() {
    const select = $("history-topic");
    const value = select.value;
    select.replaceChildren(el("option", { value: "", text: t("anyTopic") }),
      ...P.TOPICS.map((topic) => el("option", { value: topic, text: t("topic_" + topic) })));
    select.value = value;
  }

  function readForm() {
    const query = new URLSearchParams();
    for (const [name, id] of [["q", "history-q"], ["visitor", "history-visitor"], ["agent", "history-agent"],
      ["topic", "history-topic"], ["since", "history-since"], ["until", "history-until"]]) {
      const value = $(id).value.trim();
      if (value) query.set(name, value);
    }
    return query;
  }

  async function search() {
    const query = new URLSearchParams(state.query);
    query.set("page", String(state.page));
    query.set("page_size", String(PAGE_SIZE));
    $("page-error").textContent = "";
    try {
      const body = await P.api("GET", "/api/history?" + query.toString());
      state.results = body.conversations;
      state.hasMore = body.has_more;
    } catch (error) {
      P.fail(error);
      return;
    }
    renderResults();
  }

  function facts(entry) {
    const c = entry.conversation;
    const parts = [P.when(c.created_at), t("answeredBy", { name: entry.agent_name || t("nobody") })];
    if (c.skill) parts.push(t("topic", { t: t("topic_" + c.skill) }));
    if (c.outcome) parts.push(t("outcome", { o: c.outcome }));
    if (c.rating) parts.push(t("rating", { r: c.rating }));
    return parts.join(" · ");
  }

  function renderResults() {
    const list = $("history-results");
    list.replaceChildren(...state.results.map((entry) => {
      const c = entry.conversation;
      return el("li", { class: "row", "data-conversation-id": c.id, "aria-current": c.id === state.openId ? "true" : null },
        el("button", { type: "button", class: "open", onclick: () => openConversation(c.id) },
          el("span", { class: "title", text: t("visitorShort", { id: P.shortId(c.visitor_id) }) }),
          el("span", { class: "meta", text: " · " + facts(entry) }),
          entry.preview ? el("p", { class: "quote", text: entry.preview.text }) : null));
    }));
    $("history-empty").hidden = state.results.length > 0;
    $("history-prev").disabled = state.page <= 1;
    $("history-next").disabled = !state.hasMore;
    $("history-page").textContent = t("pageN", { n: state.page });
  }

  async function openConversation(id) {
    $("page-error").textContent = "";
    try {
      state.open = await P.api("GET", "/api/history/" + encodeURIComponent(id));
      state.openId = id;
    } catch (error) {
      P.fail(error);
      return;
    }
    renderTranscript();
    renderResults();
    $("history-transcript").focus();
  }

  function renderTranscript() {
    const open = state.open;
    $("history-pick").hidden = Boolean(open);
    $("history-open").hidden = !open;
    if (!open) return;
    const c = open.conversation;
    $("history-transcript-title").textContent = t("transcriptTitle", { id: P.shortId(c.visitor_id) });
    const entry = state.results.find((r) => r.conversation.id === c.id);
    $("history-facts").textContent = entry ? facts(entry) : P.when(c.created_at);
    $("history-log").replaceChildren(...open.messages.map((m) => P.bubble(m, open.agents)));
  }

  function closeTranscript() {
    state.open = null; state.openId = null;
    renderTranscript();
    renderResults();
  }

  P.onLanguage(() => { fillTopics(); if (state.results.length || state.page > 1) renderResults(); renderTranscript(); });

  P.boot(async () => {
    fillTopics();
    $("history-form").addEventListener("submit", (event) => {
      event.preventDefault();
      state.query = readForm();
      state.page = 1;
      search();
    });
    $("history-form").addEventListener("reset", () => {
      setTimeout(() => { state.query = new URLSearchParams(); state.page = 1; search(); }, 0);
    });
    $("history-prev").addEventListener("click", () => { if (state.page > 1) { state.page -= 1; search(); } });
    $("history-next").addEventListener("click", () => { if (state.hasMore) { state.page += 1; search(); } });
    $("history-close").addEventListener("click", closeTranscript);
    await search();
  });
})();
