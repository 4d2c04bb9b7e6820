/* Relais console — the helper shared by the console's own pages (/console/history,
 * /console/inbox) and the links to them in the main console. Plain ES2020.
 *
 * It reuses the main console's session (sessionStorage "relais.console.token") and
 * language (localStorage "relais.console.lang"); without a session the page sends
 * the agent to /console to log in. Texts come from STRINGS (FR and EN); remote text
 * is always rendered with textContent.
 */
"use strict";

window.RelaisPages = (() => {
  const STRINGS = {
    en: {
      navHistory: "History", navInbox: "Offline messages", navConsole: "Console", language: "Language",
      loginFirst: "Your session has ended: log in again on the console.", backToConsole: "Go to the console",
      error: "Something went wrong: {m}",
      historyTitle: "History", historyIntro: "Closed conversations you may read: your own, or all of them for advisors.",
      searchText: "Text", searchVisitor: "Visitor id", searchAgent: "Agent (username)", searchTopic: "Topic",
      anyTopic: "Any topic", since: "From", until: "To", search: "Search", reset: "Clear",
      noResults: "No conversation matches.", previous: "Previous", next: "Next", pageN: "Page {n}",
      visitorShort: "Visitor {id}", answeredBy: "answered by {name}", nobody: "nobody", rating: "rated {r}/5",
      outcome: "outcome: {o}", topic: "topic: {t}", transcriptTitle: "Conversation with visitor {id}",
      readOnly: "Read-only transcript.", pickOne: "Open a conversation to read its transcript.", closeTranscript: "Close",
      visitor: "Visitor", bot: "Bot", system: "System", ambassador: "Ambassador", advisor: "Advisor",
      topic_awning: "Awnings", topic_solar: "Solar kits", topic_bike_rack: "Bike racks", topic_heating: "Heating",
      topic_fridge: "Fridges", topic_sanitation: "Sanitation",
      inboxTitle: "Offline messages", inboxIntro: "Messages visitors left when nobody could answer. Answer them by email.",
      advisorsOnly: "The offline messages are for web advisors and admins.",
      show: "Show", status_open_answered: "To handle", status_open: "Open", status_answered: "Answered",
      status_done: "Done", mine: "Assigned to me", refresh: "Refresh", inboxEmpty: "No offline message here.",
      from: "From {email}", noEmail: "no email left", language_fr: "French", language_en: "English",
      assignedTo: "assigned to {name}", unassigned: "not assigned", assignMe: "Assign to me",
      answer: "Your answer by email", sendAnswer: "Send by email", markDone: "Mark done", sending: "Sending…",
      sent: "Sent by email to {email}.", answeredAt: "answered {when} by {name}", doneAt: "done {when}",
      openConversation: "Open the conversation", item_open: "open", item_answered: "answered", item_done: "done",
      mailDown: "The email could not be sent: {m} Nothing was recorded; try again later.",
    },
    fr: {
      navHistory: "Historique", navInbox: "Messages hors ligne", navConsole: "Console", language: "Langue",
      loginFirst: "Votre session est terminée : reconnectez-vous sur la console.", backToConsole: "Aller à la console",
      error: "Un problème est survenu : {m}",
      historyTitle: "Historique", historyIntro: "Les conversations closes que vous pouvez lire : les vôtres, ou toutes pour les conseillers.",
      searchText: "Texte", searchVisitor: "Identifiant du visiteur", searchAgent: "Agent (identifiant)", searchTopic: "Sujet",
      anyTopic: "Tous les sujets", since: "Du", until: "Au", search: "Rechercher", reset: "Effacer",
      noResults: "Aucune conversation ne correspond.", previous: "Précédente", next: "Suivante", pageN: "Page {n}",
      visitorShort: "Visiteur {id}", answeredBy: "répondu par {name}", nobody: "personne", rating: "noté {r}/5",
      outcome: "issue : {o}", topic: "sujet : {t}", transcriptTitle: "Conversation avec le visiteur {id}",
      readOnly: "Transcription en lecture seule.", pickOne: "Ouvrez une conversation pour lire sa transcription.", closeTranscript: "Fermer",
      visitor: "Visiteur", bot: "Bot", system: "Système", ambassador: "Ambassadeur", advisor: "Conseiller",
      topic_awning: "Auvents", topic_solar: "Kits solaires", topic_bike_rack: "Porte-vélos", topic_heating: "Chauffage",
      topic_fridge: "Réfrigérateurs", topic_sanitation: "Sanitaire",
      inboxTitle: "Messages hors ligne", inboxIntro: "Les messages laissés par les visiteurs quand personne ne pouvait répondre. Répondez-leur par e-mail.",
      advisorsOnly: "Les messages hors ligne sont pour les conseillers web et les admins.",
      show: "Afficher", status_open_answered: "À traiter", status_open: "Ouverts", status_answered: "Répondus",
      status_done: "Terminés", mine: "Qui me sont attribués", refresh: "Actualiser", inboxEmpty: "Aucun message hors ligne ici.",
      from: "De {email}", noEmail: "pas d'e-mail", language_fr: "français", language_en: "anglais",
      assignedTo: "attribué à {name}", unassigned: "non attribué", assignMe: "Me l'attribuer",
      answer: "Votre réponse par e-mail", sendAnswer: "Envoyer par e-mail", markDone: "Marquer terminé", sending: "Envoi…",
      sent: "Envoyé par e-mail à {email}.", answeredAt: "répondu le {when} par {name}", doneAt: "terminé le {when}",
      openConversation: "Ouvrir la conversation", item_open: "ouvert", item_answered: "répondu", item_done: "terminé",
      mailDown: "L'e-mail n'a pas pu être envoyé : {m} Rien n'a été enregistré ; réessayez plus tard.",
    },
  };
  const TOPICS = ["awning", "solar", "bike_rack", "heating", "fridge", "sanitation"];
  let lang = localStorage.getItem("relais.console.lang")
    || ((navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en");
  const listeners = [];
  const t = (key, vars = {}) => (STRINGS[lang][key] || STRINGS.en[key] || key)
    .replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-page-i18n]").forEach((node) => { node.textContent = t(node.dataset.pageI18n); });
    document.querySelectorAll(".lang-select").forEach((select) => { select.value = lang; });
    listeners.forEach((listener) => listener());
  }
  // The main console's language switch changes the links' language too.
  document.addEventListener("change", (event) => {
    if (!event.target.classList || !event.target.classList.contains("lang-select")) return;
    lang = event.target.value === "fr" ? "fr" : "en";
    localStorage.setItem("relais.console.lang", lang);
    applyLanguage();
  });

  const token = () => sessionStorage.getItem("relais.console.token");

  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw Object.assign(new Error("network"), { status: 0 });
    }
    const data = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 401) showLoginFirst();
    if (!response.ok) {
      const error = data && data.error ? data.error : { code: "http_" + response.status, message: response.statusText };
      throw Object.assign(new Error(error.message), { status: response.status, code: error.code });
    }
    return data;
  }

  function showLoginFirst() {
    const main = $("page-main");
    if (!main) return;
    main.replaceChildren(el("p", { class: "error", role: "alert", text: t("loginFirst") }),
      el("p", {}, el("a", { href: "/console", text: t("backToConsole") })));
  }

  /** Start a page: its language, then `start(agent)` with the logged-in agent. */
  async function boot(start) {
    applyLanguage();
    if (!token()) { showLoginFirst(); return; }
    let me;
    try { me = await api("GET", "/api/agents/me"); } catch (error) { if (error.status !== 401) fail(error); return; }
    const who = $("page-me");
    if (who) who.textContent = me.agent.display_name;
    await start(me.agent);
  }

  function fail(error, target) {
    const node = target || $("page-error");
    if (node) node.textContent = t("error", { m: error.message });
  }

  const shortId = (id) => String(id || "").replace(/^[a-z]_/, "").slice(0, 8);
  const when = (iso) => new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" }).format(new Date(iso));

  function bubble(message, agents) {
    const kind = message.sender_kind;
    const name = (agents && agents[message.sender_id]) || (message.data && message.data.display_name) || t(kind);
    const author = kind === "visitor" || kind === "bot" || kind === "system" ? t(kind) : name;
    return el("li", { class: "bubble " + kind },
      el("span", { class: "author", text: author + " · " + when(message.created_at) }),
      el("span", { class: "text", text: message.text }));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", applyLanguage);
  else applyLanguage();

  return {
    t, el, $, api, boot, fail, shortId, when, bubble, TOPICS,
    get lang() { return lang; },
    onLanguage(listener) { listeners.push(listener); },
  };
})();
