/* Relais console — for ambassadors and web advisors. Plain ES2020, no framework.
 *
 * State lives in one object; the server pushes changes on /ws/agent (offers,
 * queue, presence, messages of the conversations this agent holds or watches)
 * and the console reloads what it may have missed after each reconnection.
 * Remote text is always rendered with textContent (see docs/console.md).
 */
"use strict";

(() => {
  // ------------------------------------------------------------ i18n
  const STRINGS = {
    en: {
      loginTitle: "Relais console", loginIntro: "For ambassadors and web advisors.", username: "Username", password: "Password",
      login: "Log in", logout: "Log out", language: "Language", badLogin: "Wrong username or password.", tooManyLogins: "Too many attempts: try again in {s} s.", presence: "Presence",
      online: "Online", away: "Away", offline: "Offline", reconnecting: "Reconnecting…",
      incoming: "Incoming", noOffers: "No request right now.", queue: "Waiting queue", queueEmpty: "Nobody is waiting.",
      myChats: "My chats", noChats: "No conversation in progress.", supervision: "Live conversations", noLive: "No live conversation.",
      team: "Online now", pickChat: "Accept a request or pick a conversation on the left.", page: "Page",
      yourMessage: "Your message", writeHere: "Write your answer… (Enter to send, Shift+Enter for a new line)", send: "Send",
      transfer: "Transfer", transferTo: "To", note: "Note", closeChat: "Close the chat", outcome: "Outcome", close: "Close",
      outcome_resolved: "Resolved", outcome_sale: "Sale", outcome_no_answer: "No answer", outcome_other: "Other",
      accept: "Accept", decline: "Decline", claim: "Take", takeOver: "Take over", view: "View",
      expiresIn: "{n} s to accept", expired: "Expired", waited: "waited {t}", lang: "language {l}", topic: "topic {s}",
      noTopic: "no topic", reason: "reason: {r}", noteLabel: "note: {n}", preview: "Bot transcript",
      visitor: "Visitor", bot: "Bot", system: "System", ambassador: "ambassador", advisor: "advisor", admin: "admin",
      status_bot: "with the bot", status_waiting: "waiting", status_assigned: "in progress", status_closed: "closed", status_offline_message: "offline message",
      poolAdvisor: "Web advisors (pool)", poolAmbassador: "Community (pool)", toAgent: "{name} ({role})",
      typing: "The visitor is typing…", ended: "This conversation is no longer yours ({r}).", watching: "Supervision: read-only.",
      offerGone: "This request was taken or has expired.", newOffer: "New request", newMessage: "New message",
      sending: "sending…", failed: "not sent — retry", load: "{n}/{c} chats", held: "held by {name}", nobody: "nobody",
      error: "Something went wrong: {m}", unread: "{n} unread", colon: ": ",
      botTitle: "Bot", botEnabled: "The bot answers visitors", botIntents: "Intents handed to people",
      botIntentsHint: "e.g. ask_promotions", save: "Save",
      botOn: "The bot is on.", botOff: "The bot is off: every visitor message goes to people.",
      adminPage: "Administration",
      reviewLink: "Review what the bot missed", flag: "The bot should have answered this", flagged: "Flagged for the bot's maintainers",
      // the offer card, in words
      question: "The visitor asks", noQuestion: "The visitor has not written anything yet.", topicIs: "Topic: {s}", langIs: "Language: {l}",
      lang_fr: "French", lang_en: "English", pool_ambassador: "for the community", pool_advisor: "for web advisors",
      skill_awning: "Awnings", skill_solar: "Solar kits and batteries", skill_bike_rack: "Bike racks", skill_heating: "Heating",
      skill_fridge: "Fridges", skill_sanitation: "Sanitation",
      intent_ask_product_advice: "Product advice", intent_order_problem: "A problem with an order", intent_complaint: "A complaint",
      intent_request_human: "Wants to talk to a person", intent_ask_shipping: "Delivery", intent_ask_returns: "Returns",
      intent_ask_payment: "Payment", intent_ask_stock: "Stock", intent_ask_promotions: "Promotions", intent_ask_warranty: "Warranty",
      intent_ask_opening_hours: "Opening hours", intent_out_of_scope: "Something else",
      why_requested: "Asked to talk to a person.", why_fallback: "The assistant did not understand.", why_intent: "Needs a person to answer.",
      why_bot_unavailable: "The assistant was unavailable.", why_bot_off: "The assistant is switched off.",
      why_intent_off: "The assistant leaves this topic to people.", why_transfer: "Passed on by a colleague.",
      transferNote: "Colleague's note: {n}", details: "Details", hideDetails: "Less",
      // the visitor panel
      visitorPanel: "About the visitor", pagesSeen: "Pages seen", timeOnSite: "On the site for", languageLabel: "Language",
      previousChats: "Previous conversations", noPrevious: "First conversation.", offlineLeft: "Messages left", noOffline: "None.",
      answeredBy: "answered by {name}", unanswered: "nobody answered", stars: "rated {n}/5", open: "Open",
      pastTitle: "Earlier conversation — read-only", visitorOnline: "On the site now", visitorGone: "Has left the site",
      visitorLeft: "The visitor left the site.", visitorBack: "The visitor came back.", sinceTime: "since {t}",
      // ratings
      ratings: "Ratings received", noRatings: "No rating yet.", ratingReceived: "A visitor rated your chat {n}/5",
      ratingLine: "{n}/5 from visitor {v}", ratingInChat: "The visitor rated this chat {n}/5.",
      // filters
      filters: "Filters", all: "All", filterLanguage: "Language", filterPool: "Pool", filterStatus: "Status", shown: "{n} of {t}",
    },
    fr: {
      loginTitle: "Console Relais", loginIntro: "Pour les ambassadeurs et les conseillers web.", username: "Identifiant", password: "Mot de passe",
      login: "Se connecter", logout: "Se déconnecter", language: "Langue", badLogin: "Identifiant ou mot de passe incorrect.", tooManyLogins: "Trop de tentatives : réessayez dans {s} s.", presence: "Présence",
      online: "En ligne", away: "Absent", offline: "Hors ligne", reconnecting: "Reconnexion…",
      incoming: "Demandes entrantes", noOffers: "Aucune demande pour le moment.", queue: "File d'attente", queueEmpty: "Personne n'attend.",
      myChats: "Mes conversations", noChats: "Aucune conversation en cours.", supervision: "Conversations en direct", noLive: "Aucune conversation en direct.",
      team: "En ligne", pickChat: "Acceptez une demande ou choisissez une conversation à gauche.", page: "Page",
      yourMessage: "Votre message", writeHere: "Votre réponse… (Entrée pour envoyer, Maj+Entrée pour aller à la ligne)", send: "Envoyer",
      transfer: "Transférer", transferTo: "Vers", note: "Note", closeChat: "Clore la conversation", outcome: "Issue", close: "Clore",
      outcome_resolved: "Résolu", outcome_sale: "Vente", outcome_no_answer: "Sans réponse", outcome_other: "Autre",
      accept: "Accepter", decline: "Refuser", claim: "Prendre", takeOver: "Reprendre", view: "Voir",
      expiresIn: "{n} s pour accepter", expired: "Expirée", waited: "attend depuis {t}", lang: "langue {l}", topic: "sujet {s}",
      noTopic: "sans sujet", reason: "motif : {r}", noteLabel: "note : {n}", preview: "Échange avec le bot",
      visitor: "Visiteur", bot: "Bot", system: "Système", ambassador: "ambassadeur", advisor: "conseiller", admin: "admin",
      status_bot: "avec le bot", status_waiting: "en attente", status_assigned: "en cours", status_closed: "close", status_offline_message: "message hors ligne",
      poolAdvisor: "Conseillers web (file)", poolAmbassador: "Communauté (file)", toAgent: "{name} ({role})",
      typing: "Le visiteur écrit…", ended: "Cette conversation n'est plus la vôtre ({r}).", watching: "Supervision : lecture seule.",
      offerGone: "Cette demande a été prise ou a expiré.", newOffer: "Nouvelle demande", newMessage: "Nouveau message",
      sending: "envoi…", failed: "non envoyé — réessayer", load: "{n}/{c} conversations", held: "tenue par {name}", nobody: "personne",
      error: "Un problème est survenu : {m}", unread: "{n} non lus", colon: " : ",
      botTitle: "Bot", botEnabled: "Le bot répond aux visiteurs", botIntents: "Intentions confiées aux personnes",
      botIntentsHint: "ex. ask_promotions", save: "Enregistrer",
      botOn: "Le bot est actif.", botOff: "Le bot est désactivé : chaque message de visiteur va à une personne.",
      adminPage: "Administration",
      reviewLink: "Revoir ce que le bot a manqué", flag: "Le bot aurait dû répondre à ceci", flagged: "Signalé aux mainteneurs du bot",
      question: "Le visiteur demande", noQuestion: "Le visiteur n'a encore rien écrit.", topicIs: "Sujet : {s}", langIs: "Langue : {l}",
      lang_fr: "français", lang_en: "anglais", pool_ambassador: "pour la communauté", pool_advisor: "pour les conseillers web",
      skill_awning: "Stores et auvents", skill_solar: "Kits solaires et batteries", skill_bike_rack: "Porte-vélos", skill_heating: "Chauffage",
      skill_fridge: "Réfrigérateurs", skill_sanitation: "Sanitaires",
      intent_ask_product_advice: "Conseil produit", intent_order_problem: "Un problème de commande", intent_complaint: "Une réclamation",
      intent_request_human: "Veut parler à une personne", intent_ask_shipping: "Livraison", intent_ask_returns: "Retours",
      intent_ask_payment: "Paiement", intent_ask_stock: "Stock", intent_ask_promotions: "Promotions", intent_ask_warranty: "Garantie",
      intent_ask_opening_hours: "Horaires", intent_out_of_scope: "Autre chose",
      why_requested: "A demandé à parler à une personne.", why_fallback: "L'assistant n'a pas compris.", why_intent: "Une personne doit répondre.",
      why_bot_unavailable: "L'assistant était indisponible.", why_bot_off: "L'assistant est désactivé.",
      why_intent_off: "L'assistant laisse ce sujet aux personnes.", why_transfer: "Transmise par un collègue.",
      transferNote: "Note du collègue : {n}", details: "Détails", hideDetails: "Moins",
      visitorPanel: "Le visiteur", pagesSeen: "Pages vues", timeOnSite: "Sur le site depuis", languageLabel: "Langue",
      previousChats: "Conversations précédentes", noPrevious: "Première conversation.", offlineLeft: "Messages laissés", noOffline: "Aucun.",
      answeredBy: "répondu par {name}", unanswered: "personne n'a répondu", stars: "noté {n}/5", open: "Ouvrir",
      pastTitle: "Conversation précédente — lecture seule", visitorOnline: "Sur le site", visitorGone: "A quitté le site",
      visitorLeft: "Le visiteur a quitté le site.", visitorBack: "Le visiteur est revenu.", sinceTime: "depuis {t}",
      ratings: "Notes reçues", noRatings: "Aucune note pour l'instant.", ratingReceived: "Un visiteur a noté votre conversation {n}/5",
      ratingLine: "{n}/5 du visiteur {v}", ratingInChat: "Le visiteur a noté cette conversation {n}/5.",
      filters: "Filtres", all: "Tous", filterLanguage: "Langue", filterPool: "File", filterStatus: "Statut", shown: "{n} sur {t}",
    },
  };
  const storedLang = localStorage.getItem("relais.console.lang");
  let lang = storedLang || ((navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en");
  const t = (key, vars = {}) => (STRINGS[lang][key] || STRINGS.en[key] || key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => { node.placeholder = t(node.dataset.i18nPlaceholder); });
    document.querySelectorAll(".lang-select").forEach((select) => { select.value = lang; });
    if (state.agent) renderAll();
    emit("language", lang); // tools hook
  }

  // ------------------------------------------------------------ helpers
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
  const uid = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));

  // Links in remote text: <a> built from URL matches, text as text.
  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
  function linkify(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of (text || "").matchAll(URL_RE)) {
      const url = match[0].replace(/[.,;:!?)\]]+$/, "");
      let href;
      try { href = new URL(url); } catch { continue; }
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      fragment.append(el("a", { href: href.href, target: "_blank", rel: "noopener noreferrer", text: url }));
      last = match.index + url.length;
    }
    fragment.append(document.createTextNode((text || "").slice(last)));
    return fragment;
  }
  const clock = () => new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    return seconds < 60 ? `${seconds} s` : `${Math.floor(seconds / 60)} min ${String(seconds % 60).padStart(2, "0")} s`;
  }

  // Words for the codes the server sends (skills, intents, reasons, languages): data above, never the raw label.
  const known = (key) => Boolean(STRINGS[lang][key] || STRINGS.en[key]);
  const langName = (code) => (known("lang_" + code) ? t("lang_" + code) : (code || "?").toUpperCase());
  function topicOf(entry) {
    if (entry.skill && known("skill_" + entry.skill)) return t("skill_" + entry.skill);
    if (entry.reason !== "transfer" && entry.note && known("intent_" + entry.note)) return t("intent_" + entry.note);
    return entry.skill ? entry.skill.replace(/_/g, " ") : null;
  }
  // One visitor, one short id: the header, the tabs, the lists and the panel all use this.
  const shortId = (visitorId) => (visitorId || "").slice(-6);
  // The visitor's own question: their last message that asks something (not a greeting or a "yes").
  const SMALL_TALK = new Set(["greet", "goodbye", "thank_you", "affirm", "deny", "bot_challenge", "request_human"]);
  function visitorQuestion(messages) {
    const said = (messages || []).filter((m) => m.sender_kind === "visitor" && (m.text || "").trim());
    const asked = said.filter((m) => !SMALL_TALK.has(m.intent));
    return (asked.length ? asked : said).at(-1) || null;
  }

  // ------------------------------------------------------------ state
  const state = {
    token: sessionStorage.getItem("relais.console.token"),
    agent: null, presence: "offline",
    offers: new Map(),    // conversation_id -> {offer, deadline, receivedAt}
    queue: [],            // QueueEntry list (receivedAt added)
    chats: new Map(),     // conversation_id -> chat (see newChat)
    selected: null,
    team: [],
    live: [],
    ratings: [],          // the latest ratings of this agent's chats (pushed)
    filters: { live: { language: "", pool: "", status: "" }, queue: { language: "", pool: "", status: "" } },
    expanded: new Set(),  // compact rows opened (conversation ids)
    liveDuringRead: null, // live_conversation events received while the live list is read
    bot: null,            // the bot's switches (admins only): {enabled, disabled_intents}
    socket: null, retries: 0, reconnectTimer: null,
  };

  function newChat(conversation, mode) {
    return { id: conversation.id, conversation, mode, messages: new Map(), lastSeq: 0, unread: 0, typing: false, ended: null, pending: [],
      panel: null, notices: [], visitorPresent: null, leaving: null };
  }

  // ------------------------------------------------------------ HTTP
  async function api(method, path, body) {
    const headers = { "Content-Type": "application/json" };
    if (state.token) headers.Authorization = "Bearer " + state.token;
    let response;
    try {
      response = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    } catch {
      throw Object.assign(new Error("network"), { status: 0 });
    }
    if (response.status === 401 && path !== "/api/agents/login") { logoutLocally(); }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      throw Object.assign(new Error((data && data.error && data.error.message) || response.statusText),
        { status: response.status, retryAfter: Number(response.headers.get("Retry-After")) || 0 });
    }
    return data;
  }

  // ------------------------------------------------------------ notifications: WebAudio beep + title blink
  let audio = null;
  document.addEventListener("pointerdown", () => { // browsers allow audio only after a user gesture
    if (!audio && window.AudioContext) audio = new AudioContext();
  }, { once: true });
  function beep(frequency = 880) {
    if (!audio) return;
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = frequency;
    gain.gain.setValueAtTime(0.15, audio.currentTime);
    gain.gain.exponentialRampToValueAtTime(0.001, audio.currentTime + 0.25);
    osc.connect(gain).connect(audio.destination);
    osc.start();
    osc.stop(audio.currentTime + 0.25);
  }
  const baseTitle = document.title;
  let blinkTimer = null;
  function notify(label, frequency) {
    beep(frequency);
    if (document.hasFocus() && !document.hidden) return;
    clearInterval(blinkTimer);
    let on = false;
    blinkTimer = setInterval(() => { on = !on; document.title = on ? `● ${label}` : baseTitle; }, 1000);
  }
  function stopBlink() { clearInterval(blinkTimer); blinkTimer = null; document.title = totalUnread() ? `(${totalUnread()}) ${baseTitle}` : baseTitle; }
  window.addEventListener("focus", stopBlink);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) stopBlink(); });

  // ------------------------------------------------------------ login / logout
  $("login-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("login-error").textContent = "";
    try {
      const body = await api("POST", "/api/agents/login", { username: $("login-username").value.trim(), password: $("login-password").value });
      state.token = body.token;
      sessionStorage.setItem("relais.console.token", body.token);
      $("login-password").value = "";
      await boot();
    } catch (err) {
      $("login-error").textContent = err.status === 401 ? t("badLogin")
        : err.status === 429 ? t("tooManyLogins", { s: err.retryAfter }) : t("error", { m: err.message });
    }
  });

  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/agents/logout"); } catch { /* the session ends locally anyway */ }
    logoutLocally();
  });

  function logoutLocally() {
    sessionStorage.removeItem("relais.console.token");
    state.token = null; state.agent = null;
    if (state.socket) { state.socket.onclose = null; state.socket.close(); state.socket = null; }
    state.chats.clear(); state.offers.clear(); state.selected = null;
    emit("logout", null); // tools hook
    $("app-view").hidden = true;
    $("login-view").hidden = false;
    $("login-username").focus();
  }

  document.querySelectorAll(".lang-select").forEach((select) => select.addEventListener("change", () => {
    lang = select.value;
    localStorage.setItem("relais.console.lang", lang);
    applyLanguage();
  }));

  // ------------------------------------------------------------ start-up
  async function boot() {
    const me = await api("GET", "/api/agents/me");
    state.agent = me.agent;
    state.presence = me.presence;
    $("login-view").hidden = true;
    $("app-view").hidden = false;
    $("me").textContent = `${me.agent.display_name} · ${t(me.agent.role)}`;
    $("supervision-section").hidden = !isSupervisor();
    $("bot-section").hidden = !isAdmin();
    $("admin-link").hidden = !isAdmin();
    await reload();
    connect();
    applyLanguage();
    document.querySelector(`#presence input[value="${state.presence}"]`)?.focus();
    emit("boot", state.agent); // tools hook
  }

  const isAdmin = () => state.agent && state.agent.role === "admin";
  const isSupervisor = () => state.agent && (state.agent.role === "advisor" || state.agent.role === "admin");

  // Everything that could have changed while the socket was down.
  async function reload() {
    const started = Date.now();
    const [mine, queue, online] = await Promise.all([
      api("GET", "/api/agents/me/conversations"), api("GET", "/api/queue"), api("GET", "/api/agents/online"),
    ]);
    // Offers the socket brought while these reads were in flight may be newer than them.
    for (const [id, item] of state.offers) if (item.receivedAt < started) state.offers.delete(id);
    for (const offer of mine.offers) addOffer(offer, false);
    for (const conversation of mine.conversations) {
      const chat = state.chats.get(conversation.id) || newChat(conversation, "mine");
      chat.conversation = conversation; chat.mode = "mine"; chat.ended = null;
      state.chats.set(conversation.id, chat);
    }
    for (const chat of state.chats.values()) {
      if (chat.mode === "past") continue; // an earlier conversation, read once
      if (chat.mode === "mine" && !mine.conversations.some((c) => c.id === chat.id) && !chat.ended) chat.ended = "closed";
      fetchMessages(chat);
      loadPanel(chat);
    }
    setQueue(queue.waiting);
    state.team = online.agents;
    if (isSupervisor()) await refreshLive();
    if (isAdmin()) await loadBot();
    try { state.ratings = (await api("GET", "/api/agents/me/ratings")).ratings; } catch { /* next reload */ }
    if (!state.selected && state.chats.size) select(state.chats.keys().next().value);
    renderAll();
  }

  // Loads change without a presence event (assignments): refresh the team list then, and now and then.
  async function refreshTeam() {
    try { state.team = (await api("GET", "/api/agents/online")).agents; renderTeam(); renderTransferTargets(); } catch { /* next time */ }
  }
  setInterval(() => { if (state.agent) refreshTeam(); }, 30000);

  // The list read at start-up or after a reconnection; live_conversation events that arrive
  // while it is being read are applied again on top of it (they may be newer than the read).
  async function refreshLive() {
    const during = [];
    state.liveDuringRead = during;
    try {
      state.live = (await api("GET", "/api/conversations?status=live")).conversations;
      for (const conversation of during) applyLive(conversation);
      renderLive();
    } catch { /* next time */ } finally {
      if (state.liveDuringRead === during) state.liveDuringRead = null;
    }
  }

  // ------------------------------------------------------------ the bot's switches (admins)
  async function loadBot() {
    try { state.bot = await api("GET", "/api/admin/bot"); renderBot(); } catch { /* next reload */ }
  }

  function renderBot() {
    if (!state.bot) return;
    $("bot-enabled").checked = state.bot.enabled;
    if (document.activeElement !== $("bot-intents")) $("bot-intents").value = state.bot.disabled_intents.join(", ");
    $("bot-status").textContent = t(state.bot.enabled ? "botOn" : "botOff");
  }

  async function saveBot(body) {
    try {
      state.bot = await api("PUT", "/api/admin/bot", body);
    } catch (err) {
      toast(t("error", { m: err.message }));
    }
    renderBot();
  }

  // The kill switch acts at once; the intents on "Save".
  $("bot-enabled").addEventListener("change", () => saveBot({ enabled: $("bot-enabled").checked }));
  $("bot-form").addEventListener("submit", (e) => {
    e.preventDefault();
    saveBot({ disabled_intents: $("bot-intents").value.split(/[\s,]+/).filter(Boolean) });
  });

  async function fetchMessages(chat) {
    try {
      const body = await api("GET", `/api/conversations/${chat.id}/messages?after=${chat.lastSeq}`);
      chat.conversation = body.conversation;
      for (const message of body.messages) addMessage(chat, message, false);
      if (chat.id === state.selected) renderChat();
      renderTabs();
    } catch (err) {
      if (err.status === 403 || err.status === 404) { chat.ended = chat.ended || "gone"; renderTabs(); }
    }
  }

  // ------------------------------------------------------------ realtime
  function connect() {
    const url = new URL("/ws/agent", location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url.href); // no token in the URL: the first frame authenticates
    state.socket = socket;
    let subscribed = false;
    socket.onopen = () => {
      socket.send(JSON.stringify({ type: "auth", token: state.token }));
      $("conn").hidden = true;
      for (const chat of state.chats.values()) if (chat.mode === "watch") watch(chat.id);
    };
    socket.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      // The server subscribes before its first frame: catching up from then on
      // misses nothing committed between the reconnection and the subscription.
      if (!subscribed) {
        subscribed = true;
        if (state.retries > 0) reload().catch(() => {}); // a reconnection: catch up
        state.retries = 0;
      }
      handle(frame);
    };
    socket.onclose = (event) => {
      if (state.socket !== socket || !state.token) return;
      state.socket = null;
      if (event.code === 4401) { logoutLocally(); return; } // the session ended (logout elsewhere, new password or role)
      $("conn").hidden = false;
      const delay = Math.min(30000, 1000 * 2 ** state.retries) * (0.75 + Math.random() / 2);
      state.retries += 1;
      clearTimeout(state.reconnectTimer);
      state.reconnectTimer = setTimeout(connect, delay);
    };
  }
  const wsSend = (frame) => { if (state.socket && state.socket.readyState === WebSocket.OPEN) state.socket.send(JSON.stringify(frame)); };
  const watch = (id) => wsSend({ type: "watch", conversation_id: id });

  // Heartbeats every 15 s; the socket's ping counts too, the HTTP one covers a dead socket.
  setInterval(() => {
    if (!state.token || state.presence === "offline") return;
    wsSend({ type: "ping" });
    api("POST", "/api/agents/me/heartbeat").catch(() => {});
  }, 15000);

  function handle(frame) {
    emit("frame", frame); // tools hook
    switch (frame.type) {
      case "offer": addOffer(frame.offer, true); break;
      case "offer_revoked": state.offers.delete(frame.conversation_id); renderOffers(); break;
      case "queue": setQueue(frame.waiting); break;
      case "queue_entry_added": case "queue_entry_updated": putQueueEntry(frame.entry, frame.type === "queue_entry_added"); break;
      case "queue_entry_removed": removeQueueEntry(frame.conversation_id); break;
      case "presence": state.team = frame.agents; renderTeam(); renderTransferTargets(); renderLive(); break;
      case "assigned": onAssigned(frame.conversation); refreshTeam(); break;
      case "unassigned": onUnassigned(frame.conversation_id, frame.reason); refreshTeam(); break;
      case "message": onMessage(frame.message); break;
      case "conversation": onConversation(frame.conversation); break;
      case "typing": onTyping(frame); break;
      case "live_conversation": onLive(frame.conversation); break;
      case "visitor_presence": onVisitorPresence(frame.conversation_id, frame.present); break;
      case "rating": onRating(frame); break;
      default: break;
    }
  }

  // ------------------------------------------------------------ offers and queue
  // The same offer may come twice (a reload and the socket's own snapshot): one card, one chime.
  function addOffer(offer, fresh) {
    const now = Date.now();
    const known = state.offers.get(offer.conversation_id);
    state.offers.set(offer.conversation_id, {
      offer, receivedAt: now,
      deadline: offer.expires_in_seconds ? now + offer.expires_in_seconds * 1000 : null,
    });
    renderOffers();
    if (fresh && !known) { notify(t("newOffer"), 660); emit("offer", offer); } // emit: tools hook
  }

  function setQueue(waiting) {
    const now = Date.now();
    const known = new Set(state.queue.map((q) => q.conversation_id));
    state.queue = waiting.map((entry) => ({ ...entry, receivedAt: now }));
    renderQueue();
    if (state.queue.some((q) => !known.has(q.conversation_id) && !state.offers.has(q.conversation_id))) notify(t("newOffer"), 660);
  }

  // Queue deltas: one entry changes, the rest of the list stays as it is.
  function putQueueEntry(entry, added) {
    const index = state.queue.findIndex((q) => q.conversation_id === entry.conversation_id);
    const item = { ...entry, receivedAt: Date.now() };
    if (index >= 0) state.queue[index] = item; else state.queue.push(item);
    renderQueue();
    if (added && index < 0 && !state.offers.has(entry.conversation_id)) notify(t("newOffer"), 660);
  }

  function removeQueueEntry(id) {
    state.queue = state.queue.filter((q) => q.conversation_id !== id);
    renderQueue();
  }

  // Topic, language, pool and wait in words (no internal label).
  function facts(entry, receivedAt) {
    const waited = entry.waited_seconds + (Date.now() - receivedAt) / 1000;
    const topic = topicOf(entry);
    return [
      topic ? t("topicIs", { s: topic }) : t("noTopic"),
      t("langIs", { l: langName(entry.language) }),
      entry.pool ? t("pool_" + entry.pool) : null,
      t("waited", { t: duration(waited) }),
    ].filter(Boolean).join(" · ");
  }

  // The visitor's question, quoted: first thing on the card.
  function questionBlock(messages, compact = false) {
    const question = visitorQuestion(messages);
    const block = el("blockquote", { class: `question${compact ? " compact" : ""}` });
    if (!compact) block.append(el("span", { class: "question-label", text: t("question") + t("colon") }));
    block.append(question ? el("span", { class: "question-text" }, linkify(question.text)) : el("span", { class: "empty", text: t("noQuestion") }));
    return block;
  }

  function whyBlock(entry) {
    const lines = [];
    if (entry.reason && known("why_" + entry.reason)) lines.push(el("p", { class: "why", text: t("why_" + entry.reason) }));
    if (entry.reason === "transfer" && entry.note) lines.push(el("p", { class: "note", text: t("transferNote", { n: entry.note }) }));
    return lines;
  }

  function previewList(messages) {
    // Focusable: it scrolls, and a keyboard user must be able to scroll it (WCAG 2.1.1).
    const list = el("ol", { class: "preview", "aria-label": t("preview"), tabindex: "0" });
    for (const m of messages || []) {
      list.append(el("li", { class: `p-${m.sender_kind}` }, el("b", { text: senderLabel(m) + t("colon") }), linkify(m.text)));
    }
    return list;
  }

  // An offer (auto mode) or a queue entry (manual pick, supervision), with the
  // context an agent needs before taking it.
  function entryCard(entry, receivedAt, kind) {
    // Supervisors' queue can hold dozens: compact rows (facts, question on one line, Take) that expand.
    const compact = kind === "queued" && isSupervisor();
    const open = !compact || state.expanded.has(entry.conversation_id);
    const card = el("li", { class: `card ${kind}${compact ? " compact" : ""}`, "data-conversation-id": entry.conversation_id });
    if (kind === "offer") card.append(el("span", { class: "countdown", role: "timer", "aria-live": "off" }));
    card.append(questionBlock(entry.preview, !open));
    const head = el("div", { class: "card-head" });
    head.append(el("span", { class: "facts", text: facts(entry, receivedAt) }));
    card.append(head);
    if (open) {
      if (entry.page_url) card.append(el("p", { class: "page" }, el("span", { text: t("page") + t("colon") }), linkify(entry.page_url)));
      card.append(...whyBlock(entry));
      card.append(previewList(entry.preview));
    }
    const buttons = el("div", { class: "buttons" });
    if (compact) buttons.append(expandButton(entry.conversation_id, renderQueue));
    if (kind === "offer") {
      buttons.append(
        el("button", { type: "button", class: "primary accept", text: t("accept"), onclick: () => accept(entry.conversation_id) }),
        el("button", { type: "button", class: "ghost decline", text: t("decline"), onclick: () => decline(entry.conversation_id) }));
    } else if (entry.takeable) { // only what the server says this agent may claim
      buttons.append(el("button", { type: "button", class: "primary claim", text: t("claim"), onclick: () => claim(entry.conversation_id) }));
    }
    card.append(buttons);
    return card;
  }

  function renderOffers() {
    const list = $("offers");
    keepingFocus(list, () => {
      list.replaceChildren(...[...state.offers.values()].map(({ offer, receivedAt }) => entryCard(offer, receivedAt, "offer")));
      scrollPreviews(list);
    });
    $("offers-empty").hidden = state.offers.size > 0;
    tickCountdowns();
  }

  // A keyboard user on a card's button or preview keeps the focus (and the preview its
  // scroll position) when the list is redrawn.
  function keepingFocus(list, render) {
    const active = document.activeElement;
    const card = list.contains(active) ? active.closest(".card") : null;
    const scrolled = active.scrollTop;
    render();
    if (!card) return;
    const what = active.className ? "." + active.className.trim().split(/\s+/).join(".") : active.tagName.toLowerCase();
    const again = list.querySelector(`.card[data-conversation-id="${card.dataset.conversationId}"] ${what}`);
    if (again) { again.focus(); again.scrollTop = scrolled; }
  }

  function renderQueue() {
    const all = state.queue.filter((q) => !state.offers.has(q.conversation_id) && !state.chats.has(q.conversation_id));
    const entries = all.filter((q) => passes("queue", q.language, q.pool, "waiting"));
    keepingFocus($("queue"), () => $("queue").replaceChildren(...entries.map((q) => entryCard(q, q.receivedAt, "queued"))));
    $("queue-empty").hidden = entries.length > 0;
    $("queue-count").textContent = isSupervisor() && all.length !== entries.length ? t("shown", { n: entries.length, t: all.length }) : "";
    scrollPreviews($("queue"));
  }

  // ------------------------------------------------------------ filters and compact rows (supervisors)
  function passes(list, language, pool, status) {
    const f = state.filters[list];
    return (!f.language || f.language === language) && (!f.pool || f.pool === pool) && (!f.status || f.status === status);
  }

  function expandButton(id, rerender) {
    const open = state.expanded.has(id);
    return el("button", { type: "button", class: "ghost expand", "aria-expanded": String(open), text: open ? t("hideDetails") : t("details"),
      onclick: () => { if (open) state.expanded.delete(id); else state.expanded.add(id); rerender(); } });
  }

  function filterBar(list, withStatus) {
    const f = state.filters[list];
    const select = (key, label, options) => el("label", {}, el("span", { text: label }),
      (() => {
        const node = el("select", { class: `filter-${key}`, onchange: (e) => { f[key] = e.target.value; list === "live" ? renderLive() : renderQueue(); } },
          el("option", { value: "", text: t("all") }), ...options.map(([value, text]) => el("option", { value, text })));
        node.value = f[key];
        return node;
      })());
    const bar = el("div", { class: "filters", role: "group", "aria-label": t("filters") },
      select("language", t("filterLanguage"), [["fr", langName("fr")], ["en", langName("en")]]),
      select("pool", t("filterPool"), [["ambassador", t("poolAmbassador")], ["advisor", t("poolAdvisor")]]));
    if (withStatus) bar.append(select("status", t("filterStatus"), [["waiting", t("status_waiting")], ["assigned", t("status_assigned")]]));
    return bar;
  }

  function renderFilters() {
    const supervising = isSupervisor();
    $("queue-filters").hidden = !supervising;
    $("live-filters").hidden = !supervising;
    if (!supervising) return;
    // Not redrawn while one of its selects has the focus (keyboard users keep their place).
    if (!$("queue-filters").contains(document.activeElement)) $("queue-filters").replaceChildren(filterBar("queue", false));
    if (!$("live-filters").contains(document.activeElement)) $("live-filters").replaceChildren(filterBar("live", true));
  }

  // The latest turns (what made the bot escalate) matter most: show the end of each preview.
  function scrollPreviews(list) {
    list.querySelectorAll(".preview").forEach((preview) => { preview.scrollTop = preview.scrollHeight; });
  }

  function tickCountdowns() {
    const now = Date.now();
    for (const card of document.querySelectorAll("#offers .card")) {
      const item = state.offers.get(card.dataset.conversationId);
      if (!item) continue;
      const timer = card.querySelector(".countdown");
      if (item.deadline) {
        const left = Math.ceil((item.deadline - now) / 1000);
        timer.textContent = left > 0 ? t("expiresIn", { n: left }) : t("expired");
        card.classList.toggle("urgent", left <= 10);
      }
      card.querySelector(".facts").textContent = facts(item.offer, item.receivedAt);
    }
    for (const card of document.querySelectorAll("#queue .card")) {
      const entry = state.queue.find((q) => q.conversation_id === card.dataset.conversationId);
      if (entry) card.querySelector(".facts").textContent = facts(entry, entry.receivedAt);
    }
  }
  setInterval(tickCountdowns, 500);

  async function accept(id) {
    try {
      const body = await api("POST", `/api/conversations/${id}/accept`);
      state.offers.delete(id);
      onAssigned(body.conversation, true);
      $("composer-input").focus(); // the card (and the button that had the focus) is gone
    } catch (err) {
      state.offers.delete(id);
      toast(err.status === 409 ? t("offerGone") : t("error", { m: err.message }));
    }
    renderOffers();
  }

  async function decline(id) {
    state.offers.delete(id);
    renderOffers();
    ($("offers").querySelector("button.accept") || $("chat-view")).focus(); // not lost with the card
    try { await api("POST", `/api/conversations/${id}/decline`); } catch { /* it expires anyway */ }
  }

  async function claim(id) {
    try {
      const body = await api("POST", `/api/conversations/${id}/claim`);
      onAssigned(body.conversation, true);
      $("composer-input").focus();
    } catch (err) {
      toast(err.status === 409 ? t("offerGone") : t("error", { m: err.message }));
    }
  }

  // ------------------------------------------------------------ chats
  function onAssigned(conversation, focus = false) {
    const chat = state.chats.get(conversation.id) || newChat(conversation, "mine");
    chat.conversation = conversation; chat.mode = "mine"; chat.ended = null;
    state.chats.set(conversation.id, chat);
    state.offers.delete(conversation.id);
    fetchMessages(chat);
    loadPanel(chat);
    if (focus || !state.selected) select(conversation.id);
    renderOffers(); renderQueue(); renderTabs();
  }

  function onUnassigned(id, reason) {
    const chat = state.chats.get(id);
    if (!chat) return;
    chat.ended = reason || "closed";
    renderTabs();
    if (id === state.selected) renderChat();
  }

  function onMessage(message) {
    const chat = state.chats.get(message.conversation_id);
    if (!chat) return;
    addMessage(chat, message, true);
  }

  function addMessage(chat, message, live) {
    if (chat.messages.has(message.seq)) return;
    chat.messages.set(message.seq, message);
    chat.lastSeq = Math.max(chat.lastSeq, message.seq);
    if (message.client_msg_id) chat.pending = chat.pending.filter((p) => p.id !== message.client_msg_id);
    if (message.sender_kind === "visitor") chat.typing = false;
    const seen = chat.id === state.selected && document.hasFocus() && !document.hidden;
    if (live && message.sender_kind === "visitor") {
      if (!seen) chat.unread += 1;
      if (!seen) notify(t("newMessage"), 880);
      emit("message", message); // tools hook
    }
    if (chat.id === state.selected) renderChat();
    renderTabs();
  }

  function onConversation(conversation) {
    const chat = state.chats.get(conversation.id);
    if (!chat || chat.mode === "past") return;
    chat.conversation = conversation; // live page URL, status
    // A new page: pushed to the visitor panel's pages seen.
    const pages = chat.panel && chat.panel.pages;
    if (pages && conversation.page_url && (!pages.length || pages.at(-1).url !== conversation.page_url)) {
      pages.push({ url: conversation.page_url, at: conversation.updated_at });
    }
    if (chat.id === state.selected) { renderChatHead(); renderPanel(); }
    renderTabs();
  }

  // ------------------------------------------------------------ supervision: pushed, one conversation at a time
  const LIVE = new Set(["waiting", "assigned"]);
  function onLive(conversation) {
    if (state.liveDuringRead) state.liveDuringRead.push(conversation);
    applyLive(conversation);
    renderLive();
  }

  function applyLive(conversation) {
    const index = state.live.findIndex((c) => c.id === conversation.id);
    if (index >= 0 && new Date(state.live[index].updated_at) > new Date(conversation.updated_at)) return; // an older change
    if (!LIVE.has(conversation.status)) { if (index >= 0) state.live.splice(index, 1); }
    else if (index >= 0) state.live[index] = conversation;
    else state.live.push(conversation);
  }

  // ------------------------------------------------------------ the visitor left / came back
  // A reload or a reconnection closes the socket for a moment: "left" is said only if the
  // visitor is still gone a few seconds later.
  const LEAVE_GRACE_MS = 4000;
  function onVisitorPresence(id, present) {
    const chat = state.chats.get(id);
    if (!chat || chat.mode === "past") return;
    if (!present) {
      clearTimeout(chat.leaving);
      chat.leaving = setTimeout(() => {
        chat.leaving = null;
        chat.visitorPresent = false;
        addNotice(chat, "presence", t("visitorLeft"));
      }, LEAVE_GRACE_MS);
      return;
    }
    if (chat.leaving) { clearTimeout(chat.leaving); chat.leaving = null; chat.visitorPresent = true; return; }
    const wasGone = chat.visitorPresent === false;
    chat.visitorPresent = true;
    if (wasGone) addNotice(chat, "presence", t("visitorBack"));
    else if (chat.id === state.selected) renderPanel();
  }

  // A line in the chat that is not a message (not stored): placed after the last message seen.
  function addNotice(chat, kind, text) {
    chat.notices.push({ kind, text, afterSeq: chat.lastSeq, at: new Date().toISOString() });
    if (chat.id === state.selected) { renderChat(); renderPanel(); }
  }

  // ------------------------------------------------------------ ratings
  function onRating(frame) {
    state.ratings = [{ conversation_id: frame.conversation_id, visitor_id: frame.visitor_id, rating: frame.rating,
      rating_comment: frame.rating_comment, at: new Date().toISOString() }, ...state.ratings.filter((r) => r.conversation_id !== frame.conversation_id)].slice(0, 20);
    renderRatings();
    toast(t("ratingReceived", { n: frame.rating }) + (frame.rating_comment ? ` — “${frame.rating_comment}”` : ""));
    const chat = state.chats.get(frame.conversation_id);
    if (chat) addNotice(chat, "rating", t("ratingInChat", { n: frame.rating }) + (frame.rating_comment ? ` “${frame.rating_comment}”` : ""));
  }

  const starsText = (n) => "★".repeat(n) + "☆".repeat(Math.max(0, 5 - n));
  function renderRatings() {
    $("ratings").replaceChildren(...state.ratings.map((r) => el("li", { class: "rating-item", "data-conversation-id": r.conversation_id },
      el("span", { class: "stars", "aria-hidden": "true", text: starsText(r.rating) }),
      el("span", { class: "rating-line", text: t("ratingLine", { n: r.rating, v: shortId(r.visitor_id) }) }),
      r.rating_comment ? el("q", { class: "rating-comment", text: r.rating_comment }) : null)));
    $("ratings-empty").hidden = state.ratings.length > 0;
  }

  // ------------------------------------------------------------ the visitor panel
  // Only the latest read applies; a page pushed while it was in flight is kept (the read may predate it).
  async function loadPanel(chat) {
    if (chat.mode === "past") return;
    const seq = (chat.panelSeq = (chat.panelSeq || 0) + 1);
    let panel = null;
    try {
      panel = await api("GET", `/api/conversations/${chat.id}/visitor`);
    } catch { panel = null; } // not (or no longer) this agent's to see
    if (seq !== chat.panelSeq) return;
    chat.panelSeq = 0;
    const latest = chat.conversation.page_url;
    const last = panel && panel.pages.at(-1);
    if (panel && latest && (!last || (last.url !== latest && new Date(chat.conversation.updated_at) > new Date(last.at)))) {
      panel.pages.push({ url: latest, at: chat.conversation.updated_at });
    }
    chat.panel = panel;
    if (chat.id === state.selected) renderPanel();
  }

  function renderPanel() {
    const chat = state.chats.get(state.selected);
    const panel = $("visitor-panel");
    const p = chat && chat.panel;
    panel.hidden = !p || chat.mode === "past";
    if (panel.hidden) return;
    const presence = chat.visitorPresent === null ? null
      : el("p", { class: `visitor-presence ${chat.visitorPresent ? "here" : "gone"}`, text: t(chat.visitorPresent ? "visitorOnline" : "visitorGone") });
    const pages = el("ol", { class: "pages" }, ...p.pages.map((page) => el("li", {},
      el("time", { datetime: page.at, text: clock().format(new Date(page.at)) }), " ", linkify(page.url))));
    const previous = p.previous.length
      ? el("ul", { class: "previous" }, ...p.previous.map((c) => el("li", { "data-conversation-id": c.id },
        el("div", {}, el("time", { datetime: c.created_at, text: new Date(c.created_at).toLocaleDateString(lang) }), " · ",
          topicOf(c) || t("status_" + c.status)),
        el("div", { class: "previous-facts", text: [
          c.agent ? t("answeredBy", { name: c.agent.display_name }) : t("unanswered"),
          c.outcome && known("outcome_" + c.outcome) ? t("outcome_" + c.outcome) : (c.status === "offline_message" ? t("status_offline_message") : null),
          c.rating ? t("stars", { n: c.rating }) : null,
        ].filter(Boolean).join(" · ") }),
        c.rating_comment ? el("q", { class: "rating-comment", text: c.rating_comment }) : null,
        el("button", { type: "button", class: "ghost open-past", text: t("open"), onclick: () => openPast(chat.id, c) }))))
      : el("p", { class: "empty", text: t("noPrevious") });
    const offline = p.offline_messages.length
      ? el("ul", { class: "offline" }, ...p.offline_messages.map((m) => el("li", {},
        el("time", { datetime: m.created_at, text: new Date(m.created_at).toLocaleString(lang) }), " ",
        m.email ? el("span", { class: "email", text: m.email }) : null, el("div", { class: "text" }, linkify(m.text)))))
      : el("p", { class: "empty", text: t("noOffline") });
    panel.replaceChildren(
      el("h2", { id: "visitor-panel-title", text: `${t("visitorPanel")} ${p.visitor.short_id}` }),
      presence,
      el("dl", { class: "visitor-facts" },
        el("dt", { text: t("languageLabel") }), el("dd", { text: langName(p.language) }),
        el("dt", { text: t("timeOnSite") }), el("dd", { class: "time-on-site", "data-since": p.visit_started_at, text: onSiteFor(p.visit_started_at) })),
      el("h3", { text: `${t("pagesSeen")} (${p.pages.length})` }), pages,
      el("h3", { text: t("previousChats") }), previous,
      el("h3", { text: t("offlineLeft") }), offline);
  }
  const onSiteFor = (since) => duration((Date.now() - new Date(since).getTime()) / 1000);
  setInterval(() => { document.querySelectorAll(".time-on-site").forEach((n) => { n.textContent = onSiteFor(n.dataset.since); }); }, 1000);

  // An earlier conversation of the visitor, read-only in its own tab.
  async function openPast(currentId, summary) {
    if (!state.chats.has(summary.id)) {
      try {
        const body = await api("GET", `/api/conversations/${currentId}/visitor/conversations/${summary.id}`);
        const chat = newChat(body.conversation, "past");
        for (const m of body.messages) { chat.messages.set(m.seq, m); chat.lastSeq = Math.max(chat.lastSeq, m.seq); }
        state.chats.set(summary.id, chat);
      } catch (err) { toast(t("error", { m: err.message })); return; }
    }
    select(summary.id);
  }

  const typingTimers = new Map();
  function onTyping(frame) {
    const chat = state.chats.get(frame.conversation_id);
    if (!chat || frame.sender_kind !== "visitor") return;
    chat.typing = Boolean(frame.typing);
    clearTimeout(typingTimers.get(chat.id));
    if (chat.typing) typingTimers.set(chat.id, setTimeout(() => { chat.typing = false; renderTyping(); }, 8000));
    renderTyping();
  }

  function select(id) {
    state.selected = id;
    const chat = state.chats.get(id);
    if (chat) chat.unread = 0;
    if (chat && !chat.panel && !chat.panelSeq && chat.mode !== "past") loadPanel(chat);
    renderTabs();
    renderChat();
    stopBlink();
    emit("select", id); // tools hook
  }

  function closeTab(id) {
    const chat = state.chats.get(id);
    if (chat) clearTimeout(chat.leaving);
    if (chat && chat.mode === "watch") wsSend({ type: "unwatch", conversation_id: id });
    state.chats.delete(id);
    if (state.selected === id) state.selected = state.chats.size ? state.chats.keys().next().value : null;
    renderTabs(); renderChat(); renderQueue();
  }

  const totalUnread = () => [...state.chats.values()].reduce((n, c) => n + c.unread, 0);

  function senderLabel(m) {
    if (m.sender_kind === "visitor") return t("visitor");
    if (m.sender_kind === "bot") return t("bot");
    if (m.sender_kind === "system") return t("system");
    const name = (m.data && m.data.display_name) || m.sender_id || "?";
    return `${name} (${t(m.sender_kind)})`;
  }

  function renderTabs() {
    const tabs = [...state.chats.values()].map((chat) => {
      const c = chat.conversation;
      const label = `${(c.language || "").toUpperCase()} · ${topicOf(c) || t("noTopic")}`;
      const tab = el("button", {
        type: "button", role: "tab", class: `tab${chat.ended ? " ended" : ""}${chat.mode === "watch" ? " watch" : ""}${chat.mode === "past" ? " past" : ""}`,
        "aria-selected": String(chat.id === state.selected), "aria-controls": "chat-panel", "data-conversation-id": chat.id,
        tabindex: chat.id === state.selected ? "0" : "-1", onclick: () => select(chat.id),
      }, el("span", { class: "tab-label", text: label }), el("span", { class: "tab-id", text: shortId(c.visitor_id) }));
      if (chat.unread) tab.append(el("span", { class: "unread", "aria-label": t("unread", { n: chat.unread }), text: String(chat.unread) }));
      if (chat.typing) tab.append(el("span", { class: "dot", "aria-hidden": "true", text: "…" }));
      return tab;
    });
    $("chat-tabs").replaceChildren(...tabs);
    $("chats-empty").hidden = tabs.length > 0;
    document.title = totalUnread() && !blinkTimer ? `(${totalUnread()}) ${baseTitle}` : (blinkTimer ? document.title : baseTitle);
  }
  // Arrow keys move between tabs (ARIA tabs pattern).
  $("chat-tabs").addEventListener("keydown", (e) => {
    if (!["ArrowDown", "ArrowUp"].includes(e.key)) return;
    const ids = [...state.chats.keys()];
    const i = ids.indexOf(state.selected);
    const next = ids[(i + (e.key === "ArrowDown" ? 1 : ids.length - 1)) % ids.length];
    if (next) { select(next); document.querySelector(`#chat-tabs [data-conversation-id="${next}"]`)?.focus(); e.preventDefault(); }
  });

  function renderChatHead() {
    const chat = state.chats.get(state.selected);
    if (!chat) return;
    const c = chat.conversation;
    $("chat-title").textContent = chat.mode === "past" ? `${t("visitor")} ${shortId(c.visitor_id)} — ${t("pastTitle")}`
      : `${t("visitor")} ${shortId(c.visitor_id)} — ${t("status_" + c.status)}`;
    const page = $("chat-page");
    page.textContent = c.page_url || "—";
    if (c.page_url && /^https?:/i.test(c.page_url)) page.href = c.page_url; else page.removeAttribute("href");
    $("chat-facts").textContent = [t("langIs", { l: langName(c.language) }), topicOf(c) ? t("topicIs", { s: topicOf(c) }) : t("noTopic"),
      c.pool ? t("pool_" + c.pool) : null].filter(Boolean).join(" · ");
  }

  // Zooming or turning a phone changes the layout (one column or two): a transcript
  // that showed its latest message keeps showing it.
  let logAtEnd = true;
  $("chat-log").addEventListener("scroll", () => {
    const log = $("chat-log");
    logAtEnd = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
  });
  new ResizeObserver(() => { if (logAtEnd) $("chat-log").scrollTop = $("chat-log").scrollHeight; }).observe($("chat-log"));

  // "The bot should have answered this": for the bot's maintainers (docs/maintainers.md).
  function flagButton(chat, m) {
    chat.flagged = chat.flagged || new Set();
    const done = chat.flagged.has(m.seq);
    return el("button", {
      type: "button", class: "link flag", text: done ? "⚑" : "⚐", title: t(done ? "flagged" : "flag"),
      "aria-label": t(done ? "flagged" : "flag"), "aria-pressed": String(done), disabled: done,
      onclick: async () => {
        try {
          await api("POST", `/api/conversations/${encodeURIComponent(chat.id)}/messages/${m.seq}/flag`);
          chat.flagged.add(m.seq);
          renderChat();
        } catch (err) {
          toast(t("error", { m: err.message }));
        }
      },
    });
  }

  function renderChat() {
    const chat = state.chats.get(state.selected);
    $("chat-empty").hidden = Boolean(chat);
    $("chat-panel").hidden = !chat;
    if (!chat) return;
    renderChatHead();
    const log = $("chat-log");
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const items = [];
    const notices = [...chat.notices];
    const noticeNode = (n) => el("div", { class: `msg system notice ${n.kind}` },
      el("div", { class: "text" }, el("time", { datetime: n.at, text: clock().format(new Date(n.at)) }), " — ", n.text));
    for (const m of [...chat.messages.values()].sort((a, b) => a.seq - b.seq)) {
      while (notices.length && notices[0].afterSeq < m.seq) items.push(noticeNode(notices.shift()));
      items.push(el("div", { class: `msg ${m.sender_kind}`, "data-seq": String(m.seq), "data-sender": m.sender_kind },
        el("div", { class: "meta" }, el("b", { text: senderLabel(m) }), el("time", { datetime: m.created_at, text: clock().format(new Date(m.created_at)) }),
          m.sender_kind === "visitor" && chat.mode === "mine" ? flagButton(chat, m) : null),
        el("div", { class: "text" }, linkify(m.text))));
    }
    items.push(...notices.map(noticeNode));
    for (const p of chat.pending) {
      items.push(el("div", { class: `msg mine pending${p.failed ? " failed" : ""}`, "data-client-id": p.id },
        el("div", { class: "meta" }, p.failed
          ? el("button", { type: "button", class: "link", text: t("failed"), onclick: () => { p.failed = false; sendPending(chat, p); renderChat(); } })
          : el("span", { text: t("sending") })),
        el("div", { class: "text", text: p.text })));
    }
    log.replaceChildren(...items);
    if (atBottom || chat.justOpened !== false) log.scrollTop = log.scrollHeight;
    chat.justOpened = false;
    const writable = chat.mode === "mine" && !chat.ended;
    $("composer").hidden = !writable;
    $("chat-tools").hidden = !writable;
    $("chat-readonly").hidden = writable;
    $("chat-readonly").textContent = chat.mode === "watch" ? t("watching") : chat.mode === "past" ? t("pastTitle") : chat.ended ? t("ended", { r: chat.ended }) : "";
    if (!writable) {
      const actions = el("span", { class: "readonly-actions" });
      if (chat.mode === "watch" && isSupervisor() && chat.conversation.status !== "bot") {
        actions.append(el("button", { type: "button", class: "primary", text: t("takeOver"), onclick: () => claim(chat.id) }));
      }
      actions.append(el("button", { type: "button", class: "ghost", text: t("close") + " ✕", "aria-label": t("close"), onclick: () => closeTab(chat.id) }));
      $("chat-readonly").append(" ", actions);
    }
    renderTyping();
    renderTransferTargets();
    renderPanel();
  }

  function renderTyping() {
    const chat = state.chats.get(state.selected);
    $("chat-typing").hidden = !(chat && chat.typing);
    $("chat-typing").textContent = t("typing");
    renderTabs();
  }

  function renderTransferTargets() {
    const select = $("transfer-target");
    const previous = select.value;
    const options = [el("option", { value: "pool:advisor", text: t("poolAdvisor") }), el("option", { value: "pool:ambassador", text: t("poolAmbassador") })];
    for (const entry of state.team) {
      if (!state.agent || entry.agent.id === state.agent.id || entry.presence !== "online") continue;
      options.push(el("option", { value: "agent:" + entry.agent.id, text: t("toAgent", { name: entry.agent.display_name, role: t(entry.agent.role) }) }));
    }
    select.replaceChildren(...options);
    if ([...select.options].some((o) => o.value === previous)) select.value = previous;
  }

  function renderTeam() {
    $("team").replaceChildren(...state.team.map((entry) => el("li", { class: `member ${entry.presence}` },
      el("span", { class: "presence-dot", "aria-hidden": "true" }),
      el("span", { class: "name", text: entry.agent.display_name }),
      el("span", { class: "role", text: `${t(entry.agent.role)} · ${t(entry.presence)} · ${t("load", { n: entry.load, c: entry.capacity })}` }))));
  }

  // Compact rows (who, what, status) that expand to the page and the visitor's id; filtered.
  function renderLive() {
    if (!isSupervisor()) return;
    const names = new Map(state.team.map((e) => [e.agent.id, e.agent.display_name]));
    const shown = state.live.filter((c) => passes("live", c.language, c.pool, c.status));
    const rows = shown.map((c) => {
      const open = state.expanded.has(c.id);
      return el("li", { class: `card live compact status-${c.status}`, "data-conversation-id": c.id },
        el("div", { class: "facts", text: [(c.language || "").toUpperCase(), topicOf(c) || t("noTopic"), t("status_" + c.status),
          t("held", { name: c.assigned_agent_id ? names.get(c.assigned_agent_id) || c.assigned_agent_id.slice(-6) : t("nobody") })].join(" · ") }),
        open ? el("p", { class: "visitor-line", text: `${t("visitor")} ${shortId(c.visitor_id)} · ${c.pool ? t("pool_" + c.pool) : ""}` }) : null,
        open && c.page_url ? el("p", { class: "page" }, linkify(c.page_url)) : null,
        el("div", { class: "buttons" },
          expandButton(c.id, renderLive),
          el("button", { type: "button", class: "ghost view", text: t("view"), onclick: () => openWatch(c) }),
          c.assigned_agent_id !== (state.agent && state.agent.id)
            ? el("button", { type: "button", class: "primary takeover", text: c.status === "waiting" ? t("claim") : t("takeOver"), onclick: () => claim(c.id) })
            : null));
    });
    keepingFocus($("supervision"), () => $("supervision").replaceChildren(...rows));
    $("supervision-empty").hidden = rows.length > 0;
    $("live-count").textContent = shown.length !== state.live.length ? t("shown", { n: shown.length, t: state.live.length }) : String(state.live.length);
  }

  function openWatch(conversation) {
    if (!state.chats.has(conversation.id)) {
      state.chats.set(conversation.id, newChat(conversation, "watch"));
      watch(conversation.id);
      fetchMessages(state.chats.get(conversation.id));
      loadPanel(state.chats.get(conversation.id));
    }
    select(conversation.id);
  }

  function renderAll() {
    renderFilters(); renderOffers(); renderQueue(); renderTabs(); renderChat(); renderTeam(); renderLive(); renderBot(); renderRatings();
    document.querySelectorAll('#presence input').forEach((input) => { input.checked = input.value === state.presence; });
  }

  // ------------------------------------------------------------ actions in a chat
  $("composer").addEventListener("submit", (e) => {
    e.preventDefault();
    const chat = state.chats.get(state.selected);
    const input = $("composer-input");
    const text = input.value.trim();
    if (!chat || !text) return;
    input.value = "";
    stopTyping(chat.id);
    const item = { id: uid(), text };
    chat.pending.push(item);
    renderChat();
    sendPending(chat, item);
  });
  $("composer-input").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); $("composer").requestSubmit(); }
  });

  // Retried with the same client_msg_id until the server acknowledges it.
  async function sendPending(chat, item, attempt = 0) {
    try {
      const body = await api("POST", `/api/conversations/${chat.id}/messages`, { text: item.text, client_msg_id: item.id });
      addMessage(chat, body.message, false);
    } catch (err) {
      if (err.status === 0 && attempt < 6) { setTimeout(() => sendPending(chat, item, attempt + 1), 1000 * 2 ** attempt); return; }
      item.failed = true;
      if (err.status) toast(t("error", { m: err.message }));
    }
    if (chat.id === state.selected) renderChat();
  }

  let typingSince = 0;
  let typingStop = null;
  $("composer-input").addEventListener("input", () => {
    const id = state.selected;
    if (!id) return;
    if (Date.now() - typingSince > 3000) { typingSince = Date.now(); wsSend({ type: "typing", conversation_id: id, typing: true }); }
    clearTimeout(typingStop);
    typingStop = setTimeout(() => stopTyping(id), 4000);
  });
  function stopTyping(id) {
    clearTimeout(typingStop);
    if (typingSince) { typingSince = 0; wsSend({ type: "typing", conversation_id: id, typing: false }); }
  }

  $("transfer-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = state.selected;
    const [kind, value] = $("transfer-target").value.split(":");
    const body = kind === "pool" ? { pool: value } : { agent_id: value };
    const note = $("transfer-note").value.trim();
    if (note) body.note = note;
    try {
      await api("POST", `/api/conversations/${id}/transfer`, body);
      $("transfer-note").value = "";
      closeTab(id);
      $("chat-view").focus();
    } catch (err) { $("tool-error").textContent = t("error", { m: err.message }); }
  });

  $("close-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const id = state.selected;
    try {
      await api("POST", `/api/conversations/${id}/close`, { outcome: $("close-outcome").value });
      closeTab(id);
      $("chat-view").focus();
    } catch (err) { $("tool-error").textContent = t("error", { m: err.message }); }
  });

  // ------------------------------------------------------------ presence
  $("presence").addEventListener("change", async (e) => {
    const status = e.target.value;
    try {
      const body = await api("POST", "/api/agents/me/presence", { status });
      state.presence = body.presence;
    } catch (err) {
      toast(t("error", { m: err.message }));
    }
    renderAll();
  });

  function toast(text) {
    const node = el("div", { class: "toast", role: "alert", text });
    document.body.append(node);
    setTimeout(() => node.remove(), 5000);
  }

  // ------------------------------------------------------------ tools hook (begin)
  // What canned.js, notes.js, notify.js and shortcuts.js use of the console (docs/console.md):
  // read-only views of the state, a few actions, and events ("boot", "logout", "language",
  // "select" (id), "frame" (every socket frame), "offer" (a new offer), "message" (a visitor's
  // live message)). Keep this block small: the tools live in their own files.
  function emit(type, detail) { hookEvents.dispatchEvent(new CustomEvent(type, { detail })); }
  const hookEvents = new EventTarget();
  window.RelaisConsole = Object.freeze({
    get agent() { return state.agent; },
    get lang() { return lang; },
    get selected() { return state.selected; },
    get conversation() { const chat = state.chats.get(state.selected); return chat ? chat.conversation : null; },
    get writable() { const chat = state.chats.get(state.selected); return Boolean(chat && chat.mode === "mine" && !chat.ended); },
    chatIds: () => [...state.chats.keys()],
    offerIds: () => [...state.offers.keys()],
    isSupervisor: () => Boolean(isSupervisor()),
    input: $("composer-input"),
    api, el, accept, select,
    on: (type, listener) => hookEvents.addEventListener(type, (e) => listener(e.detail)),
  });
  // ------------------------------------------------------------ tools hook (end)

  // ------------------------------------------------------------ go
  applyLanguage();
  if (state.token) {
    boot().catch(() => logoutLocally());
  } else {
    $("login-view").hidden = false;
    $("login-username").focus();
  }
})();
