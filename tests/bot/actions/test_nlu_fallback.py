"""The fallback component: messages without words fall back, others as in Rasa."""

from __future__ import annotations

from typing import Any

import pytest
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.fallback import NoWordsFallbackClassifier, has_words


def classifier(tmp_path: Any) -> NoWordsFallbackClassifier:
    config = {**NoWordsFallbackClassifier.get_default_config(), "threshold": 0.5, "ambiguity_threshold": 0.1}
    return NoWordsFallbackClassifier.create(
        config, LocalModelStorage(tmp_path), Resource("fallback"), ExecutionContext({}, "test")
    )


def message(text: str, confidence: float, second: float = 0.0) -> Message:
    ranking = [{"name": "affirm", "confidence": confidence}, {"name": "greet", "confidence": second}]
    return Message(data={"text": text, "intent": ranking[0], "intent_ranking": ranking})


@pytest.mark.parametrize("text", ["", "   ", "😀😀", "🙃", "?!", "...", "👍👍👍", "\u202e", "a" * 10_000, "x" * 31 + " !"])
def test_messages_without_words_fall_back(tmp_path: Any, text: str) -> None:
    [result] = classifier(tmp_path).process([message(text, confidence=0.99)])
    assert result.get("intent")["name"] == "nlu_fallback"


@pytest.mark.parametrize("text", ["oui", "ok", "F45", "12", "ça", "да"])
def test_confident_messages_with_words_keep_their_intent(tmp_path: Any, text: str) -> None:
    [result] = classifier(tmp_path).process([message(text, confidence=0.9)])
    assert result.get("intent")["name"] == "affirm"


def test_low_confidence_still_falls_back(tmp_path: Any) -> None:
    [result] = classifier(tmp_path).process([message("hmm peut-être", confidence=0.3)])
    assert result.get("intent")["name"] == "nlu_fallback"


def test_has_words() -> None:
    assert has_words("a") and has_words("9") and has_words("é")
    assert has_words("anticonstitutionnellement") and has_words("z" * 40 + " ok")
    assert has_words("https://shop.example/stores-bannes") and has_words("😀 merci")
    assert not has_words("😀 !") and not has_words(None) and not has_words("a" * 31)
