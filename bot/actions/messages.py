"""What the visitor reads when the bot hands the conversation to a person.

`action_handoff` sends one of these texts, in the language of the handoff signal,
just before the signal itself (docs/handoff-protocol.md). They live here rather
than in bot/domain.yml because no rule or story ever predicts them: only the
action sends them, and Rasa's data validation reports every domain response
that no rule or story uses. Every other text of the bot is in bot/domain.yml.
"""

from __future__ import annotations

HANDOFF_TEXTS: dict[str, dict[str, str]] = {
    "ambassador": {
        "fr": (
            "Je vous mets en relation avec un membre de la communauté Évasion Van : "
            "un client passionné qui conseille bénévolement les autres voyageurs "
            "(ce n'est pas un salarié de la boutique). "
            "Un instant, je cherche quelqu'un de disponible…"
        ),
        "en": (
            "I'm putting you in touch with a member of the Évasion Van community: "
            "an experienced customer who volunteers to advise other travellers "
            "(not an employee of the shop). One moment while I find someone available…"
        ),
    },
    "advisor": {
        "fr": (
            "Je vous mets en relation avec un conseiller du service client Évasion Van. "
            "Un instant, je cherche quelqu'un de disponible…"
        ),
        "en": (
            "I'm putting you in touch with an Évasion Van customer service advisor. "
            "One moment while I find someone available…"
        ),
    },
}


def handoff_text(pool: str, language: str) -> str:
    """The text announcing a person of `pool`, in `language` (English if unknown)."""
    texts = HANDOFF_TEXTS[pool]
    return texts.get(language, texts["en"])
