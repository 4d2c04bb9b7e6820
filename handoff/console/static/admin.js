/* Relais administration — the admins' page: agents (list, create, change, reset a
 * password, remove) and the effective settings (read-only). Plain ES2020.
 *
 * It uses the console's session (the token the console keeps in sessionStorage):
 * log in on /console first. Everything it does goes through the admin API
 * (/api/admin/…), which answers 403 to anyone but an admin. Remote text is always
 * rendered with textContent.
 */
"use strict";

(() => {
  // ------------------------------------------------------------ i18n
  const STRINGS = {
    en: {
      title: "Relais administration", backToConsole: "Back to the console", language: "Language",
      agents: "Agents", username: "Username", displayName: "Display name", role: "Role", languages: "Languages",
      skills: "Skills", skillsHint: "e.g. awning, solar", capacity: "Capacity", active: "Active", actions: "Actions",
      ambassador: "ambassador", advisor: "advisor", admin: "admin",
      save: "Save", newPassword: "New password", setPassword: "Set password", remove: "Remove",
      confirmRemove: "Confirm removal", saved: "Saved.", passwordSet: "Password set; {name} must log in again.",
      removed: "{name} removed.", created: "{name} created.", noChange: "Nothing to save.",
      newAgent: "New agent", initialPassword: "Initial password", create: "Create",
      settings: "Settings", settingsIntro: "The effective configuration (file and environment), read-only; secrets are hidden.",
      notLoggedIn: "You are not logged in: log in on the console first, then come back.",
      forbidden: "This page is for admins: your account cannot manage agents or see the settings.",
      lastAdmin: "Refused: this is the last active admin. Make another agent admin first.",
      invalid: "Check “{field}”: {m}", invalidNoField: "Refused: {m}", conflict: "Refused: {m}",
      notFound: "This agent no longer exists; the list was reloaded.", tooMany: "Too many requests: try again in {s} s.",
      network: "The service cannot be reached; try again.", error: "Something went wrong: {m}",
      pickLanguage: "Pick at least one language.", passwordShort: "The password must be at least 8 characters.",
      field_username: "username", field_display_name: "display name", field_role: "role", field_languages: "languages",
      field_skills: "skills", field_capacity: "capacity", field_password: "password", field_active: "active",
    },
    fr: {
      title: "Administration Relais", backToConsole: "Retour à la console", language: "Langue",
      agents: "Agents", username: "Identifiant", displayName: "Nom affiché", role: "Rôle", languages: "Langues",
      skills: "Compétences", skillsHint: "ex. awning, solar", capacity: "Capacité", active: "Actif", actions: "Actions",
      ambassador: "ambassadeur", advisor: "conseiller", admin: "admin",
      save: "Enregistrer", newPassword: "Nouveau mot de passe", setPassword: "Changer le mot de passe", remove: "Supprimer",
      confirmRemove: "Confirmer la suppression", saved: "Enregistré.", passwordSet: "Mot de passe changé ; {name} doit se reconnecter.",
      removed: "{name} supprimé.", created: "{name} créé.", noChange: "Rien à enregistrer.",
      newAgent: "Nouvel agent", initialPassword: "Mot de passe initial", create: "Créer",
      settings: "Réglages", settingsIntro: "La configuration en vigueur (fichier et environnement), en lecture seule ; les secrets sont masqués.",
      notLoggedIn: "Vous n'êtes pas connecté : connectez-vous d'abord sur la console, puis revenez.",
      forbidden: "Cette page est réservée aux admins : votre compte ne peut ni gérer les agents ni voir les réglages.",
      lastAdmin: "Refusé : c'est le dernier admin actif. Nommez d'abord un autre agent admin.",
      invalid: "Vérifiez « {field} » : {m}", invalidNoField: "Refusé : {m}", conflict: "Refusé : {m}",
      notFound: "Cet agent n'existe plus ; la liste a été rechargée.", tooMany: "Trop de requêtes : réessayez dans {s} s.",
      network: "Le service est injoignable ; réessayez.", error: "Un problème est survenu : {m}",
      pickLanguage: "Choisissez au moins une langue.", passwordShort: "Le mot de passe doit faire au moins 8 caractères.",
      field_username: "identifiant", field_display_name: "nom affiché", field_role: "rôle", field_languages: "langues",
      field_skills: "compétences", field_capacity: "capacité", field_password: "mot de passe", field_active: "actif",
    },
  };
  const ROLES = ["ambassador", "advisor", "admin"];
  const LANGS = ["fr", "en"];
  const storedLang = localStorage.getItem("relais.console.lang");
  let lang = storedLang || ((navigator.language || "en").toLowerCase().startsWith("fr") ? "fr" : "en");
  const t = (key, vars = {}) => (STRINGS[lang][key] || STRINGS.en[key] || key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));

  const $ = (id) => document.getElementById(id);
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k === "value") node.value = v;
      else if (k === "checked") node.checked = true;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) if (child !== null && child !== undefined) node.append(child);
    return node;
  }

  const state = { token: sessionStorage.getItem("relais.console.token"), me: null, agents: [], settings: null };

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
    if (response.status === 204) return null;
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = (data && data.error) || {};
      throw Object.assign(new Error(error.message || response.statusText), {
        status: response.status, code: error.code, field: error.details && error.details.field,
        retryAfter: Number(response.headers.get("Retry-After")) || 0,
      });
    }
    return data;
  }

  /** A clear sentence for a failed call; 401 and 403 end the page (the session is over or not an admin's). */
  function explain(err) {
    if (err.status === 401) { showPageError("notLoggedIn"); return ""; }
    if (err.status === 403) { showPageError("forbidden"); return ""; }
    if (err.status === 0) return t("network");
    if (err.status === 404) { loadAgents(); return t("notFound"); }
    if (err.status === 409 && /last active admin/.test(err.message)) return t("lastAdmin");
    if (err.status === 409) return t("conflict", { m: err.message });
    if (err.status === 429) return t("tooMany", { s: err.retryAfter });
    if (err.status === 400 && err.field) return t("invalid", { field: t("field_" + err.field), m: err.message });
    if (err.status === 400) return t("invalidNoField", { m: err.message });
    return t("error", { m: err.message });
  }

  function showPageError(key) {
    $("page-error").dataset.key = key;
    $("page-error").textContent = t(key);
    $("admin-view").hidden = true;
  }

  const csv = (text) => text.split(",").map((s) => s.trim()).filter(Boolean);

  // ------------------------------------------------------------ rendering
  function roleSelect(value, label) {
    const select = el("select", { "aria-label": label });
    for (const role of ROLES) select.append(el("option", { value: role, text: t(role) }));
    select.value = value;
    return select;
  }

  function renderAgents() {
    const rows = $("agent-rows");
    rows.replaceChildren();
    for (const agent of state.agents) rows.append(agentRow(agent));
  }

  function agentRow(agent) {
    const who = agent.username;
    const name = el("input", { class: "name", value: agent.display_name, maxlength: "100", "aria-label": `${t("displayName")} (${who})` });
    const role = roleSelect(agent.role, `${t("role")} (${who})`);
    const langs = LANGS.map((code) => el("input", {
      type: "checkbox", value: code, checked: agent.languages.includes(code), "aria-label": `${code.toUpperCase()} (${who})`,
    }));
    const skills = el("input", { class: "skills", value: agent.skills.join(", "), maxlength: "500", "aria-label": `${t("skills")} (${who})` });
    const capacity = el("input", { type: "number", min: "1", max: "50", value: String(agent.capacity), "aria-label": `${t("capacity")} (${who})` });
    const active = el("input", { type: "checkbox", checked: agent.active, "aria-label": `${t("active")} (${who})` });
    const status = el("p", { class: "row-status", role: "status" });
    const error = el("p", { class: "error row-error", role: "alert" });
    const password = el("input", { type: "password", minlength: "8", maxlength: "256", autocomplete: "new-password",
      "aria-label": `${t("newPassword")} (${who})`, placeholder: t("newPassword") });
    const say = (message, isError = false) => {
      status.textContent = isError ? "" : message;
      error.textContent = isError ? message : "";
    };

    const save = el("button", { type: "button", class: "primary", "data-action": "save", text: t("save"), onclick: async () => {
      const changes = {};
      if (name.value.trim() !== agent.display_name) changes.display_name = name.value;
      if (role.value !== agent.role) changes.role = role.value;
      const chosen = langs.filter((box) => box.checked).map((box) => box.value).sort();
      if (!chosen.length) { say(t("pickLanguage"), true); return; }
      if (chosen.join() !== [...agent.languages].sort().join()) changes.languages = chosen;
      const newSkills = csv(skills.value);
      if (newSkills.join() !== agent.skills.join()) changes.skills = newSkills;
      if (Number(capacity.value) !== agent.capacity) changes.capacity = Number(capacity.value);
      if (active.checked !== agent.active) changes.active = active.checked;
      if (!Object.keys(changes).length) { say(t("noChange")); return; }
      try {
        const body = await api("PATCH", `/api/admin/agents/${encodeURIComponent(agent.id)}`, changes);
        replaceAgent(body.agent);
        focusRow(agent.id, "save", t("saved"));
      } catch (err) { say(explain(err), true); }
    } });

    const setPassword = el("button", { type: "button", class: "ghost", "data-action": "password", text: t("setPassword"), onclick: async () => {
      if (password.value.length < 8) { say(t("passwordShort"), true); return; }
      try {
        await api("PUT", `/api/admin/agents/${encodeURIComponent(agent.id)}/password`, { password: password.value });
        password.value = "";
        say(t("passwordSet", { name: agent.display_name }));
      } catch (err) { say(explain(err), true); }
    } });

    let armed = false;
    const remove = el("button", { type: "button", class: "danger", "data-action": "remove", text: t("remove"), onclick: async () => {
      if (!armed) { armed = true; remove.textContent = t("confirmRemove"); return; } // two steps, no dialog
      try {
        await api("DELETE", `/api/admin/agents/${encodeURIComponent(agent.id)}`);
        state.agents = state.agents.filter((a) => a.id !== agent.id);
        renderAgents();
        $("create-status").textContent = t("removed", { name: agent.username });
      } catch (err) { armed = false; remove.textContent = t("remove"); say(explain(err), true); }
    } });

    return el("tr", { "data-agent": who, "data-agent-id": agent.id, class: agent.active ? null : "inactive" },
      el("th", { scope: "row", text: who }),
      el("td", {}, name),
      el("td", {}, role),
      el("td", {}, ...langs.map((box) => el("label", { class: "inline" }, box, box.value.toUpperCase()))),
      el("td", {}, skills),
      el("td", {}, capacity),
      el("td", {}, active),
      el("td", {}, el("div", { class: "actions" },
        el("div", {}, save, " ", remove),
        el("div", { class: "pw" }, password, setPassword),
        status, error)));
  }

  function replaceAgent(updated) {
    state.agents = state.agents.map((a) => (a.id === updated.id ? updated : a));
    renderAgents();
  }

  function focusRow(agentId, action, message) {
    const row = document.querySelector(`tr[data-agent-id="${CSS.escape(agentId)}"]`);
    if (!row) return;
    row.querySelector(".row-status").textContent = message;
    row.querySelector(`[data-action="${action}"]`)?.focus();
  }

  function renderSettings() {
    $("settings").textContent = state.settings ? JSON.stringify(state.settings, null, 2) : "";
  }

  function applyLanguage() {
    document.documentElement.lang = lang;
    document.querySelectorAll("[data-i18n]").forEach((node) => { node.textContent = t(node.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((node) => { node.placeholder = t(node.dataset.i18nPlaceholder); });
    document.querySelectorAll(".lang-select").forEach((select) => { select.value = lang; });
    document.title = t("title");
    const roles = $("new-role");
    const chosen = roles.value || "ambassador";
    roles.replaceChildren(...ROLES.map((role) => el("option", { value: role, text: t(role) })));
    roles.value = chosen;
    if ($("page-error").dataset.key) $("page-error").textContent = t($("page-error").dataset.key);
    if (state.me) $("me").textContent = `${state.me.display_name} · ${t(state.me.role)}`;
    renderAgents();
  }

  document.querySelectorAll(".lang-select").forEach((select) => select.addEventListener("change", () => {
    lang = select.value;
    localStorage.setItem("relais.console.lang", lang);
    applyLanguage();
  }));

  // ------------------------------------------------------------ creating
  $("create-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    $("create-status").textContent = "";
    $("create-error").textContent = "";
    const languages = [...document.querySelectorAll('input[name="new-lang"]:checked')].map((box) => box.value);
    if (!languages.length) { $("create-error").textContent = t("pickLanguage"); return; }
    const body = {
      username: $("new-username").value.trim(),
      role: $("new-role").value,
      languages,
      skills: csv($("new-skills").value),
      capacity: Number($("new-capacity").value),
      password: $("new-password").value,
    };
    if ($("new-display-name").value.trim()) body.display_name = $("new-display-name").value;
    try {
      const created = await api("POST", "/api/admin/agents", body);
      state.agents = [...state.agents, created.agent].sort((a, b) => a.username.localeCompare(b.username));
      renderAgents();
      $("create-form").reset();
      $("create-status").textContent = t("created", { name: created.agent.username });
      $("new-username").focus();
    } catch (err) {
      $("create-error").textContent = explain(err);
    }
  });

  // ------------------------------------------------------------ start-up
  async function loadAgents() {
    try {
      state.agents = (await api("GET", "/api/admin/agents")).agents;
      renderAgents();
    } catch (err) {
      const message = explain(err);
      if (message) $("create-error").textContent = message;
    }
  }

  async function boot() {
    applyLanguage();
    if (!state.token) { showPageError("notLoggedIn"); return; }
    try {
      state.me = (await api("GET", "/api/agents/me")).agent;
      const [agents, settings] = await Promise.all([api("GET", "/api/admin/agents"), api("GET", "/api/admin/settings")]);
      state.agents = agents.agents;
      state.settings = settings.settings;
    } catch (err) {
      const message = explain(err);
      if (message) $("page-error").textContent = message;
      return;
    }
    $("admin-view").hidden = false;
    renderSettings();
    applyLanguage();
  }

  boot();
})();
