"""The visitor's language: metadata, normalisation, and the word-list heuristic."""

from __future__ import annotations

import pytest

from bot.actions.language import (
    detect_language,
    language_from_metadata,
    normalise_language,
    strip_accents,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("combien coûte la livraison ?", "fr"),
        ("merci", "fr"),
        ("salut, le store banne tient le vent ?", "fr"),
        ("ma commande n'est pas arrivee", "fr"),
        ("bonjour", "fr"),
        ("réfrigérateur", "fr"),  # an accent alone is a French signal
        ("how long does shipping take?", "en"),
        ("thanks", "en"),
        ("hello there", "en"),
        ("my parcel is late", "en"),
        ("which awning for my van?", "en"),
    ],
)
def test_clear_messages_are_detected(text: str, expected: str) -> None:
    assert detect_language(text) == expected


@pytest.mark.parametrize("text", ["", None, "ok", "😀😀", "F45", "12345", "store", "<script>"])
def test_unclear_messages_give_no_language(text: str | None) -> None:
    assert detect_language(text) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("fr", "fr"), ("FR", "fr"), ("fr-CA", "fr"), ("en_GB", "en"), (" en ", "en"),
     ("es", None), ("", None), (None, None), (42, None)],
)
def test_language_codes_are_normalised(value: object, expected: str | None) -> None:
    assert normalise_language(value) == expected


def test_metadata_language() -> None:
    assert language_from_metadata({"language": "fr", "page_url": "https://shop.example/"}) == "fr"
    assert language_from_metadata({"language": "de"}) is None
    assert language_from_metadata({}) is None
    assert language_from_metadata(None) is None


def test_strip_accents() -> None:
    assert strip_accents("Réfrigérateur à Compression") == "refrigerateur a compression"
