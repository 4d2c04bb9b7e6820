/* Relais — the review page for admins (docs/maintainers.md). Plain ES2020, no framework.
 *
 * Lists the groups of visitor messages the bot did not handle well (GET /api/admin/review),
 * labels a group (POST /api/admin/review/labels), opens its conversation's transcript and
 * shows the weekly containment per intent. It reuses the console's session of this tab.
 * Remote text is always rendered with textContent.
 */
"use strict";

(() => {
  const STRINGS = {
    en: {
      title: "Review: what the bot did not handle well", back: "Back to the console", language: "Language",
      filters: "Filters", filterLanguage: "Language", filterIntent: "Bot read", all: "All", since: "From", until: "To",
      apply: "Apply", groups: "Messages to review", count: "Count", message: "Message", botRead: "Bot read", why: "Why",
      lastSeen: "Last seen", actions: "Actions", empty: "Nothing to review in this period.",
      transcript: "Conversation", close: "Close", stats: "Contained vs escalated, per intent and week", week: "Week of",
      intent: "Intent", messages: "Messages", contained: "Contained", escalated: "Escalated", containment: "Containment",
      label: "Label", open: "Conversation", also: "also: {t}", shown: "{n} of {total} groups",
      loginFirst: "Log in to the console first, as an admin.", adminsOnly: "This page is for admins.",
      actionIntent: "Confirm or correct the intent", actionCandidate: "Candidate for a new intent",
      words: "product_category words (comma-separated)", wordsHint: "e.g. awning", candidateName: "Name of the new intent",
      candidateHint: "e.g. ask_gift_cards", save: "Save", cancel: "Cancel", labelled: "Labelled: {t}",
      missingWords: "Each word must appear in the message.", error: "Something went wrong: {m}",
      reason_fallback: "fallback", reason_low_confidence: "low confidence", reason_out_of_scope: "out of scope",
      reason_escalated: "escalated", reason_asked_for_person: "asked for a person", reason_flagged: "flagged by an agent",
      visitor: "Visitor", bot: "Bot", system: "System", ambassador: "Ambassador", advisor: "Advisor",
    },
    fr: {
      title: "Revue : ce que le bot a mal traité", back: "Retour à la console", language: "Langue",
      filters: "Filtres", filterLanguage: "Langue", filterIntent: "Lu par le bot", all: "Tous", since: "Du", until: "Au",
      apply: "Appliquer", groups: "Messages à revoir", count: "Nombre", message: "Message", botRead: "Lu par le bot",
      why: "Pourquoi", lastSeen: "Dernier", actions: "Actions", empty: "Rien à revoir sur cette période.",
      transcript: "Conversation", close: "Fermer", stats: "Contenu ou transmis, par intention et par semaine",
      week: "Semaine du", intent: "Intention", messages: "Messages", contained: "Contenus", escalated: "Transmis",
      containment: "Taux contenu", label: "Étiqueter", open: "Conversation", also: "aussi : {t}",
      shown: "{n} groupes sur {total}", loginFirst: "Connectez-vous d'abord à la console, en admin.",
      adminsOnly: "Cette page est réservée aux admins.", actionIntent: "Confirmer ou corriger l'intention",
      actionCandidate: "Candidat pour une nouvelle intention", words: "Mots product_category (séparés par des virgules)",
      wordsHint: "ex. store banne", candidateName: "Nom de la nouvelle intention", candidateHint: "ex. ask_gift_cards",
      save: "Enregistrer", cancel: "Annuler", labelled: "Étiqueté : {t}",
      missingWords: "Chaque mot doit figurer dans le message.", error: "Un problème est survenu : {m}",
      reason_fallback: "repli", reason_low_confidence: "confiance faible", reason_out_of_scope: "hors sujet",
      reason_escalated: "transmis", reason_asked_for_person: "a demandé une personne",
      reason_flagged: "signalé par un agent",
      visitor: "Visiteur", bot: "Bot", system: "Système", ambassador: "Ambassadeur", advisor: "Conseiller",
    },
  };
  let lang = localStorage.getItem("relais.console.lang")
    || ((navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en");
  const t = (key, vars = {}) => (STRINGS[lang][key] || STRINGS.en[key] || key)
    .replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
  const $ = (id) => document.getElementById(id);
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  const state = { token: sessionStorage.getItem("relais.console.token"), groups: [], total: 0, intents: [], stats: [], open: null };

  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json", Authorization: "Bearer " + state.token };
    const response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (!response.ok) {
      throw Object.assign(new Error((data && data.error && data.error.message) || response.statusText), { status: response.status });
    }
    return data;
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll(".lang-select").forEach((select) => { select.value = lang; });
    renderGroups();
    renderStats();
  }
  document.querySelectorAll(".lang-select").forEach((select) => select.addEventListener("change", () => {
    lang = select.value;
    localStorage.setItem("relais.console.lang", lang);
    applyLanguage();
  }));

  // ------------------------------------------------------------ loading
  function query() {
    const params = new URLSearchParams();
    if ($("filter-language").value) params.set("language", $("filter-language").value);
    if ($("filter-intent").value) params.set("intent", $("filter-intent").value);
    if ($("filter-since").value) params.set("since", $("filter-since").value);
    if ($("filter-until").value) params.set("until", $("filter-until").value);
    return params.toString();
  }

  async function loadGroups() {
    const body = await api("GET", "/api/admin/review?" + query());
    state.groups = body.groups;
    state.total = body.total;
    renderGroups();
  }

  async function loadStats() {
    const params = new URLSearchParams({ weeks: "8" });
    if ($("filter-language").value) params.set("language", $("filter-language").value);
    state.stats = (await api("GET", "/api/admin/review/stats?" + params)).rows;
    renderStats();
  }

  $("review-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    Promise.all([loadGroups(), loadStats()]).catch((err) => status(t("error", { m: err.message })));
  });

  function status(text) { $("review-status").textContent = text; }

  // ------------------------------------------------------------ groups
  const when = (iso) => new Intl.DateTimeFormat(lang, { dateStyle: "short", timeStyle: "short" }).format(new Date(iso));

  function renderGroups() {
    const body = $("review-groups").querySelector("tbody");
    const rows = [];
    for (const group of state.groups) {
      const reasons = Object.entries(group.reasons).map(([r, n]) => `${t("reason_" + r)} ×${n}`).join(", ");
      const message = el("td", { class: "review-text" }, el("q", { text: group.text }));
      for (const example of group.examples) message.append(el("div", { class: "chat-meta", text: t("also", { t: example }) }));
      const read = group.intent ? `${group.intent}${group.confidence !== null ? ` (${group.confidence.toFixed(2)})` : ""}` : "—";
      rows.push(el("tr", { "data-group": group.id, "data-language": group.language },
        el("td", { class: "review-count", text: String(group.count) }),
        message,
        el("td", { text: read }),
        el("td", { text: reasons }),
        el("td", {}, el("time", { datetime: group.last_seen, text: when(group.last_seen) })),
        el("td", { class: "review-actions" },
          el("button", { type: "button", class: "primary", text: t("label"), "aria-expanded": String(state.open === group.id),
                         onclick: () => { state.open = state.open === group.id ? null : group.id; renderGroups(); } }),
          el("button", { type: "button", class: "ghost", text: t("open"), onclick: () => openConversation(group.conversation_id, group.seq) }))));
      if (state.open === group.id) rows.push(el("tr", { class: "label-row" }, el("td", { colspan: "6" }, labelForm(group))));
    }
    body.replaceChildren(...rows);
    $("review-empty").hidden = state.groups.length > 0;
    status(state.groups.length ? t("shown", { n: state.groups.length, total: state.total }) : "");
  }

  function spans(text, answer) {
    const found = [];
    const lowered = text.toLowerCase();
    for (const word of answer.split(",").map((w) => w.trim()).filter(Boolean)) {
      const at = lowered.indexOf(word.toLowerCase());
      if (at < 0 || found.some((s) => at < s.end && s.start < at + word.length)) return null;
      found.push({ start: at, end: at + word.length });
    }
    return found;
  }

  function labelForm(group) {
    const id = (name) => `label-${name}`;
    const intentSelect = el("select", { id: id("intent") },
      ...state.intents.map((name) => el("option", { value: name, text: name, selected: name === group.intent })));
    const words = el("input", { id: id("words"), autocomplete: "off", placeholder: t("wordsHint"), maxlength: "200" });
    const candidate = el("input", { id: id("candidate"), autocomplete: "off", placeholder: t("candidateHint"), maxlength: "64", pattern: "[a-z][a-z0-9_]*" });
    const error = el("p", { class: "error", role: "alert" });
    const radio = (value, text, checked) => el("label", { class: "inline" },
      el("input", { type: "radio", name: "label-action", value, checked, onchange: sync }), el("span", { text }));
    const intentPart = el("div", { class: "label-intent" },
      el("label", { for: id("intent"), text: t("intent") }), intentSelect,
      el("label", { for: id("words"), text: t("words") }), words);
    const candidatePart = el("div", { class: "label-candidate", hidden: true },
      el("label", { for: id("candidate"), text: t("candidateName") }), candidate);
    const form = el("form", { class: "label-form", "aria-label": t("label") },
      el("fieldset", {}, el("legend", { class: "sr", text: t("label") }),
        radio("intent", t("actionIntent"), true), radio("candidate", t("actionCandidate"), false)),
      intentPart, candidatePart, error,
      el("button", { type: "submit", class: "primary", text: t("save") }),
      el("button", { type: "button", class: "ghost", text: t("cancel"), onclick: () => { state.open = null; renderGroups(); } }));
    function sync() {
      const action = form.querySelector("input[name=label-action]:checked").value;
      intentPart.hidden = action !== "intent";
      candidatePart.hidden = action !== "candidate";
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const action = form.querySelector("input[name=label-action]:checked").value;
      const body = { conversation_id: group.conversation_id, seq: group.seq, action, members: group.members };
      if (action === "intent") {
        const found = spans(group.text, words.value);
        if (!found) { error.textContent = t("missingWords"); words.focus(); return; }
        body.intent = intentSelect.value;
        body.entities = found;
      } else {
        body.candidate = candidate.value.trim();
      }
      try {
        await api("POST", "/api/admin/review/labels", body);
      } catch (err) {
        error.textContent = t("error", { m: err.message });
        return;
      }
      state.open = null;
      state.groups = state.groups.filter((g) => g.id !== group.id);
      state.total -= 1;
      renderGroups();
      status(t("labelled", { t: group.text }));
    });
    return form;
  }

  // ------------------------------------------------------------ a conversation
  async function openConversation(conversationId, seq) {
    let body;
    try {
      body = await api("GET", `/api/conversations/${encodeURIComponent(conversationId)}/transcript`);
    } catch (err) {
      status(t("error", { m: err.message }));
      return;
    }
    const items = body.messages.map((m) => el("li", { class: `p-${m.sender_kind}${m.seq === seq ? " review-here" : ""}`, "data-seq": String(m.seq) },
      el("b", { text: `${t(m.sender_kind)}: ` }), el("span", { text: m.text }),
      m.intent ? el("span", { class: "chat-meta", text: ` — ${m.intent}${m.confidence !== null ? ` ${m.confidence.toFixed(2)}` : ""}` }) : null));
    $("transcript-log").replaceChildren(...items);
    $("transcript").hidden = false;
    $("transcript").dataset.conversation = conversationId;
    $("transcript").scrollIntoView({ block: "nearest" });
  }
  $("transcript-close").addEventListener("click", () => { $("transcript").hidden = true; });

  // ------------------------------------------------------------ stats
  function renderStats() {
    const body = $("review-stats").querySelector("tbody");
    body.replaceChildren(...state.stats.map((row) => el("tr", { "data-week": row.week, "data-intent": row.intent },
      el("td", { text: row.week }), el("td", { text: row.intent }), el("td", { text: String(row.messages) }),
      el("td", { text: String(row.contained) }), el("td", { text: String(row.escalated) }),
      el("td", { text: `${Math.round(row.containment * 100)} %` }))));
  }

  // ------------------------------------------------------------ start-up
  async function boot() {
    applyLanguage();
    if (!state.token) { denied(t("loginFirst")); return; }
    let me;
    try {
      me = await api("GET", "/api/agents/me");
    } catch {
      denied(t("loginFirst"));
      return;
    }
    if (me.agent.role !== "admin") { denied(t("adminsOnly")); return; }
    state.intents = (await api("GET", "/api/admin/review/intents")).intents.filter((name) => name !== "nlu_fallback");
    $("filter-intent").append(...state.intents.map((name) => el("option", { value: name, text: name })));
    $("review-app").hidden = false;
    await Promise.all([loadGroups(), loadStats()]);
    const conversation = new URLSearchParams(location.search).get("conversation");
    if (conversation) await openConversation(conversation, null);
  }

  function denied(text) {
    $("review-denied").hidden = false;
    $("review-denied").replaceChildren(document.createTextNode(text + " "), el("a", { href: "/console", text: t("back") }));
  }

  boot().catch((err) => status(t("error", { m: err.message })));
})();
