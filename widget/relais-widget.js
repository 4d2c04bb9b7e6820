/*!
 * Relais chat widget — one <script> tag, no framework, no build step.
 *
 *   <script src="https://chat.example.com/widget/relais-widget.js"
 *           data-service-url="https://chat.example.com" data-lang="fr"
 *           data-brand="Évasion Van" data-brand-color="#0b6e4f" async></script>
 *
 * Everything renders inside an open Shadow DOM: the host page's CSS cannot reach
 * the widget and the widget's CSS cannot leak out. Remote text is only ever put
 * into the page with textContent / createTextNode — never innerHTML.
 * See docs/widget.md.
 */
(() => {
  "use strict";

  const script = document.currentScript || document.querySelector("script[src*='relais-widget']");
  if (!script || window.__relaisWidgetLoaded) return; // one widget per page, even if the tag is pasted twice
  window.__relaisWidgetLoaded = true;

  // ---------------------------------------------------------------- configuration
  const ds = script.dataset;
  const SERVICE = (ds.serviceUrl || new URL(script.src, location.href).origin).replace(/\/+$/, "");
  const pageLang = (document.documentElement.lang || navigator.language || "en").toLowerCase();
  const langOf = (lang) => (String(lang || "").toLowerCase().startsWith("fr") ? "fr" : "en");
  let LANG = langOf(ds.lang || pageLang); // RelaisWidget.setLanguage() changes it
  const BRAND = ds.brand || document.title || "Chat";
  const BRAND_COLOR = /^#[0-9a-f]{3,8}$|^(rgb|hsl)a?\([\d\s.,%]+\)$/i.test(ds.brandColor || "") ? ds.brandColor : "#0b6e4f";
  // data-min-available="2" or "ambassador:2,advisor:1" overrides the server's threshold.
  const MIN_AVAILABLE = parseThresholds(ds.minAvailable);
  const STORE_KEY = "relais:v1:" + SERVICE;
  const MAX_TEXT = 4000;

  function parseThresholds(raw) {
    if (!raw) return null;
    const out = {};
    for (const part of raw.split(",")) {
      const [a, b] = part.split(":").map((s) => s.trim());
      if (b === undefined) { out.ambassador = out.advisor = Number(a); } else { out[a] = Number(b); }
    }
    return out;
  }

  // ---------------------------------------------------------------- UI strings
  const STRINGS = {
    en: {
      open: "Open the chat", close: "Close the chat", title: "Chat with {brand}",
      assistant: "Virtual assistant", finding: "Finding someone for you…",
      community: "community member", advisor: "web advisor", you: "You",
      position: "You are number {n} in line.", aboutOne: "About a minute.", aboutN: "About {n} minutes.",
      keepWaiting: "Keep waiting", waitChoice: "Keep waiting or leave a message",
      tooLong: "Your message is {n} characters long; the limit is {max}. Shorten it: nothing was sent.",
      disclosure: "Community members are customers who answer voluntarily; they are not employees of {brand}.",
      placeholder: "Write your message…", inputLabel: "Your message", send: "Send",
      sending: "Sending…", failed: "Not sent.", retry: "Retry",
      typing: "{who} is typing…", someone: "Someone",
      talkCommunity: "Talk to the community", talkPerson: "Talk to an advisor",
      leaveMessage: "Leave us a message", offlineIntro: "Leave your email and your question: we will answer you by email.",
      email: "Your email", question: "Your question", submit: "Send my message", offlineThanks: "Thank you, your message has been saved.",
      badEmail: "Please enter a valid email address.",
      rateTitle: "How was your conversation?", stars: "{n} out of 5", comment: "A comment? (optional)",
      rateSend: "Send my rating", rateThanks: "Thank you for your feedback!",
      offline: "Connection lost — reconnecting…", welcome: "Hello! Ask me about delivery, returns, payment or our products.",
      messages: "Messages", unread: "{n} new messages", error: "Something went wrong, please try again.",
    },
    fr: {
      open: "Ouvrir la discussion", close: "Fermer la discussion", title: "Discuter avec {brand}",
      assistant: "Assistant virtuel", finding: "Nous cherchons quelqu'un pour vous…",
      community: "membre de la communauté", advisor: "conseiller web", you: "Vous",
      position: "Vous êtes en position {n} dans la file.", aboutOne: "Environ une minute.", aboutN: "Environ {n} minutes.",
      keepWaiting: "Continuer d'attendre", waitChoice: "Continuer d'attendre ou laisser un message",
      tooLong: "Votre message fait {n} caractères ; la limite est de {max}. Raccourcissez-le : rien n'a été envoyé.",
      disclosure: "Les membres de la communauté sont des clients qui répondent bénévolement ; ils ne sont pas salariés de {brand}.",
      placeholder: "Écrivez votre message…", inputLabel: "Votre message", send: "Envoyer",
      sending: "Envoi…", failed: "Non envoyé.", retry: "Réessayer",
      typing: "{who} écrit…", someone: "Quelqu'un",
      talkCommunity: "Parler à la communauté", talkPerson: "Parler à un conseiller",
      leaveMessage: "Laissez-nous un message", offlineIntro: "Laissez votre e-mail et votre question : nous vous répondrons par e-mail.",
      email: "Votre e-mail", question: "Votre question", submit: "Envoyer mon message", offlineThanks: "Merci, votre message est bien enregistré.",
      badEmail: "Veuillez saisir une adresse e-mail valide.",
      rateTitle: "Comment s'est passée cette conversation ?", stars: "{n} sur 5", comment: "Un commentaire ? (facultatif)",
      rateSend: "Envoyer ma note", rateThanks: "Merci pour votre avis !",
      offline: "Connexion perdue — reconnexion…", welcome: "Bonjour ! Posez-moi vos questions sur la livraison, les retours, le paiement ou nos produits.",
      messages: "Messages", unread: "{n} nouveaux messages", error: "Un problème est survenu, veuillez réessayer.",
    },
  };
  const t = (key, vars = {}) => STRINGS[LANG][key].replace(/\{(\w+)\}/g, (_, k) => (k in vars ? vars[k] : `{${k}}`));

  // ---------------------------------------------------------------- persistence
  // localStorage may be unavailable (privacy modes, sandboxed iframes): fall back to memory.
  const memory = {};
  function load() {
    try { return JSON.parse(localStorage.getItem(STORE_KEY) || "{}"); } catch { return memory; }
  }
  function save() {
    try { localStorage.setItem(STORE_KEY, JSON.stringify(state.saved)); } catch { Object.assign(memory, state.saved); }
  }
  const uid = () => (crypto.randomUUID ? crypto.randomUUID() : Date.now().toString(36) + Math.random().toString(36).slice(2));

  const state = {
    // saved: {visitorId, conversationId, token, outbox: [{id, text}], open, ratedSeq, draft}
    saved: Object.assign({ outbox: [] }, load()),
    conversation: null,   // last Conversation object from the server
    lastSeq: 0,           // highest seq rendered
    rendered: new Map(),  // seq -> element
    agent: null,          // {display_name, role} of the person answering
    position: null,       // queue position while waiting
    estimate: null,       // estimated wait in seconds (null: no history, say nothing)
    waitSeq: null, keptWaiting: false, // the "waited too long" message, and the visitor's choice to stay
    availability: null,   // GET /api/availability body
    socket: null, socketOpen: false, availSocket: null, availTimer: null, availAsked: 0, retries: 0, pollTimer: null, reconnectTimer: null,
    flushing: false, flushTimer: null, flushDelay: 1000,
    // what the trailing card at the end of the log shows (see renderTrailing)
    rateSeq: null, ratedNow: false, offerSeq: null, offlineSeq: null, showOffline: false, offlineDone: false,
    unread: 0, started: false, pageUrl: null, buttonTitles: new Map(),
    typingSentAt: 0, typingStopTimer: null, agentTypingTimer: null,
  };

  // Events for the host page; a listener that throws does not break the widget.
  const events = new EventTarget();
  const emit = (type, detail) => { try { events.dispatchEvent(new CustomEvent(type, { detail })); } catch { /* the page's bug */ } };

  // ---------------------------------------------------------------- HTTP
  async function api(method, path, body, auth = true) {
    const headers = { "Content-Type": "application/json" };
    if (auth && state.saved.token) headers.Authorization = "Bearer " + state.saved.token;
    let response;
    try {
      response = await fetch(SERVICE + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "omit" });
    } catch (err) {
      throw Object.assign(new Error("network"), { status: 0 });
    }
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const message = (data && data.error && data.error.message) || response.statusText;
      throw Object.assign(new Error(message), { status: response.status, data });
    }
    return data;
  }

  // ---------------------------------------------------------------- DOM helpers
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  // URLs in remote text become <a> elements built with textContent; everything
  // else stays a text node. Trailing punctuation is not part of the link.
  const URL_RE = /\bhttps?:\/\/[^\s<>"']+/gi;
  function linkify(text) {
    const fragment = document.createDocumentFragment();
    let last = 0;
    for (const match of text.matchAll(URL_RE)) {
      let url = match[0];
      const trail = url.match(/[.,;:!?)\]]+$/);
      if (trail) url = url.slice(0, -trail[0].length);
      let href;
      try { href = new URL(url); } catch { continue; }
      if (href.protocol !== "http:" && href.protocol !== "https:") continue;
      fragment.append(document.createTextNode(text.slice(last, match.index)));
      fragment.append(el("a", { href: href.href, target: "_blank", rel: "noopener noreferrer", text: url }));
      last = match.index + url.length;
    }
    fragment.append(document.createTextNode(text.slice(last)));
    return fragment;
  }

  let timeFormat = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit" });
  function timeEl(iso) {
    const date = iso ? new Date(iso) : new Date();
    return el("time", { class: "time", datetime: date.toISOString(), text: timeFormat.format(date) });
  }

  // ---------------------------------------------------------------- styles
  // Phone width: the panel takes the whole screen and keeps the focus inside it.
  // In em, so that a user's larger default text size gets the phone layout sooner.
  const PHONE = "(max-width: 30em)";
  // Sizes are in em of .root, whose size follows the user's font size (rem) but never
  // goes below 15px (host pages often shrink their root: `html { font-size: 62.5% }`).
  // Focus is a two-tone ring (white inside, ink outside): visible on any background,
  // the brand-coloured header and buttons included. Its rule comes last, so that no
  // component's own box-shadow hides it.
  const STYLES = `
:host { all: initial !important; display: block !important; position: fixed !important; z-index: 2147483000 !important;
  right: 0 !important; bottom: 0 !important; width: 0 !important; height: 0 !important; overflow: visible !important;
  visibility: visible !important; opacity: 1 !important; transform: none !important; }
.root { --brand: ${BRAND_COLOR}; --ink: #1d2327; --muted: #5f6b73; --bg: #fff; --soft: #f1f4f5; --line: #d9dfe2; --field: #767f85;
  font: 15px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; font-size: max(15px, .9375rem); color: var(--ink); }
*, *::before, *::after { box-sizing: border-box; }
button, input, textarea { font: inherit; color: inherit; }
button { cursor: pointer; }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.launcher { position: fixed; right: 20px; bottom: 20px; width: 60px; height: 60px; border-radius: 50%; border: 0;
  background: var(--brand); color: #fff; box-shadow: 0 4px 14px rgba(0,0,0,.25); display: grid; place-items: center; }
.launcher svg { width: 28px; height: 28px; fill: currentColor; }
.badge { position: absolute; top: -4px; right: -4px; min-width: 1.84em; padding: 0 .5em; border-radius: 1em;
  background: #c62828; color: #fff; font-size: .8em; line-height: 1.84em; font-weight: 700; }
.badge[hidden] { display: none; }
.panel { position: fixed; right: 20px; bottom: 92px; width: min(24.7em, calc(100vw - 40px)); height: min(40em, calc(100vh - 112px));
  display: flex; flex-direction: column; background: var(--bg); border-radius: 14px; overflow: hidden; overflow: clip;
  box-shadow: 0 10px 40px rgba(0,0,0,.28); }
.panel[hidden] { display: none; }
header { background: var(--brand); color: #fff; padding: .8em .93em; display: flex; align-items: center; gap: .67em; }
header .who { flex: 1; min-width: 0; overflow-wrap: anywhere; }
header h2 { margin: 0; font-size: 1.067em; font-weight: 700; }
header p { margin: 2px 0 0; font-size: .867em; opacity: .92; }
.icon { background: transparent; border: 0; color: inherit; width: 1.5em; height: 1.5em; border-radius: 8px; font-size: 1.5em; line-height: 1; flex: none; }
.notice { margin: 0; padding: .5em .93em; font-size: .833em; background: #fff8e1; border-bottom: 1px solid #f0e0a8; }
.notice[hidden], .status[hidden], .typing[hidden], .actions[hidden] { display: none; }
.status { margin: 0; padding: .4em .93em; font-size: .867em; background: var(--soft); border-bottom: 1px solid var(--line); }
.log { flex: 1; overflow-y: auto; padding: .8em; display: flex; flex-direction: column; gap: .53em; background: var(--bg); }
.msg { max-width: 85%; display: flex; flex-direction: column; gap: 2px; }
.msg .bubble { padding: .53em .73em; border-radius: .93em; background: var(--soft); white-space: pre-wrap; overflow-wrap: anywhere; }
.msg .meta { font-size: .767em; color: var(--muted); display: flex; gap: 6px; }
.msg.visitor { align-self: flex-end; align-items: flex-end; }
.msg.visitor .bubble { background: var(--brand); color: #fff; }
.msg.visitor .bubble a { color: #fff; }
.msg.ambassador .bubble, .msg.advisor .bubble { background: #e6f0ff; }
.msg.pending .bubble { background: #fff; color: var(--ink); border: 1px dashed var(--field); }
.msg.failed .bubble { outline: 2px solid #c62828; }
.msg.system { align-self: center; max-width: 95%; text-align: center; }
.msg.system .bubble { background: transparent; color: var(--muted); font-size: .867em; padding: 2px 6px; }
.msg.system .meta { justify-content: center; }
.author { font-size: .8em; font-weight: 600; color: var(--muted); }
a { color: var(--brand); }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 4px; }
.chip { border: 1px solid var(--brand); color: var(--brand); background: #fff; border-radius: 1.2em; padding: .37em .89em; font-size: .9em; }
.chip:hover { background: var(--soft); }
.card { align-self: stretch; border: 1px solid var(--line); border-radius: .8em; padding: .8em; background: #fafbfb;
  display: flex; flex-direction: column; gap: .53em; }
.card p { margin: 0; }
.card label { font-size: .867em; font-weight: 600; display: flex; flex-direction: column; gap: 3px; }
.card input[type=email], .card textarea { border: 1px solid var(--field); border-radius: 8px; padding: .47em .6em; background: #fff; width: 100%; }
.card .error { color: #c62828; font-size: .867em; }
.primary { background: var(--brand); color: #fff; border: 0; border-radius: 8px; padding: .53em .93em; font-weight: 600; }
.primary:disabled { opacity: .5; cursor: default; }
.stars { display: flex; gap: 2px; border: 0; padding: 0; margin: 0; position: relative; }
.stars input { position: absolute; left: 0; top: 0; opacity: 0; width: 1px; height: 1px; margin: 0; }
.secondary { background: #fff; color: var(--brand); border: 1px solid var(--brand); border-radius: 8px; padding: .47em .93em; font-weight: 600; }
.compose-error { margin: 0; padding: .4em .93em 0; font-size: .867em; color: #c62828; }
.compose-error[hidden] { display: none; }
.stars label { font-size: 1.867em; color: var(--field); cursor: pointer; line-height: 1; border-radius: 4px; }
.stars:has(:checked) label { color: #a65c00; }
.stars :checked + label ~ label { color: var(--field); }
.stars:has(label:hover) label { color: #a65c00; }
.stars label:hover ~ label { color: var(--field); }
.typing { padding: 0 .93em .4em; font-size: .833em; color: var(--muted); font-style: italic; }
.actions { display: flex; flex-wrap: wrap; gap: 6px; padding: .53em .8em 0; border-top: 1px solid var(--line); }
form.compose { display: flex; gap: .53em; padding: .67em .8em .8em; align-items: flex-end; }
.compose textarea, .card input[type=email], .card textarea { font-size: max(16px, 1em); }
.compose textarea { flex: 1; min-width: 0; resize: none; border: 1px solid var(--field); border-radius: .67em; padding: .6em .73em; max-height: 8em; min-height: 2.8em; background: #fff; }
.compose button { width: 2.8em; height: 2.8em; flex: none; border-radius: 50%; border: 0; background: var(--brand); color: #fff; display: grid; place-items: center; }
.compose svg { width: 1.33em; height: 1.33em; fill: currentColor; }
.conn { margin: 0; padding: .33em .93em; font-size: .833em; background: #fdecea; color: #8a1c1c; }
.conn[hidden] { display: none; }
@media ${PHONE} {
  .panel { right: 0; bottom: 0; width: 100vw; height: 100vh; height: 100dvh; border-radius: 0; }
  .launcher.is-open { display: none; }
}
:focus-visible, .stars input:focus-visible + label { outline: 3px solid var(--ink); outline-offset: 2px; box-shadow: 0 0 0 2px #fff; }
.log:focus-visible { outline-offset: -3px; box-shadow: none; }
@media (prefers-reduced-motion: no-preference) { .panel { animation: pop .16s ease-out; } }
@keyframes pop { from { transform: translateY(12px); opacity: 0; } }
`;

  // ---------------------------------------------------------------- building the widget
  const host = document.createElement("div");
  host.id = "relais-widget";
  // Inline !important beats the host page's stylesheet !important (`* {display:none !important}`).
  host.setAttribute("style", "display:block !important;position:fixed !important;right:0 !important;bottom:0 !important;width:0 !important;height:0 !important;z-index:2147483000 !important;visibility:visible !important");
  const shadow = host.attachShadow({ mode: "open" });
  const style = document.createElement("style");
  style.textContent = STYLES;

  const ICON_CHAT = "M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";
  const ICON_SEND = "M3 20l18-8L3 4v6l12 2-12 2z";
  const svg = (d) => {
    const s = document.createElementNS("http://www.w3.org/2000/svg", "svg");
    s.setAttribute("viewBox", "0 0 24 24");
    s.setAttribute("aria-hidden", "true");
    const p = document.createElementNS("http://www.w3.org/2000/svg", "path");
    p.setAttribute("d", d);
    s.append(p);
    return s;
  };

  const ui = {};
  ui.badge = el("span", { class: "badge", hidden: true, "aria-hidden": "true" });
  ui.launcher = el("button", { class: "launcher", type: "button", "aria-label": t("open"), "aria-expanded": "false", "aria-controls": "relais-panel", onclick: () => toggle() }, svg(ICON_CHAT), ui.badge);
  ui.title = el("h2", { id: "relais-title", text: BRAND });
  ui.subtitle = el("p", { class: "subtitle", text: t("assistant") });
  ui.closeBtn = el("button", { class: "icon", type: "button", "aria-label": t("close"), onclick: () => toggle(false), text: "×" });
  ui.notice = el("p", { class: "notice", hidden: true, role: "note", text: t("disclosure", { brand: BRAND }) });
  ui.status = el("p", { class: "status", hidden: true, role: "status" });
  ui.conn = el("p", { class: "conn", hidden: true, role: "status", text: t("offline") });
  ui.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions", "aria-label": t("messages"), tabindex: "0" });
  ui.typing = el("div", { class: "typing", hidden: true, "aria-live": "polite" });
  ui.actions = el("div", { class: "actions", hidden: true });
  // No maxlength: the browser would cut a pasted text silently; a message too long is explained instead.
  ui.input = el("textarea", { id: "relais-input", rows: "1", placeholder: t("placeholder"), autocomplete: "off", "aria-describedby": "relais-compose-error" });
  ui.sendBtn = el("button", { type: "submit", "aria-label": t("send") }, svg(ICON_SEND));
  ui.inputLabel = el("label", { class: "sr", for: "relais-input", text: t("inputLabel") });
  ui.composeError = el("p", { class: "compose-error", id: "relais-compose-error", role: "alert", hidden: true });
  ui.form = el("form", { class: "compose" }, ui.inputLabel, ui.input, ui.sendBtn);
  ui.panel = el("section", { class: "panel", id: "relais-panel", role: "dialog", "aria-labelledby": "relais-title", hidden: true, lang: LANG },
    // role=none: the panel's header is not a second banner landmark on the host page.
    el("header", { role: "none" }, el("div", { class: "who" }, ui.title, ui.subtitle), ui.closeBtn),
    ui.notice, ui.status, ui.conn, ui.log, ui.typing, ui.actions, ui.composeError, ui.form);
  const root = el("div", { class: "root", lang: LANG }, ui.launcher, ui.panel);

  // The fixed texts again, in another language (RelaisWidget.setLanguage).
  function applyTexts() {
    root.lang = ui.panel.lang = LANG;
    timeFormat = new Intl.DateTimeFormat(LANG, { hour: "2-digit", minute: "2-digit" });
    ui.closeBtn.setAttribute("aria-label", t("close"));
    ui.notice.textContent = t("disclosure", { brand: BRAND });
    ui.conn.textContent = t("offline");
    ui.log.setAttribute("aria-label", t("messages"));
    ui.input.placeholder = t("placeholder");
    ui.inputLabel.textContent = t("inputLabel");
    ui.sendBtn.setAttribute("aria-label", t("send"));
    const welcome = ui.log.querySelector("[data-welcome] .bubble");
    if (welcome) welcome.textContent = t("welcome");
    if (!ui.composeError.hidden) checkLength();
    const old = ui.log.querySelector("[data-trailing]");
    if (old) old.remove(); // rebuilt in the new language
    renderBadge();
    renderHeader();
  }
  shadow.append(style, root);

  // ---------------------------------------------------------------- open / close
  function toggle(open = ui.panel.hidden, focus = true) {
    ui.panel.hidden = !open;
    ui.launcher.setAttribute("aria-expanded", String(open));
    ui.launcher.setAttribute("aria-label", open ? t("close") : t("open"));
    ui.launcher.classList.toggle("is-open", open);
    state.saved.open = open;
    save();
    if (open) {
      state.unread = 0;
      renderBadge();
      refreshAvailability();
      watchAvailability();
      scrollDown();
      if (focus) ui.input.focus();
    } else if (focus) {
      ui.launcher.focus();
    }
    if (!open) unwatchAvailability();
    emit(open ? "opened" : "closed", {});
  }
  // Full screen on a phone, the panel is modal: Tab and Shift+Tab cycle inside it.
  const phone = window.matchMedia(PHONE);
  const setModal = () => ui.panel.setAttribute("aria-modal", String(phone.matches));
  setModal();
  phone.addEventListener("change", setModal);
  ui.panel.addEventListener("keydown", (e) => {
    if (e.key === "Escape") return toggle(false);
    if (e.key !== "Tab" || !phone.matches) return;
    const items = [...ui.panel.querySelectorAll("button, a[href], input, textarea, [tabindex='0']")]
      .filter((n) => !n.disabled && n.getClientRects().length);
    const edge = e.shiftKey ? items[0] : items[items.length - 1];
    if (shadow.activeElement === edge) { e.preventDefault(); (e.shiftKey ? items[items.length - 1] : items[0]).focus(); }
  });

  function renderBadge() {
    ui.badge.hidden = state.unread === 0;
    ui.badge.textContent = String(state.unread);
    ui.launcher.setAttribute("aria-label", (ui.panel.hidden ? t("open") : t("close")) + (state.unread ? " — " + t("unread", { n: state.unread }) : ""));
  }

  function scrollDown() { ui.log.scrollTop = ui.log.scrollHeight; }

  // ---------------------------------------------------------------- rendering messages
  // A name inside a sentence is bidi-isolated (FSI…PDI): whatever it holds cannot reorder the words around it.
  const isolate = (name) => `\u2068${name}\u2069`;

  function authorName(message) {
    const kind = message.sender_kind;
    if (kind === "bot") return t("assistant");
    if (kind === "ambassador" || kind === "advisor") {
      const name = (message.data && message.data.display_name) || (state.agent && state.agent.display_name) || t("someone");
      return `${isolate(name)} · ${kind === "ambassador" ? t("community") : t("advisor")}`;
    }
    return null;
  }

  // Confirmed messages are kept in seq order; pending ("sending") ones stay below them.
  function insertConfirmed(node, seq) {
    let before = null;
    for (const child of ui.log.children) {
      const childSeq = Number(child.dataset.seq || 0);
      if (child.classList.contains("pending") || child.dataset.trailing || (childSeq && childSeq > seq)) { before = child; break; }
    }
    ui.log.insertBefore(node, before);
  }

  // `lastSeq` is where the server resumes (`after=`), so it moves only over what came in
  // order: the socket and the catch-up deliver in order; an answer to our own POST may
  // come past messages we have not seen (sent while we were offline): it is shown, and
  // the gap before it fetched.
  function renderMessage(message, inOrder = true) {
    if (!message) return;
    drawMessage(message);
    if (inOrder || message.seq <= state.lastSeq + 1) {
      const before = state.lastSeq;
      state.lastSeq = Math.max(state.lastSeq, message.seq);
      while (state.rendered.has(state.lastSeq + 1)) state.lastSeq += 1;
      if (state.lastSeq !== before) renderTrailing(); // it depends on the last seq
    } else {
      catchUp().catch(() => {});
    }
  }

  function drawMessage(message) {
    if (state.rendered.has(message.seq)) return;
    const kind = message.sender_kind;
    const data = message.data || {};
    const node = el("div", { class: `msg ${kind}`, "data-seq": String(message.seq), "data-sender": kind });
    const author = authorName(message);
    const previous = [...state.rendered.values()].pop();
    if (author && !(previous && previous.dataset.sender === kind && previous.dataset.author === author)) {
      node.append(el("span", { class: "author", text: author }));
    }
    if (author) node.dataset.author = author;
    let text = message.text || "";
    if (kind === "visitor" && state.buttonTitles.has(text)) text = state.buttonTitles.get(text); // "/affirm" → "Yes"
    const bubble = el("div", { class: "bubble" });
    bubble.append(linkify(text));
    if (text) node.append(bubble);
    if (Array.isArray(data.buttons) && data.buttons.length) {
      const chips = el("div", { class: "chips" });
      for (const b of data.buttons) {
        if (!b || typeof b.title !== "string") continue;
        state.buttonTitles.set(String(b.payload || b.title), b.title);
        chips.append(el("button", { class: "chip", type: "button", text: b.title, onclick: () => send(String(b.payload || b.title)) }));
      }
      node.append(chips);
    }
    node.append(el("div", { class: "meta" }, kind === "visitor" ? el("span", { class: "sr", text: t("you") }) : null, timeEl(message.created_at)));

    // A pending copy of this very message (same client_msg_id) is replaced in place.
    if (message.client_msg_id) {
      const pending = ui.log.querySelector(`.msg.pending[data-client-id="${CSS_escape(message.client_msg_id)}"]`);
      if (pending) pending.remove();
      dropFromOutbox(message.client_msg_id);
    }
    insertConfirmed(node, message.seq);
    state.rendered.set(message.seq, node);
    if (kind === "visitor") state.ratedNow = false;
    onEvent(message);
    renderTrailing();
    if (kind !== "visitor") {
      hideAgentTyping();
      if (ui.panel.hidden && state.started) { state.unread += 1; renderBadge(); } // not for the history shown at start
    }
    if (state.started) emit("message", { seq: message.seq, sender_kind: kind, text: message.text || "", created_at: message.created_at });
    scrollDown();
  }
  const CSS_escape = (s) => (window.CSS && window.CSS.escape ? window.CSS.escape(s) : String(s).replace(/["\\]/g, "\\$&"));

  // What system messages and agent messages tell us about who is answering.
  function onEvent(message) {
    const data = message.data || {};
    if ((message.sender_kind === "ambassador" || message.sender_kind === "advisor") && data.display_name) {
      state.agent = { display_name: data.display_name, role: data.role || message.sender_kind };
    }
    if (message.sender_kind !== "system") return;
    if (data.event === "queued") {
      if (typeof data.position === "number") state.position = data.position;
      state.estimate = typeof data.estimated_wait_seconds === "number" ? data.estimated_wait_seconds : null;
      state.waitSeq = null; state.keptWaiting = false;
    }
    if (data.event === "waited_too_long") state.waitSeq = message.seq; // the choice: keep waiting or leave a message
    if (data.event === "assigned" && data.agent) { state.agent = data.agent; state.position = null; }
    if (data.event === "closed" && data.rate && message.seq > (state.saved.ratedSeq || 0)) state.rateSeq = message.seq;
    if (data.event === "assigned" || data.event === "queued") state.rateSeq = null;
    if (data.offer_handoff) state.offerSeq = message.seq;
    if (data.offline_form && data.event !== "waited_too_long") { state.offlineSeq = message.seq; state.offlineDone = false; }
    renderHeader();
  }

  function renderPending(item) {
    let node = ui.log.querySelector(`.msg.pending[data-client-id="${CSS_escape(item.id)}"]`);
    if (!node) {
      node = el("div", { class: "msg visitor pending", "data-client-id": item.id, "data-sender": "visitor" });
      const bubble = el("div", { class: "bubble" });
      bubble.append(linkify(state.buttonTitles.get(item.text) || item.text));
      node.append(bubble, el("div", { class: "meta" }, el("span", { class: "state", text: t("sending") })));
      const trailing = ui.log.querySelector("[data-trailing]");
      ui.log.insertBefore(node, trailing);
    }
    const meta = node.querySelector(".state");
    node.classList.toggle("failed", Boolean(item.failed));
    meta.textContent = item.failed ? t("failed") + " " : t("sending");
    if (item.failed) {
      meta.append(el("button", { class: "chip", type: "button", text: t("retry"), onclick: () => { item.failed = false; save(); renderPending(item); flush(); } }));
    }
    scrollDown();
  }

  // ---------------------------------------------------------------- header, status and action cards
  function status() { return state.conversation ? state.conversation.status : "bot"; }

  function renderHeader() {
    const s = status();
    const agent = state.agent;
    if (s === "assigned" && agent) {
      ui.subtitle.textContent = `${isolate(agent.display_name)} · ${agent.role === "ambassador" ? t("community") : t("advisor")}`;
    } else if (s === "waiting") {
      ui.subtitle.textContent = t("finding");
    } else {
      ui.subtitle.textContent = t("assistant");
    }
    ui.notice.hidden = !(s === "assigned" && agent && agent.role === "ambassador");
    ui.status.hidden = !(s === "waiting" && state.position);
    if (state.position) ui.status.textContent = t("position", { n: state.position }) + estimateText();
    renderActions();
    renderTrailing();
  }

  // "About N minutes." from the server's estimate; nothing without one (no history).
  function estimateText() {
    if (typeof state.estimate !== "number") return "";
    const n = Math.max(1, Math.round(state.estimate / 60));
    return " " + (n === 1 ? t("aboutOne") : t("aboutN", { n }));
  }

  // A re-render must not drop the keyboard focus to the page: the same action again, else the input.
  function keepFocus(container, render) {
    const active = shadow.activeElement;
    const inside = active && container && container.contains(active);
    const action = inside && active.dataset.action;
    render();
    if (!inside || active.isConnected && active.getClientRects().length || ui.panel.hidden) return;
    const again = action && [...ui.panel.querySelectorAll(`[data-action="${action}"]`)].find((n) => n.getClientRects().length);
    (again || ui.input).focus();
  }

  function enough(pool) {
    const a = state.availability;
    if (!a || !a.pools || !a.pools[pool]) return false;
    if (MIN_AVAILABLE && Number.isFinite(MIN_AVAILABLE[pool])) return a.pools[pool].available >= MIN_AVAILABLE[pool];
    return Boolean(a.pools[pool].enough);
  }

  // "Talk to the community / an advisor" while the bot holds the conversation; the
  // offline form instead when not enough people are available.
  function handoffButtons() {
    const row = [];
    if (enough("ambassador")) row.push(el("button", { class: "chip", type: "button", "data-action": "talk-community", text: t("talkCommunity"), onclick: () => askForHuman("ambassador") }));
    if (enough("advisor")) row.push(el("button", { class: "chip", type: "button", "data-action": "talk-person", text: t("talkPerson"), onclick: () => askForHuman("advisor") }));
    if (!row.length) row.push(el("button", { class: "chip", type: "button", "data-action": "leave-message", text: t("leaveMessage"), onclick: () => { state.showOffline = true; renderTrailing(); ui.log.querySelector("[data-kind=offline] input").focus(); } }));
    return row;
  }

  function renderActions() {
    keepFocus(ui.actions, () => {
      const s = status();
      ui.actions.replaceChildren();
      const show = state.availability && ["bot", "closed", "offline_message"].includes(s) && !state.showOffline;
      ui.actions.hidden = !show;
      if (show) ui.actions.append(...handoffButtons());
    });
  }

  // The trailing card at the end of the log: handoff offer, offline form or rating.
  function renderTrailing() {
    const old = ui.log.querySelector("[data-trailing]");
    keepFocus(old, () => renderTrailingCard(old));
  }
  function renderTrailingCard(old) {
    const s = status();
    let card = null;
    const last = state.lastSeq;
    if (state.ratedNow) {
      card = el("div", { class: "card", role: "status", "data-kind": "thanks" }, el("p", { text: t("rateThanks") }));
    } else if (state.offlineDone) {
      card = null;
    } else if (state.rateSeq && s !== "assigned" && s !== "waiting") {
      card = ratingCard();
    } else if (s === "waiting" && state.showOffline) { // chosen after a long wait: the place in line is kept until it is sent
      card = offlineCard();
    } else if (s === "waiting" && state.waitSeq && !state.keptWaiting) {
      card = waitChoiceCard();
    } else if ((state.showOffline || (state.offlineSeq && state.offlineSeq === last)) && s !== "assigned" && s !== "offline_message" && s !== "waiting") {
      card = offlineCard();
    } else if (state.offerSeq && state.offerSeq === last && (s === "bot" || s === "closed")) {
      card = el("div", { class: "card", "data-kind": "offer" }, el("div", { class: "chips" }, ...handoffButtons()));
    }
    // A form being filled in stays as it is (re-rendering would lose what is typed).
    if (old && card && old.dataset.kind === card.dataset.kind && ["offline", "rating", "thanks"].includes(card.dataset.kind)) return;
    if (old) old.remove();
    if (card) {
      card.dataset.trailing = "1";
      ui.log.append(card);
      scrollDown();
    }
  }

  // After routing.max_wait_seconds: stay in line, or leave a message (which ends the wait).
  function waitChoiceCard() {
    return el("div", { class: "card", role: "group", "aria-label": t("waitChoice"), "data-kind": "wait" },
      el("div", { class: "chips" },
        el("button", { class: "chip", type: "button", "data-action": "keep-waiting", text: t("keepWaiting"), onclick: keepWaiting }),
        el("button", { class: "chip", type: "button", "data-action": "wait-leave-message", text: t("leaveMessage"), onclick: () => {
          state.showOffline = true; renderTrailing(); ui.log.querySelector("[data-kind=offline] input").focus();
        } })));
  }
  function keepWaiting() {
    state.keptWaiting = true; state.showOffline = false;
    renderTrailing();
    ui.input.focus();
  }

  function offlineCard() {
    const email = el("input", { type: "email", name: "email", required: true, autocomplete: "email", maxlength: "254" });
    const question = el("textarea", { name: "question", required: true, rows: "3", maxlength: String(MAX_TEXT) });
    const error = el("p", { class: "error", role: "alert" });
    const submit = el("button", { class: "primary", type: "submit", text: t("submit") });
    // novalidate: our own messages, in the widget's language, rather than the browser's bubbles.
    const back = status() === "waiting" ? el("button", { class: "secondary", type: "button", "data-action": "keep-waiting", text: t("keepWaiting"), onclick: keepWaiting }) : null;
    const form = el("form", { class: "card", "data-kind": "offline", "aria-label": t("leaveMessage"), novalidate: true },
      el("p", { text: t("offlineIntro") }),
      el("label", {}, t("email"), email), el("label", {}, t("question"), question), error, submit, back);
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      error.textContent = "";
      if (!/^[^@\s]+@[^@\s]+\.[^@\s]{2,}$/.test(email.value.trim())) { error.textContent = t("badEmail"); email.focus(); return; }
      if (!question.value.trim()) { question.focus(); return; }
      submit.disabled = true;
      try {
        await ensureConversation();
        const body = await api("POST", `/api/visitor/conversations/${state.saved.conversationId}/offline-message`, { email: email.value.trim(), text: question.value.trim() });
        state.showOffline = false; state.offlineDone = true;
        setConversation(body.conversation);
        renderMessage(body.message, false);
        await catchUp();
        ui.input.focus();
      } catch (err) {
        error.textContent = err.status === 400 ? t("badEmail") : t("error");
        submit.disabled = false;
      }
    });
    form.dataset.kind = "offline";
    return form;
  }

  function ratingCard() {
    const name = "relais-rating";
    const stars = el("fieldset", { class: "stars" }, el("legend", { class: "sr", text: t("rateTitle") }));
    for (let n = 1; n <= 5; n++) {
      const id = `relais-star-${n}`;
      stars.append(el("input", { type: "radio", name, id, value: String(n) }), el("label", { for: id, "aria-label": t("stars", { n }), title: t("stars", { n }), text: "★" }));
    }
    // Arrows move the rating itself: right and up raise it, left and down lower it.
    stars.addEventListener("keydown", (e) => {
      const step = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[e.key];
      if (!step) return;
      e.preventDefault();
      const from = stars.querySelector("input:checked") || (e.target.matches("input") ? e.target : null); // none chosen yet: from the focused star
      const next = stars.querySelector(`input[value="${Math.min(5, Math.max(1, (from ? Number(from.value) : 0) + step))}"]`);
      next.checked = true;
      next.focus({ preventScroll: true });
    });
    const comment = el("textarea", { name: "comment", rows: "2", maxlength: "2000" });
    const error = el("p", { class: "error", role: "alert" });
    const submit = el("button", { class: "primary", type: "submit", text: t("rateSend") });
    const form = el("form", { class: "card", "aria-label": t("rateTitle"), novalidate: true }, el("p", { text: t("rateTitle") }), stars, el("label", {}, t("comment"), comment), error, submit);
    form.dataset.kind = "rating";
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const chosen = form.querySelector("input[type=radio]:checked");
      if (!chosen) { form.querySelector("input[type=radio]").focus(); return; }
      submit.disabled = true;
      try {
        const body = { rating: Number(chosen.value) };
        if (comment.value.trim()) body.comment = comment.value.trim();
        const answer = await api("POST", `/api/visitor/conversations/${state.saved.conversationId}/rating`, body);
        state.saved.ratedSeq = state.rateSeq; state.rateSeq = null; state.ratedNow = true;
        save();
        setConversation(answer.conversation);
        ui.input.focus();
      } catch (err) {
        error.textContent = t("error");
        submit.disabled = false;
      }
    });
    return form;
  }

  function setConversation(conversation) {
    if (!conversation) return;
    const before = state.conversation && state.conversation.status;
    state.conversation = conversation;
    if (conversation.status !== "waiting") { state.position = null; state.estimate = null; state.showOffline = state.showOffline && conversation.status !== "offline_message"; }
    if (state.started && before !== conversation.status && [before, conversation.status].some((x) => x === "waiting" || x === "assigned")) {
      emit("handoff", { status: conversation.status, previous: before || null, position: state.position, agent: conversation.status === "assigned" ? state.agent : null });
    }
    if (conversation.status === "assigned" && before !== "assigned") state.ratedNow = false;
    if (conversation.status === "offline_message") state.offlineDone = true;
    renderHeader();
  }

  // ---------------------------------------------------------------- conversation lifecycle
  async function ensureConversation() {
    if (state.saved.conversationId && state.saved.token) return;
    const body = await api("POST", "/api/visitor/conversations", { language: LANG, page_url: location.href, visitor_id: state.saved.visitorId || undefined }, false);
    Object.assign(state.saved, { conversationId: body.conversation_id, token: body.visitor_token, visitorId: body.visitor_id, ratedSeq: 0 });
    save();
    state.pageUrl = location.href;
    setConversation(body.conversation);
    connect();
  }

  function forgetConversation() {
    // The token no longer works (conversation purged, store reset): start afresh, keep visitor_id.
    Object.assign(state.saved, { conversationId: null, token: null, ratedSeq: 0 });
    save();
    closeSocket();
    state.conversation = null; state.lastSeq = 0; state.rendered.clear(); state.agent = null;
    for (const node of [...ui.log.querySelectorAll(".msg:not(.pending)")]) node.remove();
  }

  // Fetch what we have not seen yet (after a reload, or while the socket is down).
  async function catchUp() {
    if (!state.saved.conversationId) return;
    for (let guard = 0; guard < 50; guard++) {
      const body = await api("GET", `/api/visitor/conversations/${state.saved.conversationId}/messages?after=${state.lastSeq}`);
      body.messages.forEach((message) => renderMessage(message));
      setConversation(body.conversation);
      if (!body.messages.length || state.lastSeq >= body.conversation.last_seq) break;
    }
  }

  // ---------------------------------------------------------------- sending (outbox)
  // Every message gets a client_msg_id and stays in a persisted outbox until the
  // server acknowledges it; the server deduplicates retries by that id.
  function send(text) {
    text = text.trim();
    if (!text) return;
    const item = { id: uid(), text };
    state.saved.outbox.push(item);
    save();
    renderPending(item);
    stopTyping();
    flush();
  }

  function dropFromOutbox(id) {
    const before = state.saved.outbox.length;
    state.saved.outbox = state.saved.outbox.filter((i) => i.id !== id);
    if (state.saved.outbox.length !== before) save();
  }

  async function flush() {
    if (state.flushing) return;
    state.flushing = true;
    clearTimeout(state.flushTimer);
    try {
      while (state.saved.outbox.length) {
        const item = state.saved.outbox.find((i) => !i.failed);
        if (!item) break;
        try {
          await ensureConversation();
          const body = await api("POST", `/api/visitor/conversations/${state.saved.conversationId}/messages`, { text: item.text, client_msg_id: item.id });
          renderMessage(body.message, false);
          (body.replies || []).forEach((reply) => renderMessage(reply, false));
          setConversation(body.conversation);
          dropFromOutbox(item.id);
          state.flushDelay = 1000;
        } catch (err) {
          // The stored conversation is gone (401/403/404): start a new one, once per message.
          if ([401, 403, 404].includes(err.status) && state.saved.conversationId && !item.restarted) {
            item.restarted = true; forgetConversation(); continue;
          }
          if (err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) {
            item.failed = true; save(); renderPending(item); continue;
          }
          // Network down or server error: keep it, retry with backoff (or as soon as we are online).
          state.flushTimer = setTimeout(flush, state.flushDelay);
          state.flushDelay = Math.min(state.flushDelay * 2, 15000);
          break;
        }
      }
    } finally {
      state.flushing = false;
    }
  }

  async function askForHuman(pool) {
    try {
      await ensureConversation();
      const body = await api("POST", `/api/visitor/conversations/${state.saved.conversationId}/handoff`, { pool });
      if (typeof body.position === "number") state.position = body.position;
      state.estimate = typeof body.estimated_wait_seconds === "number" ? body.estimated_wait_seconds : null;
      setConversation(body.conversation);
      await catchUp();
    } catch (err) {
      if (err.status === 409) await catchUp().catch(() => {});
    }
    // The button that was pressed is gone with the re-render: the focus goes back to the input.
    if (!shadow.activeElement && !ui.panel.hidden) ui.input.focus();
  }

  async function refreshAvailability() {
    const asked = ++state.availAsked;
    try {
      const body = await api("GET", "/api/availability", undefined, false);
      if (asked !== state.availAsked) return; // a pushed frame came meanwhile: it is newer
      state.availability = body;
      renderHeader();
    } catch { /* keep the last answer */ }
  }
  function pushedAvailability(pools) {
    state.availAsked++;
    state.availability = { pools };
    renderHeader();
  }

  // ---------------------------------------------------------------- typing
  function sendTyping(typing) {
    if (!state.saved.conversationId || !["waiting", "assigned"].includes(status())) return;
    if (state.socketOpen) {
      state.socket.send(JSON.stringify({ type: "typing", conversation_id: state.saved.conversationId, typing }));
    } else {
      api("POST", `/api/visitor/conversations/${state.saved.conversationId}/typing`, { typing }).catch(() => {});
    }
  }
  function onInput() {
    state.saved.draft = ui.input.value;
    save();
    const now = Date.now();
    if (now - state.typingSentAt > 3000) { state.typingSentAt = now; sendTyping(true); }
    clearTimeout(state.typingStopTimer);
    state.typingStopTimer = setTimeout(stopTyping, 4000);
  }
  function stopTyping() {
    clearTimeout(state.typingStopTimer);
    if (state.typingSentAt) { state.typingSentAt = 0; sendTyping(false); }
  }
  function showAgentTyping(kind, typing) {
    if (kind === "visitor") return;
    clearTimeout(state.agentTypingTimer);
    if (!typing) return hideAgentTyping();
    const who = state.agent ? isolate(state.agent.display_name) : kind === "bot" ? t("assistant") : t("someone");
    ui.typing.textContent = t("typing", { who });
    ui.typing.hidden = false;
    state.agentTypingTimer = setTimeout(hideAgentTyping, 8000); // a lost "typing: false" must not stick
  }
  function hideAgentTyping() { ui.typing.hidden = true; }

  // ---------------------------------------------------------------- realtime
  function connect() {
    if (!state.saved.conversationId || state.socket) return;
    unwatchAvailability();
    if (!navigator.onLine) return scheduleReconnect(); // the "online" event reconnects at once
    clearTimeout(state.reconnectTimer);
    const url = new URL(SERVICE + "/ws/visitor");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    // No credentials in the URL (URLs end up in logs): the first frame authenticates.
    const auth = { type: "auth", conversation_id: state.saved.conversationId, token: state.saved.token, after: state.lastSeq };
    let socket;
    try { socket = new WebSocket(url.href); } catch { return scheduleReconnect(); }
    state.socket = socket;
    let healthy = false;
    socket.onopen = () => { socket.send(JSON.stringify(auth)); state.socketOpen = true; };
    socket.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      // The server always starts with its replay and a `conversation` frame: only a
      // socket that delivers counts as healthy (a proxy may accept, then drop it).
      if (!healthy) {
        healthy = true;
        state.retries = 0;
        ui.conn.hidden = true;
        stopPolling();
        flush();
      }
      if (frame.type === "message") renderMessage(frame.message);
      else if (frame.type === "conversation") setConversation(frame.conversation);
      else if (frame.type === "queue_position") {
        state.position = frame.position;
        state.estimate = typeof frame.estimated_wait_seconds === "number" ? frame.estimated_wait_seconds : null;
        renderHeader();
      }
      else if (frame.type === "availability") pushedAvailability(frame.pools);
      else if (frame.type === "typing") showAgentTyping(frame.sender_kind, frame.typing);
    };
    socket.onclose = () => {
      if (state.socket !== socket) return;
      state.socket = null; state.socketOpen = false;
      scheduleReconnect();
    };
    socket.onerror = () => socket.close();
  }

  // Before the conversation exists, a socket that only tells who can answer (while the panel
  // is open); the conversation's own socket carries it afterwards.
  function watchAvailability() {
    if (state.saved.conversationId || state.availSocket || ui.panel.hidden || !navigator.onLine) return;
    const url = new URL(SERVICE + "/ws/availability");
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try { socket = new WebSocket(url.href); } catch { return; } // the 30-second poll stays
    state.availSocket = socket;
    socket.onmessage = (e) => {
      let frame;
      try { frame = JSON.parse(e.data); } catch { return; }
      if (frame.type === "availability") pushedAvailability(frame.pools);
    };
    socket.onclose = () => {
      if (state.availSocket !== socket) return;
      state.availSocket = null;
      state.availTimer = setTimeout(watchAvailability, 5000);
    };
    socket.onerror = () => socket.close();
  }
  function unwatchAvailability() {
    const socket = state.availSocket;
    state.availSocket = null;
    clearTimeout(state.availTimer);
    if (socket) { socket.onclose = null; socket.close(); }
  }

  function closeSocket() {
    const socket = state.socket;
    state.socket = null; state.socketOpen = false;
    if (socket) { socket.onclose = null; socket.close(); }
  }

  // Exponential backoff with jitter; meanwhile poll over HTTP so nothing is missed.
  function scheduleReconnect() {
    clearTimeout(state.reconnectTimer);
    if (!state.saved.conversationId) return;
    ui.conn.hidden = false;
    startPolling();
    const delay = Math.min(30000, 1000 * 2 ** state.retries) * (0.75 + Math.random() / 2);
    state.retries += 1;
    state.reconnectTimer = setTimeout(connect, delay);
  }
  function startPolling() {
    if (state.pollTimer) return;
    const poll = () => { if (navigator.onLine) catchUp().then(() => flush()).catch(() => {}); };
    state.pollTimer = setInterval(poll, 4000);
    poll();
  }
  function stopPolling() { clearInterval(state.pollTimer); state.pollTimer = null; }

  window.addEventListener("offline", () => { closeSocket(); scheduleReconnect(); });
  window.addEventListener("online", () => {
    state.retries = 0;
    closeSocket();
    connect();
    catchUp().catch(() => {});
    state.flushDelay = 1000;
    flush();
  });
  setInterval(() => { if (state.socketOpen) state.socket.send('{"type":"ping"}'); }, 25000);

  // ---------------------------------------------------------------- page URL
  function syncPage() {
    const url = location.href;
    if (!state.saved.conversationId || url === state.pageUrl) return;
    state.pageUrl = url;
    api("POST", `/api/visitor/conversations/${state.saved.conversationId}/page`, { page_url: url })
      .then((body) => setConversation(body.conversation))
      .catch(() => { state.pageUrl = null; });
  }
  window.addEventListener("popstate", syncPage);
  window.addEventListener("hashchange", syncPage);
  // Single-page apps change the URL with pushState, which fires no event; a cheap
  // check avoids patching the host page's history object.
  setInterval(syncPage, 2000);

  // ---------------------------------------------------------------- composer
  // Over the limit: say so, keep the text in the box, send nothing.
  function checkLength() {
    const n = ui.input.value.trim().length;
    const over = n > MAX_TEXT;
    ui.composeError.hidden = !over;
    ui.composeError.textContent = over ? t("tooLong", { n: n.toLocaleString(LANG), max: MAX_TEXT.toLocaleString(LANG) }) : "";
    if (over) ui.input.setAttribute("aria-invalid", "true"); else ui.input.removeAttribute("aria-invalid");
    return !over;
  }
  ui.form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!checkLength()) { ui.input.focus(); return; }
    const text = ui.input.value;
    ui.input.value = "";
    state.saved.draft = "";
    save();
    send(text);
    ui.input.focus();
  });
  ui.input.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing) { e.preventDefault(); ui.form.requestSubmit(); }
  });
  ui.input.addEventListener("input", onInput);
  ui.input.addEventListener("input", () => { if (!ui.composeError.hidden) checkLength(); });

  // ---------------------------------------------------------------- start
  async function start() {
    document.body.append(host);
    ui.input.value = state.saved.draft || "";
    ui.log.append(el("div", { class: "msg bot", "data-welcome": "1" }, el("span", { class: "author", text: t("assistant") }), el("div", { class: "bubble", text: t("welcome") })));
    for (const item of state.saved.outbox) renderPending(item);
    if (state.saved.open) toggle(true, false); // restored after a reload: do not steal the page's focus
    refreshAvailability();
    // The sockets push `availability` as it changes; without either, a slow poll.
    setInterval(() => { if (!ui.panel.hidden && !state.socketOpen && !state.availSocket && ["bot", "closed"].includes(status())) refreshAvailability(); }, 30000);
    if (state.saved.conversationId) {
      try {
        await catchUp();
        state.pageUrl = state.conversation && state.conversation.page_url;
        syncPage();
      } catch (err) {
        if (err.status === 401 || err.status === 403 || err.status === 404) forgetConversation();
      }
      connect();
    }
    state.started = true;
    flush();
  }

  // A small API for the host page (docs/widget.md): open, close, setLanguage, and events
  // (opened, closed, message, handoff) through addEventListener or on(type, callback).
  function setLanguage(lang) {
    const next = langOf(lang);
    if (next === LANG) return;
    LANG = next;
    applyTexts();
  }
  window.RelaisWidget = {
    open: () => toggle(true), close: () => toggle(false), setLanguage,
    addEventListener: (type, fn, options) => events.addEventListener(type, fn, options),
    removeEventListener: (type, fn, options) => events.removeEventListener(type, fn, options),
    on(type, callback) {
      const listener = (e) => callback(e.detail);
      events.addEventListener(type, listener);
      return () => events.removeEventListener(type, listener);
    },
  };

  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start);
})();
