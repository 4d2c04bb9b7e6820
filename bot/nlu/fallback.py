"""Rasa's FallbackClassifier, plus: a message without any word is a fallback.

A message made only of emoji, punctuation or spaces ("😀😀", "?!", "") has no
token the featurizers know, so DIET answers with whatever intent its biases
favour, sometimes above the confidence threshold (an emoji taken for `affirm`).
The same goes for a message whose only "words" are runs of letters longer than
any word (10,000 times "a": its character n-grams look like "a+", a goodbye).
This component gives such messages `nlu_fallback`, so the bot asks the visitor to
rephrase — and an emoji can never accept the offer of a human by accident.
Everything else behaves exactly as Rasa's FallbackClassifier (threshold,
ambiguity_threshold).

Used in config.yml as `bot.nlu.fallback.NoWordsFallbackClassifier`; Rasa imports
it because it runs from the repository root (the directory is put on sys.path).
"""

from __future__ import annotations

import re

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.fallback_classifier import FallbackClassifier
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

# The longest words of both languages have about 25 letters
# ("anticonstitutionnellement"); a longer run of letters is not a word.
MAX_WORD_LENGTH = 30
# a run of 1..MAX_WORD_LENGTH letters or digits (any script), not inside a longer one
_WORD = re.compile(rf"(?<![^\W_])[^\W_]{{1,{MAX_WORD_LENGTH}}}(?![^\W_])", re.UNICODE)


def has_words(text: object) -> bool:
    """True when the text holds at least one word: letters or digits, not too long."""
    return isinstance(text, str) and _WORD.search(text) is not None


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class NoWordsFallbackClassifier(FallbackClassifier):
    """FallbackClassifier that also falls back on messages without any word."""

    def _should_fallback(self, message: Message) -> bool:
        if not has_words(message.get(TEXT)):
            return True
        return super()._should_fallback(message)
