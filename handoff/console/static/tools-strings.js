/* Relais console tools — the French and English texts of canned.js, notes.js, notify.js and
 * shortcuts.js (data, not literals in code). Loaded after console.js, before the tools. */
"use strict";

window.RelaisToolsStrings = Object.freeze({
  en: {
    cannedList: "Canned responses", cannedCount: "{n} canned responses: ↑ ↓ to choose, Enter or Tab to insert, Escape to close.",
    cannedNone: "No canned response for “{q}”.",
    notesTitle: "Internal notes", notesHint: "Agents only: the visitor never sees these.", notesEmpty: "No note yet.",
    noteInput: "New internal note", notePlaceholder: "A note for your colleagues (never shown to the visitor)", addNote: "Add note",
    noteTransfer: "Transfer note", noteBy: "{name}", noteFailed: "The note was not saved: {m}",
    notifyOn: "Desktop notifications: on", notifyOff: "Turn on desktop notifications", notifyDenied: "Desktop notifications are blocked by the browser",
    notifyOffer: "New request", notifyOfferBody: "{lang} · {topic}", notifyMessage: "New message from a visitor", noTopic: "no topic",
    shortcutsButton: "Keyboard shortcuts", shortcutsTitle: "Keyboard shortcuts", shortcutsClose: "Close",
    keyAccept: "Accept the oldest incoming request", keyNext: "Next conversation", keyClose: "Close the conversation (then Enter to confirm)",
    keyTransfer: "Transfer the conversation (choose, then Enter)", keyCanned: "In the message box: a canned response", keyHelp: "This help",
    keyEscape: "Close this help or the list of canned responses",
    keyNote: "Write an internal note",
    manageTitle: "Canned responses", manageLanguage: "Language", manageBrand: "Brand", manageShortcut: "Shortcut (after /)",
    manageTitleField: "Title", manageText: "Text", manageAdd: "Add", manageDelete: "Delete /{s} ({l})", manageEmpty: "No canned response yet.",
    manageAdded: "/{s} added.", manageDeleted: "/{s} deleted.", manageError: "Not saved: {m}",
  },
  fr: {
    cannedList: "Réponses types", cannedCount: "{n} réponses types : ↑ ↓ pour choisir, Entrée ou Tab pour insérer, Échap pour fermer.",
    cannedNone: "Aucune réponse type pour « {q} ».",
    notesTitle: "Notes internes", notesHint: "Réservées aux agents : le visiteur ne les voit jamais.", notesEmpty: "Aucune note pour l'instant.",
    noteInput: "Nouvelle note interne", notePlaceholder: "Une note pour vos collègues (jamais montrée au visiteur)", addNote: "Ajouter la note",
    noteTransfer: "Note de transfert", noteBy: "{name}", noteFailed: "La note n'a pas été enregistrée : {m}",
    notifyOn: "Notifications du bureau : activées", notifyOff: "Activer les notifications du bureau", notifyDenied: "Le navigateur bloque les notifications du bureau",
    notifyOffer: "Nouvelle demande", notifyOfferBody: "{lang} · {topic}", notifyMessage: "Nouveau message d'un visiteur", noTopic: "sans sujet",
    shortcutsButton: "Raccourcis clavier", shortcutsTitle: "Raccourcis clavier", shortcutsClose: "Fermer",
    keyAccept: "Accepter la plus ancienne demande entrante", keyNext: "Conversation suivante", keyClose: "Clore la conversation (puis Entrée pour confirmer)",
    keyTransfer: "Transférer la conversation (choisir, puis Entrée)", keyCanned: "Dans la zone de message : une réponse type", keyHelp: "Cette aide",
    keyEscape: "Fermer cette aide ou la liste des réponses types",
    keyNote: "Écrire une note interne",
    manageTitle: "Réponses types", manageLanguage: "Langue", manageBrand: "Marque", manageShortcut: "Raccourci (après /)",
    manageTitleField: "Titre", manageText: "Texte", manageAdd: "Ajouter", manageDelete: "Supprimer /{s} ({l})", manageEmpty: "Aucune réponse type pour l'instant.",
    manageAdded: "/{s} ajoutée.", manageDeleted: "/{s} supprimée.", manageError: "Non enregistrée : {m}",
  },
});

// t() for the tools, in the console's current language.
window.relaisToolsText = (key, vars = {}) => {
  const strings = window.RelaisToolsStrings;
  const lang = (window.RelaisConsole && window.RelaisConsole.lang) || "en";
  return ((strings[lang] || strings.en)[key] || strings.en[key] || key).replace(/\{(\w+)\}/g, (_, k) => String(vars[k] ?? ""));
};
