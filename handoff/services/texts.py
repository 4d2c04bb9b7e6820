"""What the service itself says to visitors (system messages), in French and English."""

from __future__ import annotations

import re
from typing import Any

from handoff.domain import AgentRole, Pool

_TEXTS: dict[str, dict[str, str]] = {
    "queued": {
        "en": "I'm finding {who} for you. You are number {position} in line.",
        "fr": "Je cherche {who} pour vous. Vous êtes en position {position} dans la file.",
    },
    "queue_moved": {
        "en": "You are now number {position} in line.",
        "fr": "Vous êtes maintenant en position {position} dans la file.",
    },
    "assigned_ambassador": {
        # The widget's notice says that community members are volunteers, not staff, for as long as one answers.
        "en": "{name}, a member of our community, has joined.",
        "fr": "{name}, membre de notre communauté, a rejoint la conversation.",
    },
    "assigned_advisor": {
        "en": "{name}, web advisor, has joined the conversation.",
        "fr": "{name}, conseiller web, a rejoint la conversation.",
    },
    "no_agent": {
        "en": "Nobody is available to answer right now. Leave your email and your question and we will get back to you.",
        "fr": "Personne n'est disponible pour le moment. Laissez votre e-mail et votre question, nous vous répondrons.",
    },
    "offline_received": {
        "en": "Thank you, your message has been saved. We will answer you at {email}.",
        "fr": "Merci, votre message est bien enregistré. Nous vous répondrons à {email}.",
    },
    "offline_answer_subject": {
        "en": "Answer to your message",
        "fr": "Réponse à votre message",
    },
    "offline_answer_body": {
        "en": "Hello,\n\n{answer}\n\n{name}\n\n---\nYour message:\n{question}\n",
        "fr": "Bonjour,\n\n{answer}\n\n{name}\n\n---\nVotre message :\n{question}\n",
    },
    "bot_unavailable": {
        "en": "Our assistant is unavailable at the moment. Your message is saved. Would you like to talk to a person?",
        "fr": "Notre assistant est momentanément indisponible. Votre message est bien enregistré. Voulez-vous parler à une personne ?",
    },
    "bot_off": {
        "en": "Our assistant is switched off for now: a person will answer you.",
        "fr": "Notre assistant est désactivé pour le moment : une personne va vous répondre.",
    },
    "intent_off": {
        "en": "A person will answer this question rather than our assistant.",
        "fr": "Une personne va répondre à cette question plutôt que notre assistant.",
    },
    "transferred": {
        "en": "Your conversation is being passed to {who}. One moment please.",
        "fr": "Votre conversation est transmise à {who}. Un instant, s'il vous plaît.",
    },
    "requeued": {
        "en": "Your correspondent was disconnected. I'm finding someone else for you.",
        "fr": "Votre interlocuteur a été déconnecté. Je cherche quelqu'un d'autre pour vous.",
    },
    "waited_too_long": {
        "en": "Sorry for the wait: everyone is busy. You keep your place in line, or leave your email and your question and we will get back to you.",
        "fr": "Désolé pour l'attente : tout le monde est occupé. Vous gardez votre place dans la file, ou laissez votre e-mail et votre question, nous vous répondrons.",
    },
    "closed": {
        "en": "The conversation with {name} has ended. How was it? The assistant is here again if you need anything.",
        "fr": "La conversation avec {name} est terminée. Qu'en avez-vous pensé ? L'assistant est de nouveau là si besoin.",
    },
}

_WHO = {
    Pool.AMBASSADOR: {"en": "a member of our community", "fr": "un membre de notre communauté"},
    Pool.ADVISOR: {"en": "a web advisor", "fr": "un conseiller web"},
}


# Words by which a visitor names the pool they want ("I want to talk to an advisor").
_POOL_WORDS = {
    Pool.ADVISOR: {
        "en": ("advisor", "adviser", "customer service", "employee", "staff"),
        "fr": ("conseiller", "conseillère", "conseillere", "service client", "salarié", "employé"),
    },
    Pool.AMBASSADOR: {
        "en": ("community", "ambassador", "member"),
        "fr": ("communauté", "communaute", "ambassadeur", "ambassadrice", "membre"),
    },
}


def named_pool(text: str, language: str) -> Pool | None:
    """The pool a visitor's message names, when it names exactly one."""
    words = " " + re.sub(r"[^\w]+", " ", text.lower()) + " "
    named = [
        pool
        for pool, variants in _POOL_WORDS.items()
        if any(f" {word} " in words or f" {word}s " in words for word in variants.get(language, variants["en"]))
    ]
    return named[0] if len(named) == 1 else None


def say(key: str, language: str, **values: Any) -> str:
    """The system text `key` in `language` (English when the language is unknown)."""
    variants = _TEXTS[key]
    return variants.get(language, variants["en"]).format(**values)


def who(pool: Pool, language: str) -> str:
    return _WHO[pool].get(language, _WHO[pool]["en"])


def assigned_text(role: AgentRole, name: str, language: str) -> str:
    key = "assigned_ambassador" if role is AgentRole.AMBASSADOR else "assigned_advisor"
    return say(key, language, name=name)
