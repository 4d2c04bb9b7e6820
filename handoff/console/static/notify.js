/* Relais console — desktop notifications and a sound for new requests and visitors'
 * messages while the console's tab is hidden. Permission is asked only from the
 * button's click (a user gesture), as browsers require; the choice is remembered. */
"use strict";

(() => {
  const ui = window.RelaisConsole;
  if (!ui) return;
  const t = window.relaisToolsText;
  const KEY = "relais.console.notifications";
  const supported = "Notification" in window;
  let audio = null;

  const button = ui.el("button", { type: "button", id: "notify-toggle", class: "ghost notify-toggle", "aria-pressed": "false" });
  document.getElementById("logout").insertAdjacentElement("beforebegin", button);

  const wanted = () => localStorage.getItem(KEY) === "on";
  const allowed = () => supported && Notification.permission === "granted";

  function render() {
    button.hidden = !supported;
    const on = wanted() && allowed();
    button.setAttribute("aria-pressed", String(on));
    button.textContent = supported && Notification.permission === "denied" ? t("notifyDenied") : on ? t("notifyOn") : t("notifyOff");
    button.disabled = supported && Notification.permission === "denied";
  }

  button.addEventListener("click", async () => {
    unlockAudio();
    if (wanted() && allowed()) { localStorage.setItem(KEY, "off"); render(); return; }
    const permission = Notification.permission === "default" ? await Notification.requestPermission() : Notification.permission;
    localStorage.setItem(KEY, permission === "granted" ? "on" : "off");
    render();
  });

  // Browsers play sound only after a user gesture: any key or click in the console unlocks it.
  function unlockAudio() {
    if (!audio && window.AudioContext) audio = new AudioContext();
    if (audio && audio.state === "suspended") audio.resume().catch(() => {});
  }
  document.addEventListener("keydown", unlockAudio, { once: true });
  document.addEventListener("pointerdown", unlockAudio, { once: true });

  function chime(frequencies) {
    if (!audio) return;
    frequencies.forEach((frequency, i) => {
      const start = audio.currentTime + i * 0.18;
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.12, start);
      gain.gain.exponentialRampToValueAtTime(0.001, start + 0.16);
      osc.connect(gain).connect(audio.destination);
      osc.start(start);
      osc.stop(start + 0.16);
    });
  }

  function show(title, body, conversationId) {
    if (!wanted() || !allowed()) return;
    try {
      const notification = new Notification(title, { body, tag: "relais-" + conversationId, lang: ui.lang });
      notification.onclick = () => { window.focus(); if (ui.chatIds().includes(conversationId)) ui.select(conversationId); notification.close(); };
    } catch { /* some platforms only allow notifications from a service worker */ }
  }

  // Only when the tab is hidden: an agent who looks at the console sees the card or the message.
  ui.on("offer", (offer) => {
    if (!document.hidden) return;
    chime([660, 880]);
    show(t("notifyOffer"), t("notifyOfferBody", { lang: (offer.language || "?").toUpperCase(), topic: offer.skill || t("noTopic") }),
      offer.conversation_id);
  });
  ui.on("message", (message) => {
    if (!document.hidden) return;
    chime([880]);
    show(t("notifyMessage"), message.text.slice(0, 140), message.conversation_id);
  });
  ui.on("language", render);
  render();
})();
